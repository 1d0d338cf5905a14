"""The torch.compile option for data2vec 2.0's blocks: outputs and gradients equal upstream's eager
blocks to float32 rounding (inductor reorders arithmetic), in train and eval mode, with a padding
mask and ALiBi, across blocks of one model (one compiled function serves all)."""
import torch

import d2v_ext  # noqa: F401
from d2v_ext import fast


def test_compiled_blocks_equal_eager_blocks():
    from fairseq.examples.data2vec.models.modalities.modules import AltBlock

    torch.manual_seed(0)
    blocks = torch.nn.ModuleList([AltBlock(32, 2, 2.0, qkv_bias=True, layer_norm_first=False) for _ in range(2)])
    x = torch.randn(3, 10, 32)
    mask = torch.zeros(3, 10, dtype=torch.bool)
    mask[2, 6:] = True
    bias = torch.randn(3, 2, 10, 10)

    def run(names, train):
        blocks.train(train)
        blocks.zero_grad()
        with fast.only(names):
            y = x.clone().requires_grad_(True)
            out = y
            for b in blocks:
                out = b(out, padding_mask=mask, alibi_bias=bias)
                out = out[0] if isinstance(out, tuple) else out
            (out * torch.linspace(-1, 1, 32)).square().sum().backward()
        return [out.detach(), y.grad] + [p.grad.clone() for p in blocks.parameters()]

    from torch._dynamo.utils import counters

    graphs = counters["stats"]["unique_graphs"]
    for train in (True, False):
        eager, compiled = run([], train), run(["compile"], train)
        assert "compile" not in fast.in_use()  # fast.only restored the previous state
        assert len(eager) == len(compiled) > 10
        for a, b in zip(eager, compiled):
            assert torch.allclose(a, b, rtol=1e-4, atol=1e-5), float((a - b).abs().max())
    assert counters["stats"]["unique_graphs"] > graphs  # dynamo did compile the blocks


def test_loss_curve_for_100_updates_within_rounding():
    from test_fast_teacher_dtype import train_curve

    (eager, _), (compiled, _) = (train_curve(names, autocast=False) for names in (["ema", "sdpa"], ["ema", "sdpa", "compile"]))
    assert len(set(eager)) > 50
    assert max(abs(a - b) / abs(a) for a, b in zip(eager, compiled)) < 1e-3
