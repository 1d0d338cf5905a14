"""Fast path: fairseq's ``EMAModule.step`` (the teacher update of data2vec v1 text / vision and 2.0)
with the same arithmetic, batched, and without reloading the whole state dict every step.

Upstream updates the teacher parameter by parameter in Python (``mul_(1 - lr)`` then
``add_(param, alpha=lr)``, ``lr = 1 - decay``: two passes over memory), then ``load_state_dict``-s
every tensor back into the teacher, which copies each tensor onto itself when the EMA tensors are
the teacher's own (an fp32 teacher: ``float()`` of an fp32 tensor is the tensor) and casts the fp32
copy in when they are not (an fp16 teacher). Here one ``torch._foreach_lerp_`` updates every decayed
tensor at once in a single pass (``ema + (1 - decay) * (student - ema)``: equal to upstream's to
float32 rounding, about 1e-7 relative), the copied keys (``skip_keys``, frozen parameters) and the
buffers are copied as before, and nothing is copied onto itself. Anything this does not cover
(``log_norms`` with apex's fused norm, parameters the EMA has not seen yet) takes upstream's path.
"""
import torch


def plan(ema, new_model):
    """(decayed EMA tensors, their student tensors, copied EMA tensors, their sources, the keys of
    both, the EMA tensors by key), or None when upstream's path must run (a parameter the EMA does
    not hold yet, apex norm logging)."""
    if ema.log_norms:
        return None
    params = ema.fp32_params if ema.config.ema_fp32 else ema.model.state_dict()
    decayed, students, copied, sources, keys = [], [], [], [], []
    for key, param in new_model.named_parameters():
        if not ema.add_missing_params and key not in params:
            continue
        if key not in params:
            return None  # upstream adds it (a first step); let it
        target = params[key]
        keys.append(key)
        if param.shape != target.shape:
            raise ValueError("incompatible tensor shapes between model param and ema param"
                             f"{param.shape} vs. {target.shape}")
        if "version" in key:
            keys.pop()  # upstream neither decays nor restores it
            continue
        if key in ema.skip_keys or not param.requires_grad:
            copied.append(target)
            sources.append(param.data.to(dtype=target.dtype))
        else:
            decayed.append(target)
            students.append(param.data.to(dtype=target.dtype))
    return decayed, students, copied, sources, keys, params


@torch.no_grad()
def foreach_ema_step(ema, new_model, upstream_step):
    """One EMA update of ``ema`` (an ``EMAModule``) towards ``new_model``; equal to ``upstream_step``."""
    p = plan(ema, new_model)
    if p is None:
        return upstream_step(ema, new_model)
    decayed, students, copied, sources, keys, params = p
    if decayed:  # ema + (1 - decay) * (student - ema): one pass over memory instead of mul_ then add_
        torch._foreach_lerp_(decayed, students, 1 - ema.decay)
    if copied:
        torch._foreach_copy_(copied, sources)
    # upstream's restore(): the updated tensors and the student's buffers are loaded into the teacher
    # (strict=False: keys the teacher lacks are ignored); without a separate fp32 copy the updated
    # tensors already are the teacher's, so only the buffers need copying
    own = ema.model.state_dict(keep_vars=True)
    pairs = [(own[k], params[k]) for k in keys if k in own] if ema.config.ema_fp32 else []
    pairs += [(own[k], b) for k, b in new_model.named_buffers() if k in own]
    pairs = [(t, v) for t, v in pairs if t.data_ptr() != v.data_ptr()]  # an fp32 teacher's copy is its own tensor
    if pairs:
        torch._foreach_copy_([t.data for t, _ in pairs], [v.to(t.dtype) for t, v in pairs])
