"""Fix: a resumed run draws other random numbers than an uninterrupted one (and no two runs agree).

fairseq reseeds torch at every update (``Trainer._set_seed``: seed + update number, "so that we
get reproducible results when resuming from checkpoints"), but upstream data2vec also draws from
Python's and NumPy's global generators, which fairseq never reseeds (and never seeds, for Python's):
v1 vision's block masks (``random.uniform``), data2vec 2.0's ``compute_mask_indices`` and layerdrop
(``np.random``). Those generators now follow the same per-update seed.
"""
import functools
import random

import numpy as np

from .signature import expect_signature


def rng_seeded_per_update():
    """Make ``Trainer._set_seed`` seed Python's ``random`` and NumPy's global generator too."""
    from fairseq.trainer import Trainer

    original = Trainer._set_seed
    if getattr(original, "_d2v_ext_fixed", False):
        return
    expect_signature(original, "self")

    @functools.wraps(original)
    def _set_seed(self):
        original(self)
        seed = self.cfg.common.seed + self.get_num_updates()
        random.seed(seed)
        np.random.seed(seed % 2 ** 32)

    _set_seed._d2v_ext_fixed = True
    Trainer._set_seed = _set_seed
