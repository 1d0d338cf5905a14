"""data2vec_text_dino in-process on a real masked_lm batch (SST-2 sentences): upstream behaviour for
target=data2vec, the two views, gradients only into the student, the teacher head's EMA."""
import math

import pytest
import torch
from omegaconf import OmegaConf

import d2v_ext  # noqa: F401  (registers the models)
from d2v_ext.errors import ConfigError
from d2v_ext.models.data2vec_text_dino import Data2VecTextDinoConfig, Data2VecTextDinoModel
from builders import masked_lm_batch, tiny_text_v1_cfg

MONITORS = ("teacher_entropy", "teacher_student_kl", "center_norm", "prototypes_used", "dino_target_var",
            "teacher_temp", "ema_decay")


@pytest.fixture(scope="module")
def batch():
    return masked_lm_batch()


def build(task, **kw):
    cfg = OmegaConf.merge(tiny_text_v1_cfg(Data2VecTextDinoConfig),
                          dict(dino_out_dim=64, dino_hidden_dim=64, dino_bottleneck_dim=16, **kw))
    torch.manual_seed(0)
    m = Data2VecTextDinoModel.build_model(cfg, task)
    m.train()
    m.set_num_updates(0)  # builds the EMA teacher, as the trainer does
    return m


def test_data2vec_target_is_upstream_behaviour(batch):
    from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextModel

    task, src, tgt, _ = batch
    ours = build(task, target="data2vec")
    torch.manual_seed(0)
    up = Data2VecTextModel.build_model(tiny_text_v1_cfg(), task)
    up.load_state_dict({k: v for k, v in ours.state_dict().items() if k != "encoder._ema"}, strict=True)
    up.train(), up.set_num_updates(0)
    torch.manual_seed(5)  # dropout
    a = ours(src, tgt)
    torch.manual_seed(5)
    b = up(src, tgt)
    assert set(a["losses"]) == {"main"} and "teacher_entropy" not in a["logs"]
    assert torch.allclose(a["losses"]["main"], b["losses"]["main"]) and a["sample_size"] == b["sample_size"]


@pytest.mark.parametrize("target", ["dino", "both"])
def test_dino_targets_train_the_student_only(batch, target):
    task, src, tgt, _ = batch
    m = build(task, target=target)
    out = m(src, tgt)
    assert set(out["losses"]) == ({"dino"} if target == "dino" else {"dino", "main"})
    for key in MONITORS + (("target_var",) if target == "dino" else ()):
        assert math.isfinite(float(out["logs"][key])), key
    assert 0 < out["logs"]["teacher_entropy"] <= math.log(64) + 1e-4
    sum(out["losses"].values()).backward()
    enc = m.encoder.sentence_encoder
    assert m.dino.head.mlp[0].weight.grad.abs().sum() > 0 and enc.layers[0].fc1.weight.grad.abs().sum() > 0
    assert all(p.grad is None for p in m.dino.teacher_head.parameters())
    assert m.dino.loss.center.abs().sum() == 0  # pending until the end of the update
    m.end_update()
    assert m.dino.loss.center.abs().sum() > 0  # moved, in training mode
    regression_grads = [p.grad for p in m.encoder.regression_head.parameters()]
    if target == "dino":
        assert out["sample_size"] == 1 and all(g is None for g in regression_grads)
        assert not any(p.requires_grad for p in m.encoder.regression_head.parameters())
    else:
        assert out["sample_size"] == int(src.eq(m.encoder.mask_idx).sum())  # regression: masked tokens
        assert all(g is not None for g in regression_grads)


def test_second_view_masks_the_unmasked_sentence_never_special_tokens(batch):
    task, src, tgt, full = batch
    d = task.source_dictionary
    m = build(task, target="dino", dino_mask_prob=0.3)
    torch.manual_seed(3)
    view = m.second_view(full)
    special = full.eq(d.pad()) | full.eq(d.bos()) | full.eq(d.eos())
    masked = view.eq(m.encoder.mask_idx)
    assert torch.equal(view[special], full[special]) and not masked[special].any()
    assert torch.equal(view[~masked], full[~masked])  # everything else is the original sentence
    assert 0.25 < masked.sum() / (~special).sum() < 0.35
    first_view_masked = src.eq(m.encoder.mask_idx)
    assert (first_view_masked & ~masked).any()  # view 2 shows tokens that view 1 hides


def test_teacher_head_follows_the_encoder_ema(batch):
    task, src, tgt, _ = batch
    m = build(task, target="both", ema_decay=0.9, ema_end_decay=0.99, ema_anneal_end_step=10)
    before = [p.clone() for p in m.dino.teacher_head.parameters()]
    with torch.no_grad():
        for p in m.dino.head.parameters():
            p.add_(1.0)
    m.set_num_updates(5)
    decay = m.encoder.ema.get_decay()
    assert decay == pytest.approx(0.945)
    for b, t, s in zip(before, m.dino.teacher_head.parameters(), m.dino.head.parameters()):
        assert torch.allclose(t, decay * b + (1 - decay) * s, atol=1e-6)
    m.eval()
    frozen = [p.clone() for p in m.dino.teacher_head.parameters()]
    m.set_num_updates(6)  # validation: no EMA step
    assert all(torch.equal(a, b) for a, b in zip(frozen, m.dino.teacher_head.parameters()))


def test_bad_settings_and_missing_teacher_are_clear_errors(batch):
    task, src, tgt, _ = batch
    with pytest.raises(ConfigError, match="dino_mask_prob"):
        build(task, target="dino", dino_mask_prob=1.0)
    cfg = OmegaConf.merge(tiny_text_v1_cfg(Data2VecTextDinoConfig), dict(target="dino"))
    fresh = Data2VecTextDinoModel.build_model(cfg, task)
    with pytest.raises(RuntimeError, match="set_num_updates"):
        fresh(src, tgt)
