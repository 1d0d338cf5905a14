"""Tensor-by-tensor comparison of two checkpoints: the student, the EMA teacher (``_ema``), DINO's
center and teacher head (all under ``model``) and the optimizer state."""
import torch

from .kinds import load_state


def flat_tensors(obj, prefix=""):
    """{"path.to.tensor": tensor} for every tensor inside nested dicts / lists."""
    out = {}
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for k, v in items:
        if torch.is_tensor(v):
            out[f"{prefix}{k}"] = v
        elif isinstance(v, (dict, list, tuple)):
            out.update(flat_tensors(v, f"{prefix}{k}."))
    return out


def checkpoint_differences(path_a, path_b, parts=("model", "last_optimizer_state")):
    """{tensor path: max |a - b|} for every tensor of ``parts`` (keys missing on one side: inf)."""
    a, b = load_state(path_a), load_state(path_b)
    diffs = {}
    for part in parts:
        fa, fb = flat_tensors(a.get(part) or {}, f"{part}."), flat_tensors(b.get(part) or {}, f"{part}.")
        for k in set(fa) | set(fb):
            if k not in fa or k not in fb or fa[k].shape != fb[k].shape:
                diffs[k] = float("inf")
            elif fa[k].numel():
                diffs[k] = (fa[k].double() - fb[k].double()).abs().max().item()
    return diffs
