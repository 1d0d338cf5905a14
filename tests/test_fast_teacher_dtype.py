"""The teacher-in-autocast-dtype fast path: under autocast (bf16 on CPU here; fp16/bf16 on GPU) the
teacher's Linear/Conv weights are held in the autocast dtype, and the teacher's outputs, the loss,
the student's gradients and the fp32 master copy are bitwise what upstream's fp32 teacher gives;
without autocast the teacher is fp32 again, sharing the master as upstream's does."""
import random

import numpy as np
import pytest
import torch

import d2v_ext  # noqa: F401
from builders import tiny_dictionary, tiny_text_v1_model, tiny_text_v2_model, tiny_vision_v1_model
from d2v_ext import fast

BF16 = dict(device_type="cpu", dtype=torch.bfloat16)


def no_dropout(model):
    for m in model.modules():
        if isinstance(m, torch.nn.Dropout):
            m.p = 0.0
    return model


def teacher_linears(ema):
    return [m for m in ema.model.modules() if isinstance(m, torch.nn.Linear)]


def text_batch(seed=0):
    d = tiny_dictionary()
    g = torch.Generator().manual_seed(seed)
    src = torch.randint(d.nspecial, len(d), (4, 24), generator=g)
    src[2, 18:] = src[3, 12:] = d.pad()
    return src, d


def v2_loss(model, src, d):
    res = model(src, id=torch.arange(4), mode="TEXT", padding_mask=src.eq(d.pad()))
    return sum(v.sum() for v in res["losses"].values())


def v1_loss(model, src, d):
    target = src.clone()
    masked = src.clone()
    masked[:, 3:9] = d.index("<mask>")
    res = model(masked, target_tokens=target)
    return sum(v.sum() for v in res["losses"].values())


def loss_and_grads(model, loss_fn, on, autocast=True):
    """(loss, student gradients) with the fast path on or off (the model's hooks follow the switch)."""
    src, d = text_batch()
    with fast.only(["teacher_dtype"] if on else []):
        model.zero_grad()
        torch.manual_seed(0)
        np.random.seed(0)  # data2vec v1 vision draws its block masks with numpy
        random.seed(0)
        with torch.autocast(**BF16, enabled=autocast):
            loss = loss_fn(model, src, d)
        loss.backward()
        return loss.detach(), [p.grad.clone() for p in model.parameters() if p.grad is not None]


def built_with_path(build):
    with fast.only(["teacher_dtype"]):
        torch.manual_seed(0)
        return no_dropout(build())


@pytest.mark.parametrize("which", ["text_v2", "text_v1"])
def test_loss_and_gradients_under_autocast_are_bitwise_upstreams(which):
    if which == "text_v2":
        model, loss_fn = built_with_path(tiny_text_v2_model), v2_loss
    else:
        model, loss_fn = built_with_path(tiny_text_v1_model), v1_loss
        with fast.only(["teacher_dtype"]):
            model.set_num_updates(1)  # v1 builds its teacher at the first update
    ema = model.ema if which == "text_v2" else model.encoder.ema
    up_loss, up_grads = loss_and_grads(model, loss_fn, on=False)
    assert all(m.weight.dtype == torch.float32 for m in teacher_linears(ema))
    fast_loss, fast_grads = loss_and_grads(model, loss_fn, on=True)
    lin = teacher_linears(ema)
    assert lin and all(m.weight.dtype == torch.bfloat16 for m in lin)  # the path did act
    assert torch.equal(up_loss, fast_loss)
    assert len(up_grads) == len(fast_grads) > 10
    assert all(torch.equal(a, b) for a, b in zip(up_grads, fast_grads))


def test_master_copy_and_teacher_after_ema_updates():
    """EMA updates (fast and upstream's step) keep the fp32 master bitwise as without the path and load
    it into the bf16 teacher; a forward without autocast makes the teacher fp32 again, sharing the master."""
    plain = no_dropout(tiny_text_v2_model())
    torch.manual_seed(0)
    with_path = built_with_path(tiny_text_v2_model)
    with_path.load_state_dict(plain.state_dict())
    start = {k: v.clone() for k, v in plain.ema.fp32_params.items()}
    for model, on in ((plain, False), (with_path, True)):
        model.ema.fp32_params = {k: v.clone() for k, v in start.items()}  # the same start
        for step_names in (["ema"], []):  # the foreach step, then upstream's
            for i in range(3):
                loss_and_grads(model, v2_loss, on)
                with torch.no_grad():
                    for p in model.parameters():
                        p.add_(0.01 * (i + 1))
                with fast.only(step_names + (["teacher_dtype"] if on else [])):
                    model.ema.step(model.blocks)
    for k, v in plain.ema.fp32_params.items():
        assert torch.equal(v, with_path.ema.fp32_params[k]), k
    master = with_path.ema.fp32_params
    named = dict(with_path.ema.model.named_parameters())
    linear_keys = [f"{n}.weight" for n, m in with_path.ema.model.named_modules() if isinstance(m, torch.nn.Linear)]
    assert all(named[k].dtype == torch.bfloat16 and torch.equal(named[k], master[k].to(torch.bfloat16)) for k in linear_keys)
    loss_and_grads(with_path, v2_loss, on=True, autocast=False)  # a forward without autocast
    assert all(named[k].dtype == torch.float32 and named[k].data_ptr() == master[k].data_ptr() for k in linear_keys)


def test_vision_v1_whole_model_teacher_with_conv_and_no_effect_without_fp32_master():
    torch.manual_seed(0)
    model = built_with_path(tiny_vision_v1_model)
    model.cfg.ema_transformer_only = False  # the teacher is the whole model, patch-embedding Conv2d included
    with fast.only(["teacher_dtype"]):
        model.set_num_updates(1)
    img = torch.randn(2, 3, 32, 32, generator=torch.Generator().manual_seed(0))

    def loss_fn(m, src, d):
        return sum(v.sum() for v in m(img)["losses"].values())

    up_loss, up_grads = loss_and_grads(model, loss_fn, on=False)
    fast_loss, fast_grads = loss_and_grads(model, loss_fn, on=True)
    convs = [m for m in model.ema.model.modules() if isinstance(m, torch.nn.Conv2d)]
    assert convs and all(m.weight.dtype == torch.bfloat16 for m in convs + teacher_linears(model.ema))
    norms = [m for m in model.ema.model.modules() if isinstance(m, torch.nn.LayerNorm)]
    assert norms and all(m.weight.dtype == torch.float32 for m in norms)  # autocast keeps these fp32 anyway
    assert torch.equal(up_loss, fast_loss) and len(up_grads) == len(fast_grads) > 10
    assert all(torch.equal(a, b) for a, b in zip(up_grads, fast_grads))

    from fairseq.modules.ema_module import EMAModule, EMAModuleConfig

    with fast.only(["teacher_dtype"]):
        ema = EMAModule(torch.nn.Linear(8, 8), EMAModuleConfig(ema_fp32=False))
        with torch.no_grad(), torch.autocast(**BF16):
            ema.model(torch.randn(2, 8))
    assert ema.model.weight.dtype == torch.float32  # no master to keep: left as upstream has it


def train_curve(names, updates=100, autocast=True):
    """Losses of ``updates`` Adam updates of the tiny data2vec 2.0 text model with EMA teacher updates,
    under bf16 autocast, with exactly the fast paths ``names`` (model built under them, same seed)."""
    with fast.only(names):
        torch.manual_seed(0)
        model = no_dropout(tiny_text_v2_model())
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
        losses = []
        for i in range(updates):
            src, d = text_batch(i)
            torch.manual_seed(i)
            with torch.autocast(**BF16, enabled=autocast):
                loss = v2_loss(model, src, d)
            opt.zero_grad()
            loss.backward()
            opt.step()
            model.set_num_updates(i + 1)  # the EMA update (decay annealed as in training)
            losses.append(loss.item())
    return losses, model


def test_same_loss_curve_for_100_updates():
    (up, _), (fa, model) = train_curve(["ema"]), train_curve(["ema", "teacher_dtype"])
    assert all(m.weight.dtype == torch.bfloat16 for m in teacher_linears(model.ema))  # the path did act
    assert up == fa  # bitwise
    assert len(set(up)) > 50  # the model did train (the losses move)


def test_a_teacher_cast_by_upstream_is_left_alone():
    """fairseq's fp16/bf16 training (no autocast) and data2vec 2.0's ema_same_dtype cast the whole
    teacher themselves: the path neither casts those weights back to fp32 nor casts them again."""
    model = built_with_path(tiny_text_v2_model)
    model.ema.model.to(torch.bfloat16)  # what data2vec 2.0 does when the student's output is bf16
    x = torch.randn(2, 6, 32, dtype=torch.bfloat16)
    with fast.only(["teacher_dtype"]), torch.no_grad():
        for autocast in (False, True, False):
            with torch.autocast(**BF16, enabled=autocast):
                y = model.ema.model[0](x)
            assert all(m.weight.dtype == torch.bfloat16 for m in teacher_linears(model.ema))
            assert all(p.dtype == torch.bfloat16 for p in model.ema.model.parameters())
    assert (y[0] if isinstance(y, tuple) else y).dtype == torch.bfloat16
