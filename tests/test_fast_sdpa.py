"""The SDPA fast path for data2vec 2.0's attention equals upstream's: outputs and gradients within
float32 rounding (ALiBi bias, padding, both), a whole 2.0 text model's loss and gradients, and the
same loss curve for 100 tiny image updates (and 40 text updates) through fairseq-hydra-train."""
import pytest
import torch

import d2v_ext  # noqa: F401
from builders import tiny_dictionary, tiny_text_v2_model
from d2v_ext import fast
from helpers import PRETRAIN_CONFIGS, hydra_train, json_records, prepare_botchan, require_data


@pytest.fixture(scope="module")
def tiny_text_bin(tmp_path_factory):
    """botchan.txt through prepare_text.py (GPT-2 BPE, fairseq binarized)."""
    return prepare_botchan(tmp_path_factory.mktemp("botchan") / "bin")


def both_paths(fn):
    """fn() under upstream's attention, then under SDPA (fresh RNG state for each)."""
    out = []
    for names in ([], ["sdpa"]):
        torch.manual_seed(0)
        with fast.only(names):
            out.append(fn())
    return out


@pytest.mark.parametrize("alibi,pad", [(False, False), (True, False), (False, True), (True, True)])
def test_attention_outputs_and_gradients_equal_upstreams(alibi, pad):
    from fairseq.examples.data2vec.models.modalities.modules import AltAttention

    torch.manual_seed(0)
    att = AltAttention(64, 4, qkv_bias=True)
    x = torch.randn(3, 20, 64)
    bias = torch.randn(1, 3, 20, 20) if alibi else None  # ALiBi on the first 3 of 4 heads, as upstream allows
    mask = torch.zeros(3, 20, dtype=torch.bool)
    mask[1, 15:] = mask[2, 10:] = True

    def run():
        att.zero_grad()
        xi = x.clone().requires_grad_(True)
        y = att(xi, mask if pad else None, bias)
        (y * torch.linspace(-1, 1, 64)).square().sum().backward()
        return y.detach(), xi.grad, att.qkv.weight.grad.clone(), att.proj.weight.grad.clone()

    up, fa = both_paths(run)
    for a, b in zip(up, fa):
        assert torch.allclose(a, b, rtol=1e-5, atol=1e-6), float((a - b).abs().max())


def test_data2vec2_text_model_loss_and_gradients_equal_upstreams():
    model = tiny_text_v2_model()
    for m in model.modules():  # no dropout: both paths must see the same random numbers
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    d = tiny_dictionary()
    src = torch.randint(d.nspecial, len(d), (4, 24))
    src[2, 18:] = src[3, 12:] = d.pad()

    def run():
        model.zero_grad()
        res = model(src, id=torch.arange(4), mode="TEXT", padding_mask=src.eq(d.pad()))
        loss = sum(v.sum() for v in res["losses"].values())
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]

    (lu, gu), (lf, gf) = both_paths(run)
    assert torch.allclose(lu, lf, rtol=1e-5) and len(gu) == len(gf) > 10
    for a, b in zip(gu, gf):
        assert torch.allclose(a, b, rtol=1e-4, atol=1e-6)


@pytest.mark.e2e
def test_same_loss_curve_through_fairseq_hydra_train(tmp_path, tiny_text_bin):
    cifar = require_data("images", "cifar10")
    runs = {"image_v2": ("+tiny=image_v2", f"task.data={cifar}", "optimization.max_update=100"),
            "text_v2": ("+tiny=text_v2", f"task.data={tiny_text_bin}", "optimization.max_update=40",
                        "+model.attention_dropout=0", "common.log_interval=5")}  # SDPA: its own dropout mask
    for recipe, overrides in runs.items():
        curves = []
        for path in ("[]", "[sdpa]"):
            rc, log = hydra_train(PRETRAIN_CONFIGS, recipe, tmp_path / f"{recipe}_{path[1:-1] or 'upstream'}",
                                  *overrides, f"hydra.callbacks.d2v_ext.fast={path}")
            assert rc == 0, log[-3000:]
            assert ("d2v_ext fast paths (recipe's hydra.callbacks.d2v_ext.fast): none" in log) == (path == "[]")
            curves.append([r["loss"] for r in json_records(log)])
        up, fa = curves
        assert len(up) == len(fa) >= 8, recipe
        for a, b in zip(up, fa):  # logged with 3 significant digits
            assert abs(a - b) <= 0.002 + 0.002 * abs(a), (recipe, up, fa)
