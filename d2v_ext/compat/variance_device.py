"""Fix: data2vec's collapse monitors crash multi-process runs on CPU.

``compute_var`` (``target_var`` / ``pred_var`` of v1 vision, v1 audio and data2vec 2.0) all-reduces
the count, sum and sum of squares when torch.distributed is initialised, and puts the count on the
GPU with a bare ``.cuda()``: "Found no NVIDIA driver on your system" on a CPU run. On CPU the same
pooled variance is now computed with the statistics on the data's device; GPU runs are unchanged.
"""
import importlib

import torch
import torch.distributed as dist

from .signature import install_wrapper

MODELS = (("fairseq.examples.data2vec.models.data2vec_vision", "Data2VecVisionModel"),
          ("fairseq.examples.data2vec.models.data2vec_audio", "Data2VecAudioModel"),
          ("fairseq.examples.data2vec.models.data2vec2", "Data2VecMultiModel"))


def pooled_std(y):
    """Mean over channels of the std over all rows of every worker (upstream's formula), on y's device."""
    y = y.view(-1, y.size(-1))
    stats = torch.stack([torch.full_like(y[0], y.size(0)), y.sum(dim=0), (y ** 2).sum(dim=0)])
    dist.all_reduce(stats)
    n, s, ss = stats
    var = ss / (n - 1) - (s ** 2) / (n * (n - 1))
    return torch.sqrt(var + 1e-6).mean()


def variance_monitors_off_gpu():
    """Let ``compute_var`` all-reduce on CPU tensors when the data is on the CPU."""
    def wrap(original):
        def compute_var(y):
            if dist.is_available() and dist.is_initialized() and y.device.type == "cpu":
                return pooled_std(y)
            return original(y)

        return compute_var

    for module, name in MODELS:
        install_wrapper(getattr(importlib.import_module(module), name), "compute_var", "y", wrap, "variance_device")
