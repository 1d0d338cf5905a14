"""Distributed helpers: the teachers a model holds, and a check that every rank holds the same one.

``D2V_EXT_TEACHER_SYNC_CHECK=N`` makes every N-th update all-gather a checksum of each rank's
teacher (the EMA copies of data2vec v1 / 2.0 and DINO's teacher head and center) and stop with a
clear error if the ranks differ: the EMA is computed on every rank from the all-reduced student,
so a difference means the ranks trained differently (a rank-dependent step, a skipped update).
"""
import logging
import os

import torch
import torch.distributed as dist

logger = logging.getLogger("d2v_ext")
ENV = "D2V_EXT_TEACHER_SYNC_CHECK"


def unwrap(model):
    """The model inside fairseq's / torch's DDP wrappers."""
    while hasattr(model, "module") and isinstance(model.module, torch.nn.Module):
        model = model.module
    return model


def teacher_tensors(model):
    """{name: tensor} of every teacher-side state of ``model`` (EMA fp32 copies, DINO head and center)."""
    out = {}
    for where, obj in (("ema", model), ("encoder.ema", getattr(model, "encoder", None))):
        ema = getattr(obj, "ema", None) if obj is not None else None
        for k, v in (getattr(ema, "fp32_params", None) or {}).items():
            if torch.is_tensor(v):
                out[f"{where}.{k}"] = v
    dino = getattr(model, "dino", None)
    if dino is not None:
        out.update({f"dino.teacher_head.{k}": v for k, v in dino.teacher_head.state_dict().items()})
        out["dino.loss.center"] = dino.loss.center
    return out


def teacher_checksum(model):
    """One float64 number that changes when any teacher tensor changes (weighted sum of all values)."""
    total = torch.zeros((), dtype=torch.float64)
    for i, (_, v) in enumerate(sorted(teacher_tensors(model).items())):
        total += v.detach().double().sum().cpu() * (i + 1)
    return float(total)


def check_teacher_sync(model, update):
    """All-gather the teacher checksum; log it and raise if the ranks differ (collective: every rank calls it)."""
    local = torch.tensor([teacher_checksum(model)], dtype=torch.float64)
    gathered = [torch.zeros_like(local) for _ in range(dist.get_world_size())]
    dist.all_gather(gathered, local)
    values = [float(t) for t in gathered]
    if len(set(values)) > 1:
        raise RuntimeError(f"d2v_ext: the EMA teachers differ across ranks at update {update}: checksums {values}")
    if dist.get_rank() == 0:
        logger.info(f"d2v_ext teacher sync @ update {update}: {len(values)} ranks, checksum {values[0]!r}")


def sync_check_interval():
    return int(os.environ.get(ENV, "0") or 0)
