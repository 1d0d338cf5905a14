"""Fix: ``AttributeError: module 'numpy' has no attribute 'int'`` (numpy >= 1.24, numpy 2).

``Data2VecVisionModel.make_mask`` (data2vec v1 vision) builds its block mask with ``dtype=np.int``;
``mae.get_1d_sincos_pos_embed`` (used by data2vec 2.0 images too) uses ``np.float``.
Rather than putting ``int`` back on numpy for every library, the upstream modules that use the
removed aliases get a numpy proxy that adds them (``np.int`` was always the builtin ``int``).
"""
import importlib
import types

import numpy

from .signature import expect_signature

# Only the aliases NumPy removed, mapped to what they always meant.
REMOVED_ALIASES = {"int": int, "float": float, "bool": bool, "object": object, "long": int}
MODULES_USING_ALIASES = (
    "fairseq.examples.data2vec.models.data2vec_vision",  # make_mask: np.int
    "fairseq.examples.data2vec.models.mae",  # get_1d_sincos_pos_embed (also data2vec 2.0 images): np.float
)


class NumpyWithAliases(types.ModuleType):
    """Behaves as ``numpy``, plus the removed scalar aliases."""

    def __init__(self):
        super().__init__("numpy")

    def __getattr__(self, name):
        if name in REMOVED_ALIASES and not hasattr(numpy, name):
            return REMOVED_ALIASES[name]
        return getattr(numpy, name)


def numpy_removed_aliases():
    """Give upstream modules that still use ``np.int`` & co. a numpy with those aliases."""
    from fairseq.examples.data2vec.models.data2vec_vision import Data2VecVisionModel

    expect_signature(Data2VecVisionModel.make_mask, "self, bsz, num_masks, min_masks, max_masks")
    for name in MODULES_USING_ALIASES:
        module = importlib.import_module(name)
        if getattr(module, "np", None) is numpy:
            module.np = NumpyWithAliases()
