"""Fast path: the EMA teacher's forward under autocast (``common.amp``, GPU) from weights already in
the autocast dtype, with the fp32 master copy (``EMAModule.fp32_params``) kept for the EMA update.

Under autocast an fp32 teacher's Linear and Conv weights are cast to fp16/bf16 by every op of every
forward (autocast caches casts only for tensors that require grad, which a teacher's do not), and
its fp32 weights are what the forward reads from memory. Here each Linear/Conv module of the
teacher holds its ``weight`` and ``bias`` in the autocast dtype while autocast is on (cast once,
then refreshed from the fp32 master by the EMA update itself, which loads the master into the
teacher every step), and takes them back from the master when a forward runs without autocast.
Only the tensors autocast would cast anyway change dtype (LayerNorm, embeddings, positional
tensors and anything under weight normalisation stay fp32), so the teacher's outputs are bitwise
those of upstream's path; the master copy and the EMA arithmetic are untouched.

Teachers without an fp32 master (``ema_fp32=False``) and teachers already in fp16/bf16 (fairseq's
``common.fp16`` / ``common.bf16`` cast the whole model) are left as they are.
"""
import torch

CASTABLE = (torch.nn.Linear, torch.nn.Conv1d, torch.nn.Conv2d, torch.nn.Conv3d)


def attach(ema, active):
    """Register forward pre-hooks on the teacher of ``ema`` (an ``EMAModule``): on the teacher itself,
    or on each block when the teacher is a ``ModuleList`` of blocks (data2vec 2.0's encoder-only EMA);
    before each forward they put the Linear/Conv tensors under it in the dtype the forward needs.
    ``active()`` says whether the fast path is switched on. Returns the hook handles."""
    if not ema.config.ema_fp32:
        return []
    entries = {}
    for name, mod in ema.model.named_modules():
        if type(mod) not in CASTABLE or not isinstance(getattr(mod, "weight", None), torch.nn.Parameter):
            continue
        keys = {attr: f"{name}.{attr}" if name else attr for attr in ("weight", "bias")
                if isinstance(getattr(mod, attr, None), torch.nn.Parameter)}
        if all(k in ema.fp32_params for k in keys.values()):  # not: tensors without a master
            entries[id(mod)] = (mod, keys, {"cast": None})
    roots = list(ema.model) if isinstance(ema.model, torch.nn.ModuleList) else [ema.model]
    handles = []
    for root in roots:
        # the tensors under this root: hooks sit on the roots because some modules' weights are read
        # without calling the module (fairseq's MultiheadAttention passes q/k/v_proj.weight to F.multi_head_attention_forward)
        under = [entries[id(m)] for m in root.modules() if id(m) in entries]
        if under:
            handles.append(root.register_forward_pre_hook(lambda module, args, _under=under: _match(ema, _under, active())))
    return handles


def _match(ema, entries, on):
    """Under autocast: fp32 Linear/Conv tensors to the autocast dtype (an fp16/bf16 teacher, e.g.
    after fairseq's ``common.fp16`` or data2vec 2.0's ``ema_same_dtype`` cast, is left alone).
    Without autocast: what this cast goes back to fp32, shared with the master as before."""
    device = entries[0][0].weight.device.type
    autocast = on and torch.is_autocast_enabled(device)
    want = torch.get_autocast_dtype(device) if autocast else None
    for module, keys, state in entries:
        dtype = module.weight.dtype
        if autocast and dtype == torch.float32:
            _load(ema, module, keys, want)
            state["cast"] = want
        elif not autocast and state["cast"] is not None:
            if dtype == state["cast"]:  # still ours (not re-cast by upstream since)
                _load(ema, module, keys, torch.float32)
            state["cast"] = None


def _load(ema, module, keys, dtype):
    for attr, key in keys.items():  # from the master: exact; fp32 shares it again, as upstream's teacher does
        master = ema.fp32_params[key]
        getattr(module, attr).data = master if dtype == master.dtype else master.to(dtype)
