"""Epoch order shared by the fairseq datasets here."""
import numpy as np
from fairseq.data import data_utils


def epoch_order(n, shuffle, seed, epoch):
    """0..n-1, or a permutation fixed by (seed, epoch) when shuffling."""
    if not shuffle:
        return np.arange(n)
    with data_utils.numpy_seed(seed, epoch):
        return np.random.permutation(n)
