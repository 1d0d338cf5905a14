"""DINOHead and DINOLoss against DINO's formulas; centering, temperatures and the 2-process (gloo) center."""
import math

import pytest
import torch
import torch.nn.functional as F

from d2v_ext.modules.dino_head import DINOHead
from d2v_ext.modules.dino_loss import DINOLoss
from d2v_ext.modules.schedules import teacher_temp_at


def reference_loss(student, teacher, center, t_temp, s_temp, n_global, n_crops):
    """DINO's loss written directly: (n_crops, B, K) tensors, explicit double loop over crop pairs."""
    s = student.view(n_crops, -1, student.size(-1))
    t = teacher.view(n_global, -1, teacher.size(-1))
    terms = []
    for i in range(n_global):
        p = torch.exp((t[i] - center) / t_temp)
        p = p / p.sum(-1, keepdim=True)
        for v in range(n_crops):
            if v != i:
                logq = s[v] / s_temp - torch.logsumexp(s[v] / s_temp, dim=-1, keepdim=True)
                terms.append((-(p * logq).sum(-1)).mean())
    return sum(terms) / len(terms)


def test_loss_equals_the_formula_and_updates_the_center():
    torch.manual_seed(0)
    B, K, n_crops = 6, 50, 5
    student, teacher = torch.randn(n_crops * B, K, dtype=torch.float64), torch.randn(2 * B, K, dtype=torch.float64)
    loss_fn = DINOLoss(K, student_temp=0.1, center_momentum=0.9).double()
    loss_fn.center.copy_(torch.randn(1, K) * 0.1)
    center0 = loss_fn.center.clone()
    loss, mon = loss_fn(student, teacher, teacher_temp=0.04)
    ref = reference_loss(student, teacher, center0, 0.04, 0.1, 2, n_crops)
    assert loss.item() == pytest.approx(ref.item(), rel=1e-6)
    assert torch.equal(loss_fn.center, center0)  # the center moves at the end of the update ...
    loss_fn.commit_center()
    # ... to 0.9 * old + 0.1 * batch mean of the teacher outputs
    assert torch.allclose(loss_fn.center, 0.9 * center0 + 0.1 * teacher.mean(0, keepdim=True))
    loss_fn.commit_center()  # nothing pending: no change
    assert torch.allclose(loss_fn.center, 0.9 * center0 + 0.1 * teacher.mean(0, keepdim=True))
    assert 0 < mon["teacher_entropy"] < math.log(K) and 1 <= mon["prototypes_used"] <= K
    assert mon["teacher_student_kl"] > 0 and mon["center_norm"] == pytest.approx(center0.norm().item())
    with pytest.raises(ValueError, match="crop-major"):
        loss_fn(student[:-1], teacher, 0.04)


def test_gradient_flows_to_the_student_only():
    s = torch.randn(4 * 3, 10, requires_grad=True)
    t = torch.randn(2 * 3, 10, requires_grad=True)
    loss, _ = DINOLoss(10)(s, t, 0.04)
    loss.backward()
    assert s.grad.abs().sum() > 0 and t.grad is None


def test_centering_keeps_the_teacher_mean_near_zero():
    """A teacher with a large constant offset on one prototype: without centering that prototype
    takes all the mass (collapse); the center learns the offset and the centred mean goes to ~0."""
    torch.manual_seed(1)
    K = 32
    offset = torch.zeros(K)
    offset[3] = 5.0
    loss_fn = DINOLoss(K, center_momentum=0.9)
    for _ in range(100):
        teacher = torch.randn(2 * 16, K) + offset
        loss_fn(torch.randn(4 * 16, K), teacher, 0.04)
        loss_fn.commit_center()
    teacher = torch.randn(2 * 4096, K) + offset
    centred = teacher - loss_fn.center
    assert centred.mean(0).abs().max() < 0.25 < 4.5 < teacher.mean(0).abs().max()  # noise of 32-row batches
    uncentred = F.softmax(teacher / 0.04, -1).mean(0)
    with_center = F.softmax(centred / 0.04, -1).mean(0)
    assert uncentred[3] > 0.99 and with_center[3] < 3.0 / K


def test_temperatures_behave_as_documented():
    torch.manual_seed(2)
    t, s = torch.randn(2 * 8, 64), torch.randn(3 * 8, 64)
    ent = [DINOLoss(64)(s, t, temp, update_center=False)[1]["teacher_entropy"] for temp in (0.02, 0.04, 0.07, 1.0)]
    assert ent == sorted(ent)                          # a lower teacher temperature sharpens
    assert teacher_temp_at(0, 30, 0.04, 0.07) == 0.04
    assert teacher_temp_at(15, 30, 0.04, 0.07) == pytest.approx(0.055)
    assert teacher_temp_at(30, 30, 0.04, 0.07) == teacher_temp_at(10 ** 6, 30, 0.04, 0.07) == 0.07
    assert teacher_temp_at(5, 0, 0.04, 0.07) == 0.07  # no warm-up


def test_head_shape_normalisation_and_frozen_prototype_norm():
    head = DINOHead(48, out_dim=100, hidden_dim=64, bottleneck_dim=16)
    x = torch.randn(5, 48)
    out = head(x)
    assert out.shape == (5, 100)
    g = head.last_layer.parametrizations.weight.original0
    assert not g.requires_grad and torch.all(g == 1)
    assert torch.allclose(head.last_layer.weight.norm(dim=1), torch.ones(100), atol=1e-5)
    assert out.abs().max() <= 1 + 1e-5                 # cosine similarities to unit prototypes
    out.sum().backward()
    assert g.grad is None and head.last_layer.parametrizations.weight.original1.grad is not None
    assert len([m for m in head.mlp if isinstance(m, torch.nn.Linear)]) == 3
    assert not any("weight_g" in k for k in head.state_dict())  # the parametrization API, not weight_norm()


def _worker(rank, world, init, student, teacher, out):
    import torch.distributed as dist

    dist.init_process_group("gloo", init_method=init, rank=rank, world_size=world)
    n_crops, n_global = student.size(0), teacher.size(0)
    b = student.size(1) // world
    s = student[:, rank * b:(rank + 1) * b].reshape(n_crops * b, -1)
    t = teacher[:, rank * b:(rank + 1) * b].reshape(n_global * b, -1)
    loss_fn = DINOLoss(student.size(-1))
    loss, _ = loss_fn(s, t, 0.04)
    loss_fn.commit_center()
    loss_fn(s, t, 0.05)  # a second step: the centers must stay in sync
    loss_fn.commit_center()
    torch.save({"loss": loss.detach(), "center": loss_fn.center.clone()}, f"{out}.{rank}")
    dist.destroy_process_group()


def test_head_is_safe_in_fp16_when_the_bottleneck_is_zero():
    head = DINOHead(8, out_dim=16, hidden_dim=16, bottleneck_dim=4).half()
    last = head.mlp[-1]
    torch.nn.init.zeros_(last.weight)
    torch.nn.init.zeros_(last.bias)  # every input maps to a zero bottleneck vector
    out = head(torch.randn(3, 8).half())
    assert out.dtype == torch.float16 and torch.isfinite(out).all() and out.abs().max() == 0
    # the reason: fp16 cannot hold the fp32 eps, so the norm clamps to 0 and 0 / 0 is NaN
    assert torch.isnan(F.normalize(torch.zeros(2, 4, dtype=torch.float16), dim=-1, eps=1e-12)).all()


def test_two_processes_match_one_process_on_the_concatenated_batch(tmp_path):
    import torch.multiprocessing as mp

    torch.manual_seed(3)
    n_crops, B, K = 4, 8, 20
    student, teacher = torch.randn(n_crops, B, K), torch.randn(2, B, K)
    mp.spawn(_worker, args=(2, f"file://{tmp_path / 'rdzv'}", student, teacher, str(tmp_path / "res")), nprocs=2)
    r0, r1 = (torch.load(tmp_path / f"res.{r}") for r in (0, 1))
    single = DINOLoss(K)
    loss, _ = single(student.reshape(n_crops * B, K), teacher.reshape(2 * B, K), 0.04)
    single.commit_center()
    single(student.reshape(n_crops * B, K), teacher.reshape(2 * B, K), 0.05)
    single.commit_center()
    assert torch.allclose(r0["center"], r1["center"]) and torch.allclose(r0["center"], single.center, atol=1e-6)
    # one process accumulating the two halves as micro-batches moves the center the same way
    accumulated = DINOLoss(K)
    for temp in (0.04, 0.05):
        for half in (slice(0, B // 2), slice(B // 2, B)):
            accumulated(student[:, half].reshape(-1, K), teacher[:, half].reshape(-1, K), temp)
        accumulated.commit_center()
    assert torch.allclose(accumulated.center, single.center, atol=1e-6)
    # each worker's loss is the mean over its half of the batch: their average is the full-batch loss
    assert ((r0["loss"] + r1["loss"]) / 2).item() == pytest.approx(loss.item(), rel=1e-5)
