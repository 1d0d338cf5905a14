"""DINO's projection head (Caron et al. 2021, facebookresearch/dino ``DINOHead``), plain torch.

3-layer MLP (GELU, hidden 2048) -> bottleneck 256 -> L2 normalisation -> weight-normalised linear
layer to K prototypes without bias. The weight norm's magnitude is fixed at 1 and frozen
(DINO's ``norm_last_layer=True``), so the logits are cosine similarities to the prototypes.
Weight normalisation uses torch's parametrization API (``torch.nn.utils.parametrizations``), not
the deprecated ``torch.nn.utils.weight_norm``.
"""
import torch
import torch.nn as nn
import torch.nn.functional as F
from torch.nn.utils.parametrizations import weight_norm


class DINOHead(nn.Module):
    def __init__(self, in_dim, out_dim=65536, hidden_dim=2048, bottleneck_dim=256, nlayers=3,
                 norm_last_layer=True):
        super().__init__()
        dims = [in_dim] + [hidden_dim] * (max(nlayers, 1) - 1) + [bottleneck_dim]
        layers = []
        for i, (a, b) in enumerate(zip(dims[:-1], dims[1:])):
            layers.append(nn.Linear(a, b))
            if i < len(dims) - 2:
                layers.append(nn.GELU())
        self.mlp = nn.Sequential(*layers)
        self.apply(self._init_weights)
        self.last_layer = weight_norm(nn.Linear(bottleneck_dim, out_dim, bias=False))
        g = self.last_layer.parametrizations.weight.original0
        g.data.fill_(1.0)
        g.requires_grad = not norm_last_layer

    @staticmethod
    def _init_weights(m):
        if isinstance(m, nn.Linear):
            nn.init.trunc_normal_(m.weight, std=0.02)
            if m.bias is not None:
                nn.init.zeros_(m.bias)

    def forward(self, x):
        # in fp16, 1e-12 underflows to 0 and a zero bottleneck vector divides by zero (dinov2's switch)
        eps = 1e-6 if x.dtype == torch.float16 else 1e-12
        x = F.normalize(self.mlp(x), dim=-1, p=2, eps=eps)
        return self.last_layer(x)
