"""Fast paths: the same results as upstream's code, in less time (benchmark: scripts/benchmark.py).

Each has its own switch: a recipe lists the ones it uses (``hydra.callbacks.d2v_ext.fast: [ema,
sdpa]``; ``hydra.callbacks.d2v_ext.fast=[]`` on the command line turns them off), which the hydra
callback passes on as ``D2V_EXT_FAST`` (a comma-separated list; ``none`` for upstream's paths
everywhere; also usable directly, e.g. for scripts). Without either, the default is every fast path
whose results were shown equal (tests) and that was measured faster. The start-up line names the
active ones.

- ``ema``: :func:`.ema.foreach_ema_step` for fairseq's ``EMAModule`` (data2vec v1 text / vision,
  data2vec 2.0, data2vec_dino): bitwise the same teacher.
- ``sdpa``: :func:`.sdpa.sdpa_forward` for data2vec 2.0's ``AltAttention`` (text and image 2.0):
  equal to rounding (ALiBi and padding as SDPA's mask).
- ``teacher_dtype``: :mod:`.teacher_dtype`: under autocast (``common.amp``) the EMA teacher's
  Linear/Conv weights are held in the autocast dtype (the fp32 master copy stays for the EMA
  update): bitwise the same teacher outputs. Off by default: its gain is on GPUs, where it has not
  been measured yet (scripts/benchmark.py -- common.amp=true).
- ``compile``: :mod:`.compiled`: ``torch.compile`` of data2vec 2.0's blocks; an option, off by
  default (equal to float32 rounding; on this CPU it pays only after ~50 ViT-B steps, never in the tiny demo).
"""
import os
from contextlib import contextmanager

from ..compat.signature import install_wrapper

AVAILABLE = ("ema", "sdpa", "teacher_dtype", "compile")
DEFAULT = ("ema", "sdpa")
_installed = []
_wrappers = {}


def requested():
    raw = os.environ.get("D2V_EXT_FAST")
    if raw is None:
        return list(DEFAULT)
    names = [n.strip() for n in raw.split(",") if n.strip() and n.strip() != "none"]
    unknown = [n for n in names if n not in AVAILABLE]
    if unknown:
        raise ValueError(f"D2V_EXT_FAST names unknown fast paths {unknown}; available: {list(AVAILABLE)} (or none)")
    return names


def foreach_ema():
    from fairseq.modules.ema_module import EMAModule

    from .ema import foreach_ema_step

    def wrap(original):
        def _step_internal(self, new_model):
            return foreach_ema_step(self, new_model, original)

        return _step_internal

    install_wrapper(EMAModule, "_step_internal", "self, new_model", wrap, "foreach_ema")


def sdpa_attention():
    from fairseq.examples.data2vec.models.modalities.modules import AltAttention

    from .sdpa import sdpa_forward

    def wrap(original):
        def forward(self, x, padding_mask=None, alibi_bias=None):
            return sdpa_forward(self, x, padding_mask, alibi_bias, upstream=original)

        return forward

    install_wrapper(AltAttention, "forward", "self, x, padding_mask=None, alibi_bias=None", wrap, "sdpa")


def teacher_in_autocast_dtype():
    from fairseq.modules.ema_module import EMAModule

    from .teacher_dtype import attach

    def wrap(original):
        def __init__(self, model, config, copy_model=True, device=None, skip_keys=None):
            original(self, model, config, copy_model, device, skip_keys)
            self._d2v_ext_dtype_hooks = attach(self, lambda: _active("teacher_dtype"))

        return __init__

    install_wrapper(EMAModule, "__init__", "self, model, config, copy_model=True, device=None, skip_keys=None", wrap,
                    "teacher_dtype")


def compiled_blocks():
    from fairseq.examples.data2vec.models.modalities.modules import AltBlock

    from .compiled import compiled_forward

    install_wrapper(AltBlock, "forward", "self, x, padding_mask=None, alibi_bias=None", compiled_forward, "compile")


INSTALLERS = {"ema": foreach_ema, "sdpa": sdpa_attention, "teacher_dtype": teacher_in_autocast_dtype,
              "compile": compiled_blocks}


def _ema_slot():
    from fairseq.modules.ema_module import EMAModule

    return EMAModule, "_step_internal"


def _sdpa_slot():
    from fairseq.examples.data2vec.models.modalities.modules import AltAttention

    return AltAttention, "forward"


def _teacher_dtype_slot():
    from fairseq.modules.ema_module import EMAModule

    return EMAModule, "__init__"


def _compile_slot():
    from fairseq.examples.data2vec.models.modalities.modules import AltBlock

    return AltBlock, "forward"


SLOTS = {"ema": _ema_slot, "sdpa": _sdpa_slot, "teacher_dtype": _teacher_dtype_slot, "compile": _compile_slot}  # where each fast path sits: (owner, attribute); the wrapper keeps __wrapped__


def install():
    """Install the requested fast paths (once each); returns their names."""
    return configure(requested())


def configure(names):
    """Exactly the fast paths ``names`` from now on (the others take upstream's path); returns them."""
    unknown = [n for n in names if n not in AVAILABLE]
    if unknown:
        raise ValueError(f"unknown fast paths {unknown}; available: {list(AVAILABLE)}")
    for name in AVAILABLE:
        if name in names or name in _installed:
            _install(name)
            owner, attr = SLOTS[name]()
            setattr(owner, attr, _wrappers[name] if name in names else _wrappers[name].__wrapped__)
    return in_use()


def _install(name):
    if name not in _installed:
        INSTALLERS[name]()
        owner, attr = SLOTS[name]()
        _wrappers[name] = getattr(owner, attr)
        _installed.append(name)


def in_use():
    return [n for n in _installed if _active(n)]


def _active(name):
    owner, attr = SLOTS[name]()
    return getattr(owner, attr) is _wrappers.get(name)


@contextmanager
def only(names):
    """Run with exactly the fast paths ``names`` (the others take upstream's path), e.g. for
    ``benchmark.py --compare``; restores the previous state on exit."""
    saved = {name: getattr(*SLOTS[name]()) for name in AVAILABLE}  # what is there now, restored on exit
    configure(list(names))
    try:
        yield
    finally:
        for name, fn in saved.items():
            owner, attr = SLOTS[name]()
            setattr(owner, attr, fn)
