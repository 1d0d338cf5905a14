"""Fix: upstream's image datasets draw their augmentations from the global generators.

``ImageDataset`` (v1 vision's ``image_pretraining`` and ``image_classification``) and
``MaeImageDataset`` (data2vec 2.0's ``mae_image_pretraining``) crop, flip and jitter with torch's
and Python's global generators, and compute 2.0's masks with NumPy's. ``MaeFinetuningImageDataset``
(``mae_image_classification``: data2vec 2.0 and MAE fine-tuning) draws timm's crops, RandAugment
and random erasing from Python's ``random``, which fairseq never seeds: the first batch, drawn
before the trainer's first per-update reseed, differed from run to run, so two runs of the same
command ended 0.2 points apart. The crops of an image then depend on what ran before (and, with
``num_workers > 0``, on the worker), so a resumed run sees other crops than the uninterrupted one.
Each sample is now drawn under generators seeded from (``common.seed``, epoch, index), as
fairseq's own ``MaskTokensDataset`` seeds its masks, and the global generators are restored after.
"""
import contextlib
import importlib
import inspect
import random

import numpy as np
import torch

from .prefetch_thread import BATCH_ITERATOR
from .signature import install_wrapper

DATASETS = (("fairseq.examples.data2vec.data.image_dataset", "ImageDataset"),
            ("fairseq.examples.data2vec.data.mae_image_dataset", "MaeImageDataset"),
            ("fairseq.examples.data2vec.data.mae_finetuning_image_dataset", "MaeFinetuningImageDataset"))


@contextlib.contextmanager
def sample_generators(seed, epoch, index):
    """torch, NumPy and Python generators seeded from (seed, epoch, index); restored on exit."""
    states = torch.random.get_rng_state(), np.random.get_state(), random.getstate()
    s = hash((seed, epoch, index)) % 2 ** 31  # ints hash the same in every process
    torch.manual_seed(s)
    np.random.seed(s)
    random.seed(s)
    try:
        yield
    finally:
        torch.random.set_rng_state(states[0])
        np.random.set_state(states[1])
        random.setstate(states[2])


def _seeded_getitem(original):
    def __getitem__(self, index):
        with sample_generators(getattr(self, "_d2v_seed", 1), getattr(self, "_d2v_epoch", 1), index):
            return original(self, index)

    return __getitem__


def _remember_epoch(original):
    def set_epoch(self, epoch):
        self._d2v_epoch = epoch
        return original(self, epoch)

    return set_epoch


def _stamp_seed(classes):
    def wrap(original):
        params = inspect.signature(original)

        def get_batch_iterator(self, dataset, *args, **kwargs):
            seed = params.bind(self, dataset, *args, **kwargs).arguments.get("seed", 1)
            ds = dataset
            while ds is not None:  # the dataset itself or the one a wrapper (SubsampleDataset, ...) holds
                if isinstance(ds, classes):
                    ds._d2v_seed = seed
                ds = getattr(ds, "dataset", None)
            return original(self, dataset, *args, **kwargs)

        return get_batch_iterator

    return wrap


def upstream_image_samples_seeded():
    """Seed each upstream image sample from (common.seed, epoch, index)."""
    from fairseq.tasks import FairseqTask

    classes = tuple(getattr(importlib.import_module(m), c) for m, c in DATASETS)
    for cls in classes:
        install_wrapper(cls, "__getitem__", "self, index", _seeded_getitem, "sample_seeds")
        install_wrapper(cls, "set_epoch", "self, epoch", _remember_epoch, "sample_seeds")
    install_wrapper(FairseqTask, "get_batch_iterator", BATCH_ITERATOR, _stamp_seed(classes), "sample_seeds")
