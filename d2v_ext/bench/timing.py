"""Where a training step's time goes: timers around fairseq's ``Trainer.train_step`` and its parts.

Parts, measured each step (CUDA is synchronised around each timed region):
- ``data``: getting the next batch from fairseq's iterator (loading, transforms, collation);
- ``teacher``: the EMA teacher's transformer blocks (forward hooks on each block of every
  ``EMAModule.model``) and the DINO teacher head where there is one;
- ``ema``: ``EMAModule.step`` (the teacher update);
- ``optimizer``: the optimizer step (clipping and the lr scheduler stay in ``student``);
- ``student``: the rest of ``train_step``: the student's forward and backward, the loss, bookkeeping.
"""
import resource
import statistics
import time
from collections import defaultdict
from contextlib import contextmanager

import torch

PARTS = ("data", "student", "teacher", "ema", "optimizer")


class StepClock:
    def __init__(self, cuda):
        self.cuda, self.parts, self.depth = cuda, defaultdict(float), 0

    def now(self):
        if self.cuda:
            torch.cuda.synchronize()
        return time.perf_counter()

    @contextmanager
    def part(self, name):
        t = self.now()
        try:
            yield
        finally:
            self.parts[name] += self.now() - t


def ema_modules(model):
    from fairseq.modules.ema_module import EMAModule

    seen = []
    for m in model.modules():
        ema = getattr(m, "ema", None)
        if isinstance(ema, EMAModule) and all(ema is not e for e in seen):
            seen.append(ema)
    return seen


def teacher_blocks(ema):
    """The transformer blocks of a teacher (children of a ModuleList named layers or blocks)."""
    if isinstance(ema.model, torch.nn.ModuleList):  # data2vec 2.0 with ema_encoder_only: the blocks themselves
        return list(ema.model)
    out = []
    for name, mod in ema.model.named_modules():
        if isinstance(mod, torch.nn.ModuleList) and name.split(".")[-1] in ("layers", "blocks"):
            out.extend(mod)
    return out


def instrument(trainer, clock):
    """Hooks and wrappers that add each part's time to ``clock`` (call after the first step: the v1
    teachers and the optimizer are built lazily). Returns a function that removes them."""
    handles, restore = [], []
    model = trainer.model
    starts = {}

    def pre(mod, args):
        starts[id(mod)] = clock.now()

    def post(mod, args, out):
        clock.parts["teacher"] += clock.now() - starts.pop(id(mod))

    teachers = [b for ema in ema_modules(model) for b in teacher_blocks(ema)]
    dino = getattr(getattr(model, "dino", None), "teacher_head", None)
    for mod in teachers + ([dino] if dino is not None else []):
        handles += [mod.register_forward_pre_hook(pre), mod.register_forward_hook(post)]
    for ema in ema_modules(model):
        original = ema.step

        def step(new_model, _original=original):
            with clock.part("ema"):
                return _original(new_model)

        ema.step = step
        restore.append((ema, "step"))
    opt = trainer.optimizer
    original_step = opt.step

    def opt_step(*a, **k):
        with clock.part("optimizer"):
            return original_step(*a, **k)

    opt.step = opt_step
    restore.append((opt, "step"))

    def remove():
        for h in handles:
            h.remove()
        for obj, attr in restore:
            del obj.__dict__[attr]

    return remove


def batch_items(samples):
    """(input tokens or images in the update, unit): a 2-D integer input counts tokens, a 4-D one
    images, anything else (multi-crop lists) the samples."""
    total, unit = 0, "images"
    for x in (samples if isinstance(samples, list) else [samples]):
        tensors = [v for v in x["net_input"].values() if torch.is_tensor(v)]
        tokens = [v for v in tensors if v.dim() == 2 and not v.is_floating_point()]
        images = [v for v in tensors if v.dim() == 4]
        if tokens:
            total, unit = total + int(tokens[0].numel()), "tokens"
        else:
            total += int(images[0].size(0)) if images else len(x["id"])
    return total, unit


def peak_memory_mb(cuda):
    if cuda:
        return torch.cuda.max_memory_allocated() / 2 ** 20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # KiB on Linux


def summarise(steps):
    """Medians over the timed steps of each part and of the whole step."""
    out = {p: statistics.median(s["parts"].get(p, 0.0) for s in steps) for p in PARTS}
    out["step"] = statistics.median(s["step"] for s in steps)
    items = statistics.median(s["items"] for s in steps)
    out["throughput"] = items / out["step"] if out["step"] else 0.0
    return out
