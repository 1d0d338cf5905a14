"""The foreach EMA fast path gives the teacher upstream's ``EMAModule.step`` gives, to float32 rounding
(relative 1e-6; upstream multiplies then adds, the fast path interpolates in one pass): data2vec
v1 text (EMA tensors are the teacher's own), v1 vision, data2vec 2.0 (a separate fp32 copy, fp16
teacher too), skipped keys, frozen parameters, buffers; and it is what training uses by default."""
import copy

import pytest
import torch
from fairseq.modules.ema_module import EMAModule, EMAModuleConfig

import d2v_ext  # noqa: F401  (installs the fast paths)
from builders import tiny_text_v1_model, tiny_text_v2_model, tiny_vision_v1_model
from d2v_ext import fast
from d2v_ext.fast.ema import foreach_ema_step
from helpers import run_python

def original_step():
    """EMAModule._step_internal as fairseq defines it (the installed wrapper keeps it as __wrapped__)."""
    return getattr(EMAModule._step_internal, "__wrapped__", EMAModule._step_internal)


def perturb(model, seed):
    g = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=g) * 0.01)
        for b in model.buffers():
            if b.is_floating_point():
                b.add_(torch.randn(b.shape, generator=g))


def teacher_state(ema):
    return {k: v.clone() for k, v in ema.model.state_dict().items()}, \
        {k: v.clone() for k, v in ema.fp32_params.items() if torch.is_tensor(v)}


def run_both(student, ema_of, steps=5, decays=(0.9, 0.999, 0.9999)):
    """Teacher states after ``steps`` updates through upstream's step and through the fast path."""
    out = []
    for step in (original_step(), lambda e, m: foreach_ema_step(e, m, original_step())):
        s = copy.deepcopy(student)
        ema = ema_of(s)
        for i in range(steps):
            perturb(s, i)
            ema.set_decay(decays[i % len(decays)])
            step(ema, s)
        out.append(teacher_state(ema))
    return out


def assert_bitwise(a, b):
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), k


def assert_rounding(a, b):
    """Equal to float32 rounding (fp16 tensors: to one fp16 step)."""
    assert a.keys() == b.keys()
    for k in a:
        tol = 1e-3 if a[k].dtype == torch.float16 else 1e-6
        assert torch.allclose(a[k].float(), b[k].float(), rtol=tol, atol=tol * 1e-2), (k, float((a[k] - b[k]).abs().max()))


@pytest.mark.parametrize("fp32", [False, True])
def test_generic_module_with_skipped_keys_frozen_params_and_buffers(fp32):
    torch.manual_seed(0)
    student = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.BatchNorm1d(8), torch.nn.Linear(8, 4))
    student[2].bias.requires_grad_(False)
    (ua, uf), (fa, ff) = run_both(student, lambda s: EMAModule(s, EMAModuleConfig(ema_fp32=fp32), skip_keys={"0.bias"}))
    assert_rounding(ua, fa)
    assert_rounding(uf, ff)
    assert not torch.equal(ua["0.weight"], student[0].weight)  # it moved


def test_data2vec_v1_text_and_vision_teachers_equal_upstreams():
    torch.manual_seed(0)
    text = tiny_text_v1_model().encoder
    vision = tiny_vision_v1_model()
    for owner, student in ((text, text.sentence_encoder), (vision, vision.encoder)):
        owner.make_ema_teacher()  # upstream's teacher: ema_fp32=True, its skip_keys
        cfg, skip = owner.ema.config, set(owner.ema.skip_keys)
        (ua, uf), (fa, ff) = run_both(student, lambda s: EMAModule(s, cfg, skip_keys=skip))
        assert_rounding(ua, fa)
        assert_rounding(uf, ff)


def test_data2vec2_fp32_copy_and_fp16_student_equal_upstreams():
    torch.manual_seed(0)
    model = tiny_text_v2_model()
    (ua, uf), (fa, ff) = run_both(model, lambda s: s.make_ema_teacher(0.999))
    assert_rounding(ua, fa)
    assert_rounding(uf, ff)
    half = copy.deepcopy(model).half()  # fp16 student (upstream's fp16 training): fp32 teacher and EMA copy
    (ua, uf), (fa, ff) = run_both(half, lambda s: s.make_ema_teacher(0.999))
    assert_rounding(ua, fa)
    assert_rounding(uf, ff)


def test_fp16_teacher_gets_the_fp32_copy_cast_in():
    torch.manual_seed(0)
    student = torch.nn.Sequential(torch.nn.Linear(8, 8), torch.nn.LayerNorm(8)).half()
    (ua, uf), (fa, ff) = run_both(student, lambda s: EMAModule(s, EMAModuleConfig(ema_fp32=True)))
    assert next(iter(ua.values())).dtype == torch.float16 and next(iter(uf.values())).dtype == torch.float32
    assert_rounding(ua, fa)
    assert_rounding(uf, ff)


def test_training_uses_it_by_default_and_d2v_ext_fast_none_turns_it_off():
    assert "ema" in fast.in_use()
    code = ("import d2v_ext\nfrom fairseq.modules.ema_module import EMAModule\nfrom d2v_ext import fast\n"
            "print('FAST', fast.in_use(), getattr(EMAModule._step_internal, '_d2v_ext_foreach_ema', False))\n")
    rc, out = run_python(code)
    assert rc == 0 and "FAST ['ema', 'sdpa'] True" in out and "fast paths=ema,sdpa" in out, out[-1000:]
    rc, out = run_python(code, env={"D2V_EXT_FAST": "none"})
    assert rc == 0 and "FAST [] False" in out, out[-1000:]


def test_dino_teacher_head_step_is_bitwise_the_per_tensor_update():
    from d2v_ext.modules.dino_objective import DinoObjective

    torch.manual_seed(0)
    obj = DinoObjective(16, out_dim=32, hidden_dim=24, bottleneck_dim=8)
    perturb(obj.head, 1)
    ref = copy.deepcopy(obj)
    with torch.no_grad():
        for t, s in zip(ref.teacher_head.parameters(), ref.head.parameters()):
            t.mul_(0.996).add_(s, alpha=1 - 0.996)
    obj.teacher_step(0.996)
    assert_bitwise(ref.teacher_head.state_dict(), obj.teacher_head.state_dict())
    assert not torch.equal(obj.teacher_head.state_dict()["mlp.0.weight"], obj.head.state_dict()["mlp.0.weight"])


def test_same_loss_curve_for_100_updates():
    """100 Adam updates of the tiny data2vec 2.0 text model, each followed by its EMA teacher update:
    upstream's step and the foreach step give the same losses (to float32 rounding of the teacher)."""
    from test_fast_teacher_dtype import train_curve

    (up, _), (fa, _) = train_curve([], autocast=False), train_curve(["ema"], autocast=False)
    assert len(set(up)) > 50
    assert max(abs(a - b) / abs(a) for a, b in zip(up, fa)) < 1e-4
