"""Fix: fairseq loads checkpoints with a bare ``torch.load``, so a checkpoint can run code.

``fairseq.checkpoint_utils`` calls ``torch.load(f, map_location=...)`` without ``weights_only``
(``load_checkpoint_to_cpu``: resume from ``checkpoint_last.pt``, ``checkpoint.restore_file``,
upstream's ``model.model_path``, ``load_model_ensemble*`` in the eval scripts;
``load_ema_from_checkpoint``). Today only torch's *default* keeps a poisoned file from running its
payload, and ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` in the environment turns that default off. That
module now sees a ``torch`` whose ``load`` is :func:`d2v_ext.checkpoint.safe_torch_load` (explicit
``weights_only=True`` plus the allow-list); everything else is torch itself. This fix is applied
even when ``D2V_EXT_COMPAT_SKIP`` names it.
"""
import functools
import importlib
import types

import torch

from ..checkpoint.safe_load import safe_torch_load

# checkpoint_utils: every checkpoint file. distributed.utils: broadcast_object, which sends rank 0's loaded
# checkpoint state to the other ranks as a torch.save buffer (with torch's default loader a DictConfig cfg
# is refused there); its messages also hold its own _TensorPlaceholder (an index of a tensor sent apart).
MODULES_LOADING_CHECKPOINTS = {"fairseq.checkpoint_utils": (), "fairseq.distributed.utils": ("_TensorPlaceholder",)}


class TorchWithSafeLoad(types.ModuleType):
    """Behaves as ``torch``, except that ``load`` is the restricted loader."""

    def __init__(self, extra_globals=()):
        super().__init__("torch")
        self._load = functools.partial(safe_torch_load, extra_globals=tuple(extra_globals))

    def __getattr__(self, name):
        return self._load if name == "load" else getattr(torch, name)


def safe_checkpoint_loading():
    """Route every ``torch.load`` of fairseq's checkpoint code through the restricted loader."""
    for name, extra in MODULES_LOADING_CHECKPOINTS.items():
        module = importlib.import_module(name)
        if getattr(module, "torch", None) is torch:
            module.torch = TorchWithSafeLoad([getattr(module, g) for g in extra])
