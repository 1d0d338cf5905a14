"""FLOPs of a training step (torch's FlopCounterMode: matmuls, convolutions, attention) and the
model FLOPs utilisation against a device's dense bf16/fp16 peak."""
import torch

# Dense tensor-core peaks (FLOP/s, bf16/fp16, no sparsity) from the vendors' data sheets.
PEAK_FLOPS = {"H200": 989.4e12, "H100": 989.4e12, "A100": 312e12, "L4": 121e12, "A10": 125e12, "V100": 125e12}


def step_flops(trainer, samples):
    """FLOPs of one ``train_step`` on ``samples`` (the step is taken: call it outside timed steps)."""
    from torch.utils.flop_counter import FlopCounterMode

    counter = FlopCounterMode(display=False)
    with counter:
        trainer.train_step(samples)
    return counter.get_total_flops()


def device_peak(name):
    """The peak of a CUDA device by name (None when unknown, or on CPU)."""
    for key, peak in PEAK_FLOPS.items():
        if key in (name or ""):
            return peak
    return None


def mfu(gflop_per_step, step_seconds, device):
    peak = device_peak(device)
    if not peak or not gflop_per_step or not step_seconds:
        return None
    return gflop_per_step * 1e9 / step_seconds / peak
