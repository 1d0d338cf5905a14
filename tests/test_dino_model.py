"""data2vec_dino in-process: the target switch, upstream behaviour preserved for
target=data2vec, teacher momentum schedules, crops of two sizes, gradients only into the student."""
import math
import random

import numpy as np
import pytest
import torch

import d2v_ext  # noqa: F401  (registers the models)
from d2v_ext.models.data2vec_dino import Data2VecDinoConfig, Data2VecDinoModel
from d2v_ext.errors import ConfigError
from d2v_ext.modules.schedules import teacher_momentum
from d2v_ext.modules.rel_pos import sub_window_bias, sub_window_index

TINY = dict(image_size=32, patch_size=4, depth=2, embed_dim=32, num_heads=2, num_mask_patches=20,
            min_mask_patches_per_block=4, max_mask_patches_per_block=64, average_top_k_layers=2,
            dino_out_dim=64, dino_hidden_dim=32, dino_bottleneck_dim=16, ema_anneal_end_step=100,
            layer_scale_init_value=0.0)


def model(**kw):
    torch.manual_seed(0)
    m = Data2VecDinoModel(Data2VecDinoConfig(**{**TINY, **kw}))
    m.set_num_updates(0)  # builds the EMA teacher, as the trainer does
    return m.train()


def crops(b=4):
    g = torch.Generator().manual_seed(1)
    return [torch.randn(b, 3, 32, 32, generator=g) for _ in range(2)], [torch.randn(b, 3, 16, 16, generator=g)
                                                                        for _ in range(3)]


def test_data2vec_target_is_upstream_behaviour():
    from fairseq.examples.data2vec.models.data2vec_vision import Data2VecVisionConfig, Data2VecVisionModel

    ours = model(target="data2vec")
    torch.manual_seed(0)
    up = Data2VecVisionModel(Data2VecVisionConfig(**{k: v for k, v in TINY.items() if not k.startswith("dino")}))
    up.load_state_dict({k: v for k, v in ours.state_dict().items() if k != "_ema"}, strict=True)
    up.set_num_updates(0)
    img = torch.randn(4, 3, 32, 32)
    torch.manual_seed(5), np.random.seed(5), random.seed(5)  # drop-path; upstream make_mask
    a = ours(img)
    torch.manual_seed(5), np.random.seed(5), random.seed(5)  # drop-path; upstream make_mask
    b = up(img)
    assert torch.allclose(a["losses"]["regression"], b["losses"]["regression"])
    g, l = crops()
    torch.manual_seed(5), np.random.seed(5), random.seed(5)  # drop-path; upstream make_mask
    multi = ours(global_crops=g, local_crops=l)  # multi-crop batch: the regression runs on both global crops
    assert set(multi["losses"]) == {"regression"} and "teacher_entropy" not in multi


@pytest.mark.parametrize("target", ["dino", "both"])
def test_dino_targets_train_the_student_only(target):
    m = model(target=target)
    g, l = crops()
    out = m(global_crops=g, local_crops=l)
    assert set(out["losses"]) == ({"dino"} if target == "dino" else {"dino", "regression"})
    for key in ("teacher_entropy", "teacher_student_kl", "center_norm", "prototypes_used", "target_var", "teacher_temp"):
        assert math.isfinite(float(out[key])), key
    sum(out["losses"].values()).backward()
    assert m.dino.head.mlp[0].weight.grad is not None and m.encoder.blocks[0].mlp[0].weight.grad is not None
    assert all(p.grad is None for p in m.dino.teacher_head.parameters())
    assert m.dino.loss.center.abs().sum() == 0  # pending until the end of the update
    m.end_update()
    assert m.dino.loss.center.abs().sum() > 0  # moved, in training mode
    if target == "dino":
        assert out["sample_size"] == 1  # DINO's loss is a mean: nothing for the trainer to divide


def test_teacher_momentum_schedules_and_head_ema():
    assert teacher_momentum("cosine", 0.996, 1.0, 0, 100) == pytest.approx(0.996)
    assert teacher_momentum("cosine", 0.996, 1.0, 50, 100) == pytest.approx(0.998)
    assert teacher_momentum("cosine", 0.996, 1.0, 100, 100) == 1.0
    assert teacher_momentum("linear", 0.99, 0.999, 25, 100) == pytest.approx(0.99225)
    m = model(target="dino", ema_schedule="cosine", ema_decay=0.9, ema_end_decay=1.0)
    before = [p.clone() for p in m.dino.teacher_head.parameters()]
    with torch.no_grad():
        for p in m.dino.head.parameters():
            p.add_(1.0)
    m.set_num_updates(25)
    decay = 1.0 - 0.1 * (math.cos(math.pi * 0.25) + 1) / 2
    assert m.ema.get_decay() == pytest.approx(decay)
    for t, b, s in zip(m.dino.teacher_head.parameters(), before, m.dino.head.parameters()):
        assert torch.allclose(t, decay * b + (1 - decay) * s)


def test_teacher_temperature_warms_up_with_updates():
    m = model(target="dino", dino_warmup_teacher_temp=0.04, dino_teacher_temp=0.07, dino_warmup_teacher_temp_updates=10)
    g, l = crops()
    temps = []
    for step in (0, 5, 10, 50):
        m.num_updates = step
        temps.append(m(global_crops=g, local_crops=l)["teacher_temp"])
    assert temps == pytest.approx([0.04, 0.055, 0.07, 0.07])


def test_local_crop_bias_is_a_sub_window_of_the_shared_table():
    m = model(target="dino")
    rpb = m.encoder.rel_pos_bias
    torch.nn.init.normal_(rpb.relative_position_bias_table)
    assert torch.equal(sub_window_index(8, 8, 8, 8), rpb.relative_position_index)
    full = rpb.relative_position_bias_table[rpb.relative_position_index.view(-1)].view(65, 65, -1).permute(2, 0, 1)
    assert torch.allclose(sub_window_bias(rpb, 8, 8), full)
    small = sub_window_bias(rpb, 4, 4)
    # patch (0,0) -> (1,1) has the same offset in both grids: same bias
    assert torch.allclose(small[:, 1, 1 + 4 + 1], full[:, 1, 1 + 8 + 1])
    with pytest.raises(ConfigError, match="larger than the model"):
        sub_window_bias(rpb, 9, 8)
    with pytest.raises(ConfigError, match="model.image_size"):
        m(global_crops=[torch.randn(2, 3, 16, 16)] * 2, local_crops=[])


def test_dino_target_needs_a_transformer_only_teacher():
    with pytest.raises(ConfigError, match="ema_transformer_only=false: data2vec_dino with a DINO target needs true"):
        Data2VecDinoModel(Data2VecDinoConfig(**TINY, target="dino", ema_transformer_only=False))
