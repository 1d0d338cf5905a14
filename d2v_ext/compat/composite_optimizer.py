"""Fix: fairseq's composite optimizer keeps its sub-optimizers in a dict shared by every instance.

``FairseqCompositeOptimizer`` declares ``optimizers = {}`` and ``lr_schedulers = {}`` at class level
and fills them in ``__init__``, so a second composite optimizer in the same process (a second model
fine-tuned, evaluated or benchmarked in one interpreter, a trainer rebuilt) also holds and steps the
first one's parameter groups and schedulers, with their learning rates. Each instance now gets its
own dicts before upstream's ``__init__`` fills them.
"""
from .signature import install_wrapper


def composite_optimizer_state_per_instance():
    """Every FairseqCompositeOptimizer owns its ``optimizers`` and ``lr_schedulers``."""
    from fairseq.optim.composite import FairseqCompositeOptimizer

    def wrap(original):
        def __init__(self, cfg, params):
            self.optimizers, self.lr_schedulers = {}, {}
            original(self, cfg, params)

        return __init__

    install_wrapper(FairseqCompositeOptimizer, "__init__", "self, cfg, params", wrap, "per_instance")
