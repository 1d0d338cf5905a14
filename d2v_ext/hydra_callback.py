"""A hydra callback that imports the plugin as soon as hydra starts a run.

fairseq-hydra-train imports ``common.user_dir`` only inside its training function, after it has
set up (or failed to set up) distributed training. The recipes list this callback
(``hydra.callbacks.d2v_ext``), so the compat fixes are in place before fairseq's start-up code runs
(needed by ``cpu_distributed_start``). Importing the package a second time through
``common.user_dir`` is then a no-op (fairseq sees the same path).

``fast`` (``hydra.callbacks.d2v_ext.fast: [ema, sdpa]`` in a recipe) selects the fast paths
(d2v_ext/fast); it is exported as ``D2V_EXT_FAST`` so that spawned training processes use the same.
"""
import logging
import os

from hydra.experimental.callback import Callback


class ImportPlugin(Callback):
    def __init__(self, fast=None):
        if fast is not None:
            os.environ["D2V_EXT_FAST"] = ",".join(fast) or "none"
        import d2v_ext  # noqa: F401  (applies the compat fixes, registers everything)

        if fast is not None:
            before = d2v_ext.fast.in_use()  # importing this module imported the package: the default set
            used = d2v_ext.fast.configure(list(fast))
            if used != before:  # the start-up line named the default set; say what the recipe chose
                logging.getLogger("d2v_ext").info(f"d2v_ext fast paths (recipe's hydra.callbacks.d2v_ext.fast): "
                                                  f"{', '.join(used) or 'none (upstream paths)'}")
