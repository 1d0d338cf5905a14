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
import importlib
import types

import torch

from ..checkpoint.safe_load import safe_torch_load

MODULES_LOADING_CHECKPOINTS = ("fairseq.checkpoint_utils",)


class TorchWithSafeLoad(types.ModuleType):
    """Behaves as ``torch``, except that ``load`` is the restricted loader."""

    def __init__(self):
        super().__init__("torch")

    def __getattr__(self, name):
        return safe_torch_load if name == "load" else getattr(torch, name)


def safe_checkpoint_loading():
    """Route every ``torch.load`` of fairseq's checkpoint code through the restricted loader."""
    for name in MODULES_LOADING_CHECKPOINTS:
        module = importlib.import_module(name)
        if getattr(module, "torch", None) is torch:
            module.torch = TorchWithSafeLoad()
