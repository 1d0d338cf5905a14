"""One benchmark: a recipe at a size, built as training builds it, timed for some steps with
upstream's paths and/or the fast paths (alternating step by step, so both see the same machine)."""
import torch

from .. import fast
from .build import build_trainer, compose_recipe
from .flops import step_flops
from .timing import PARTS, StepClock, batch_items, instrument, peak_memory_mb, summarise

# The recipes, the +tiny override of each, and what "base" means for it on one device.
RECIPES = {
    "text_v1": ("text_v1", "+tiny=text_v1", "text"),
    "text_v2": ("text_v2", "+tiny=text_v2", "text"),
    "vision_v1": ("vision_v1", "+tiny=vision_v1", "image"),
    "image_v2": ("image_v2", "+tiny=image_v2", "image"),
    "image_dino": ("image_dino_both", "+tiny=image_dino", "image"),
    "text_dino": ("text_dino", "+tiny=text_dino", "text"),
    "mae": ("mae", "+tiny=mae", "image"),
    "mlm": ("text_mlm", "+tiny=text_mlm", "text"),
}


def overrides(recipe, size, data, batch, cuda):
    """Hydra overrides: one process, the given data; base keeps the paper's model with a small batch."""
    name, tiny, kind = RECIPES[recipe]
    out = [f"task.data={data}", "distributed_training.distributed_world_size=1", "dataset.num_workers=0",
           "optimization.max_update=100000", "optimization.update_freq=[1]", "checkpoint.no_save=true",
           "common.log_interval=100000", "common.tensorboard_logdir=null"]
    if size == "tiny":
        out.insert(0, tiny)
    else:
        out.append(f"dataset.batch_size={batch}")
        if kind == "text":
            out.append(f"dataset.max_tokens={batch * 512}")
    if not cuda:
        out += ["common.fp16=false", "common.cpu=true"]
    return name, out


def run(recipe, size, data, steps=5, warmup=2, batch=2, modes=("fast",), extra=(), log=print, fast_names=None):
    """{mode: summary} for ``recipe`` at ``size`` ('tiny' or 'base'); modes 'upstream' and/or 'fast'
    (``fast_names``: the fast paths of the 'fast' mode, default ``fast.DEFAULT``)."""
    cuda = torch.cuda.is_available() and "common.cpu=true" not in extra
    name, ovr = overrides(recipe, size, data, batch, cuda)
    cfg = compose_recipe(name, ovr + list(extra))
    trainer, itr = build_trainer(cfg)
    clock = StepClock(cuda)
    names = {"upstream": [], "fast": list(fast.DEFAULT if fast_names is None else fast_names)}
    records = {m: [] for m in modes}
    first = {}
    remove = None
    flops = None
    for i in range(warmup + steps):
        for mode in modes:
            clock.parts.clear()
            with clock.part("data"):
                samples = next(itr)
            with fast.only(names[mode]):
                if i == warmup and flops is None:
                    flops = step_flops(trainer, samples)  # one extra (uncounted) step under the FLOP counter
                if remove is None and i >= 1:
                    remove = instrument(trainer, clock)
                t = clock.now()
                trainer.train_step(samples)
                total = clock.now() - t
            first.setdefault(mode, total)  # the first step: includes lazy set-up (and compiling, with compile)
            if i >= warmup:
                parts = dict(clock.parts)
                parts["student"] = total - sum(parts.get(p, 0.0) for p in ("teacher", "ema", "optimizer"))
                items, unit = batch_items(samples)
                records[mode].append({"step": total, "parts": parts, "items": items})
        if log:
            log(f"  {recipe} {size}: step {i + 1}/{warmup + steps}" + (" (warm-up)" if i < warmup else ""))
    if remove:
        remove()
    params = sum(p.numel() for p in trainer.model.parameters())
    out = {}
    for mode in modes:
        s = summarise(records[mode])
        s.update(first_step=first[mode], unit=unit, items_per_step=records[mode][0]["items"], params=params,
                 peak_mb=peak_memory_mb(cuda), gflop_per_step=flops / 1e9 if flops else None,
                 device=torch.cuda.get_device_name() if cuda else "cpu", fast_paths=names[mode])
        out[mode] = s
    return out


__all__ = ["RECIPES", "PARTS", "run"]
