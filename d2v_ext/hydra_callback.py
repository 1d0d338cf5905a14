"""A hydra callback that imports the plugin as soon as hydra starts a run.

fairseq-hydra-train imports ``common.user_dir`` only inside its training function, after it has
set up (or failed to set up) distributed training. The recipes list this callback
(``hydra.callbacks.d2v_ext``), so the compat fixes are in place before fairseq's start-up code runs
(needed by ``cpu_distributed_start``). Importing the package a second time through
``common.user_dir`` is then a no-op (fairseq sees the same path).
"""
from hydra.experimental.callback import Callback


class ImportPlugin(Callback):
    def __init__(self):
        import d2v_ext  # noqa: F401  (applies the compat fixes, registers everything)
