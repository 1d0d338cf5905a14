"""Fix: model randomness depends on how a batch is split over processes and accumulation steps.

fairseq seeds torch once per update (seed + update number), on every process alike. So with 2
processes both ranks draw the same dropout and mask noise for their halves of the batch, while one
process with ``update_freq=[2]`` draws fresh numbers for its second micro-batch: the same batch
trains differently depending on the split (and ranks > 0 repeat rank 0's dropout masks). Each
micro-batch now gets generators seeded from (seed, update, g), g = rank x micro-batches per
update + micro-batch index: the same number for the same slice of the batch, however it is split.
g = 0 keeps fairseq's own seed, so a single process without accumulation is unchanged.
"""
import random

import numpy as np
import torch

from .signature import install_wrapper

_step = {}  # the update being computed: seed, update number, rank, micro-batches, next index


def micro_batch_seed(seed, update, g):
    return seed + update if g == 0 else hash((seed, update, g)) % 2 ** 31


def rng_seeded_per_micro_batch():
    """Reseed torch, NumPy and Python generators before each micro-batch from (seed, update, g)."""
    from fairseq.tasks import FairseqTask
    from fairseq.trainer import Trainer

    def wrap_trainer(trainer_step):
        def train_step(self, samples, raise_oom=False):
            _step.update(seed=self.cfg.common.seed, update=self.get_num_updates(), rank=self.data_parallel_rank,
                         n=len(samples), i=0)
            try:
                return trainer_step(self, samples, raise_oom)
            finally:
                _step.clear()

        return train_step

    def wrap_task(task_step):
        def train_step(self, sample, model, criterion, optimizer, update_num, ignore_grad=False, **kwargs):
            if _step:
                g = _step["rank"] * _step["n"] + _step["i"]
                _step["i"] += 1
                if g > 0:
                    s = micro_batch_seed(_step["seed"], _step["update"], g)
                    torch.manual_seed(s)
                    np.random.seed(s % 2 ** 32)
                    random.seed(s)
            return task_step(self, sample, model, criterion, optimizer, update_num, ignore_grad, **kwargs)

        return train_step

    install_wrapper(Trainer, "train_step", "self, samples, raise_oom=False", wrap_trainer, "micro_batch_seeds")
    install_wrapper(FairseqTask, "train_step", "self, sample, model, criterion, optimizer, update_num, ignore_grad=False",
                    wrap_task, "micro_batch_seeds")
