"""Fix: a resumed run draws other random numbers than an uninterrupted one (and no two runs agree).

fairseq reseeds torch at every update (``Trainer._set_seed``: seed + update number, "so that we
get reproducible results when resuming from checkpoints"), but upstream data2vec also draws from
Python's and NumPy's global generators, which fairseq never reseeds (and never seeds, for Python's):
v1 vision's block masks (``random.uniform``), data2vec 2.0's ``compute_mask_indices`` and layerdrop
(``np.random``). Those generators now follow the same per-update seed.
"""
import random

import numpy as np

from .signature import install_wrapper


def rng_seeded_per_update():
    """Make ``Trainer._set_seed`` seed Python's ``random`` and NumPy's global generator too."""
    from fairseq.trainer import Trainer

    def wrap(original):
        def _set_seed(self):
            original(self)
            seed = self.cfg.common.seed + self.get_num_updates()
            random.seed(seed)
            np.random.seed(seed % 2 ** 32)

        return _set_seed

    install_wrapper(Trainer, "_set_seed", "self", wrap, "update_seeds")
