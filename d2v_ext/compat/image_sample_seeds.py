"""Fix: upstream's image datasets draw their augmentations from the global generators.

``ImageDataset`` (v1 vision's ``image_pretraining``) and ``MaeImageDataset`` (data2vec 2.0's
``mae_image_pretraining``) crop, flip and jitter with torch's and Python's global generators, and
compute 2.0's masks with NumPy's. The crops of an image then depend on what ran before (and, with
``num_workers > 0``, on the worker), so a resumed run sees other crops than the uninterrupted one.
Each sample is now drawn under generators seeded from (``common.seed``, epoch, index), as
fairseq's own ``MaskTokensDataset`` seeds its masks, and the global generators are restored after.
"""
import contextlib
import functools
import importlib
import inspect
import random

import numpy as np
import torch

from .signature import expect_signature

DATASETS = (("fairseq.examples.data2vec.data.image_dataset", "ImageDataset"),
            ("fairseq.examples.data2vec.data.mae_image_dataset", "MaeImageDataset"))


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
    @functools.wraps(original)
    def __getitem__(self, index):
        with sample_generators(getattr(self, "_d2v_seed", 1), getattr(self, "_d2v_epoch", 1), index):
            return original(self, index)

    return __getitem__


def _remember_epoch(original):
    @functools.wraps(original)
    def set_epoch(self, epoch):
        self._d2v_epoch = epoch
        return original(self, epoch)

    return set_epoch


def _stamp_seed(original, classes):
    params = inspect.signature(original)

    @functools.wraps(original)
    def get_batch_iterator(self, dataset, *args, **kwargs):
        seed = params.bind(self, dataset, *args, **kwargs).arguments.get("seed", 1)
        ds = dataset
        while ds is not None:  # the dataset itself or the one a wrapper (SubsampleDataset, ...) holds
            if isinstance(ds, classes):
                ds._d2v_seed = seed
            ds = getattr(ds, "dataset", None)
        return original(self, dataset, *args, **kwargs)

    return get_batch_iterator


def upstream_image_samples_seeded():
    """Seed each upstream image sample from (common.seed, epoch, index)."""
    from fairseq.tasks import FairseqTask

    classes = tuple(getattr(importlib.import_module(m), c) for m, c in DATASETS)
    if getattr(classes[0].__getitem__, "_d2v_ext_fixed", False):
        return
    expect_signature(FairseqTask.get_batch_iterator, "self, dataset, max_tokens=None, max_sentences=None, "
                     "max_positions=None, ignore_invalid_inputs=False, required_batch_size_multiple=1, seed=1, "
                     "num_shards=1, shard_id=0, num_workers=0, epoch=1, data_buffer_size=0, "
                     "disable_iterator_cache=False, skip_remainder_batch=False, grouped_shuffling=False, "
                     "update_epoch_batch_itr=False")
    for cls in classes:
        expect_signature(cls.__getitem__, "self, index")
        cls.__getitem__ = _seeded_getitem(cls.__getitem__)
        cls.__getitem__._d2v_ext_fixed = True
        cls.set_epoch = _remember_epoch(cls.set_epoch)
    FairseqTask.get_batch_iterator = _stamp_seed(FairseqTask.get_batch_iterator, classes)
