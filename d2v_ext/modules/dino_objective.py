"""DINO's objective on top of any backbone: student head, its EMA teacher copy, and the loss.

The caller provides backbone features: the student's for every view (crop-major, n_crops x B) and
the teacher's for the global views (n_global x B), and the current teacher temperature.
``teacher_step(decay)`` moves the teacher head toward the student head with the backbone's EMA decay;
``end_update()`` moves the center once the update's forwards are done (see DINOLoss.commit_center).
"""
import copy

import torch
import torch.nn as nn

from .dino_head import DINOHead
from .dino_loss import DINOLoss


class DinoObjective(nn.Module):
    def __init__(self, embed_dim, out_dim=65536, hidden_dim=2048, bottleneck_dim=256, student_temp=0.1,
                 center_momentum=0.9):
        super().__init__()
        self.head = DINOHead(embed_dim, out_dim, hidden_dim, bottleneck_dim)
        self.teacher_head = copy.deepcopy(self.head)
        for p in self.teacher_head.parameters():
            p.requires_grad = False
        self.loss = DINOLoss(out_dim, student_temp, center_momentum)

    @torch.no_grad()
    def teacher_step(self, decay):
        """teacher = decay * teacher + (1 - decay) * student, every tensor at once (bitwise the
        per-tensor ``t.mul_(decay).add_(s, alpha=1 - decay)``)."""
        teacher = list(self.teacher_head.parameters())
        torch._foreach_mul_(teacher, decay)
        torch._foreach_add_(teacher, [p.detach() for p in self.head.parameters()], alpha=1 - decay)

    def end_update(self):
        self.loss.commit_center()

    def forward(self, student_features, teacher_features, teacher_temp, n_global=2, update_center=True):
        student = self.head(student_features)
        with torch.no_grad():
            teacher = self.teacher_head(teacher_features)
        loss, monitors = self.loss(student, teacher, teacher_temp, n_global, update_center)
        monitors.pop("teacher_entropy_max")
        monitors["teacher_temp"] = teacher_temp
        return loss, monitors
