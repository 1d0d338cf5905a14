"""Option (off by default): ``torch.compile`` of data2vec 2.0's encoder blocks (``AltBlock.forward``,
student and teacher; text and image 2.0).

One compiled function serves every block (inductor lifts the blocks' parameters as graph inputs),
recompiling for each new mode (train / eval), input dtype and, once, for varying sequence lengths.
Results equal upstream's to float32 rounding (inductor fuses and reorders elementwise arithmetic),
not bitwise. Measured on this project's 2-core CPU machine (README, Performance): compiling takes
14 s at ViT-B and 25-30 s at tiny size; a compiled step is about 8% faster at ViT-B (it pays after
about 50 steps) and 5% at tiny size (a demo-length run never earns it back), so it stays off unless named (``hydra.callbacks.d2v_ext.fast=[ema,sdpa,compile]`` or
``D2V_EXT_FAST=ema,sdpa,compile``); on a GPU measure it with ``scripts/benchmark.py --fast``.
"""
import torch


def compiled_forward(original):
    """A forward for ``AltBlock`` that runs ``original`` through ``torch.compile`` (compiled lazily,
    at the first call)."""
    compiled = torch.compile(original)

    def forward(self, x, padding_mask=None, alibi_bias=None):
        return compiled(self, x, padding_mask, alibi_bias)

    return forward
