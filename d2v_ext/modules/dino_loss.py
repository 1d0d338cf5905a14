"""DINO's loss (Caron et al. 2021), plain torch, with the collapse monitors computed alongside.

Cross-entropy between the centred, sharpened teacher distribution of every global crop and the
student distribution of every crop of a *different* view, averaged over those pairs:

    p_t = softmax((t - center) / teacher_temp),  log p_s = log_softmax(s / student_temp)
    loss = mean over pairs (i, v != i) of mean over the batch of  -sum_k p_t[i] log p_s[v]

Outputs are crop-major: ``student`` is (n_crops * B, K), ``teacher`` is (n_global * B, K), crop
``i`` being rows ``i*B:(i+1)*B``; the first ``n_global`` student crops are the global views the
teacher saw. The teacher temperature is passed in by the caller (it follows a warm-up schedule,
see ``schedules.teacher_temp_at``). The center moves once per update: each forward adds its teacher
outputs to a running sum, and :meth:`DINOLoss.commit_center` (called by the model at the end of the
update) moves the center with momentum toward their mean, all-reduced over workers when
torch.distributed is initialised. So every worker keeps the same center, and a batch gives the same
center whether it is split over processes or over gradient-accumulation steps (DINO's own code
updates it in every forward, which is the same when neither splits the batch).
"""
import math

import torch
import torch.distributed as dist
import torch.nn as nn
import torch.nn.functional as F


class DINOLoss(nn.Module):
    def __init__(self, out_dim, student_temp=0.1, center_momentum=0.9):
        super().__init__()
        self.student_temp = student_temp
        self.center_momentum = center_momentum
        self.register_buffer("center", torch.zeros(1, out_dim))
        self._pending = None  # (sum of teacher outputs, count) since the last commit_center()

    def forward(self, student, teacher, teacher_temp, n_global=2, update_center=True):
        """Returns (loss, monitors). ``monitors`` (floats, detached) describe this batch."""
        batch = teacher.size(0) // n_global
        n_crops = student.size(0) // batch
        if teacher.size(0) != n_global * batch or student.size(0) != n_crops * batch or n_crops < 2:
            raise ValueError(f"DINOLoss: teacher {tuple(teacher.shape)} / student {tuple(student.shape)} are not "
                             f"crop-major stacks of {n_global} global and >= 2 total crops")
        s_logp = F.log_softmax(student.float() / self.student_temp, dim=-1).chunk(n_crops)
        t_prob = F.softmax((teacher.float() - self.center) / teacher_temp, dim=-1).detach().chunk(n_global)
        total, pairs, kl = 0.0, 0, 0.0
        for i, q in enumerate(t_prob):
            for v, logp in enumerate(s_logp):
                if v == i:
                    continue
                total = total + torch.sum(-q * logp, dim=-1).mean()
                pairs += 1
        loss = total / pairs
        with torch.no_grad():
            t_all = torch.cat(t_prob)
            entropy = -(t_all * torch.log(t_all.clamp_min(1e-12))).sum(-1).mean()
            for i, q in enumerate(t_prob):  # KL(teacher || student) on the same global view
                kl = kl + (q * (torch.log(q.clamp_min(1e-12)) - s_logp[i])).sum(-1).mean()
            usage = t_all.mean(0)
            eff = torch.exp(-(usage * torch.log(usage.clamp_min(1e-12))).sum())
            monitors = {"teacher_entropy": entropy.item(), "teacher_student_kl": (kl / n_global).item(),
                        "center_norm": self.center.norm().item(), "prototypes_used": eff.item(),
                        "teacher_entropy_max": math.log(teacher.size(-1))}
        if update_center:
            self.update_center(teacher)
        return loss, monitors

    @torch.no_grad()
    def update_center(self, teacher):
        """Add a forward's teacher outputs to the pending sum; the center moves in commit_center()."""
        batch_sum, n = teacher.float().sum(dim=0, keepdim=True), teacher.size(0)
        self._pending = (batch_sum, n) if self._pending is None else (self._pending[0] + batch_sum, self._pending[1] + n)

    @torch.no_grad()
    def commit_center(self):
        """center = m * center + (1 - m) * mean of the teacher outputs since the last commit, over all
        workers. A collective when torch.distributed is initialised: every worker calls it."""
        if self._pending is None:
            return
        batch_sum, n = self._pending
        self._pending = None
        count = torch.tensor([n], dtype=torch.float, device=batch_sum.device)
        if dist.is_available() and dist.is_initialized():
            dist.all_reduce(batch_sum)
            dist.all_reduce(count)
        self.center.mul_(self.center_momentum).add_(batch_sum / count * (1 - self.center_momentum))
