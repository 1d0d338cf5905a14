"""Fast path: data2vec 2.0's attention (``AltAttention`` in upstream's
``examples/data2vec/models/modalities/modules.py``, every encoder block of text and image 2.0)
through ``torch.nn.functional.scaled_dot_product_attention``.

Upstream materialises the L x L score matrix, adds the ALiBi bias to the first heads, fills padded
keys with -inf, takes a float32 softmax and applies dropout. Here the same bias and padding become
SDPA's additive ``attn_mask`` (a boolean mask without ALiBi) and the same scale is passed, so the
result is equal to rounding (5e-7 in float32 at ViT-B shape); on GPU, SDPA picks the flash or
memory-efficient kernels where the mask allows. Cosine attention (not used by any recipe) keeps
upstream's path. With attention dropout in training (text 2.0's default 0.1) SDPA draws its own
dropout mask: the same distribution, not the same random numbers as ``nn.Dropout``.
"""
import torch
import torch.nn.functional as F


def attention_mask(padding_mask, alibi_bias, batch, heads, n, dtype, device):
    """SDPA's mask equal to upstream's edits of the score matrix (None when there are none)."""
    pad = padding_mask is not None and bool(padding_mask.any())
    if alibi_bias is None:
        return ~padding_mask[:, None, None, :].to(torch.bool) if pad else None  # True = attend
    mask = torch.zeros(batch, heads, n, n, dtype=alibi_bias.dtype, device=device)
    mask[:, : alibi_bias.size(1)] += alibi_bias
    if pad:
        mask = mask.masked_fill(padding_mask[:, None, None, :].to(torch.bool), float("-inf"))
    return mask


def sdpa_forward(self, x, padding_mask=None, alibi_bias=None, upstream=None):
    if self.cosine_attention:
        return upstream(self, x, padding_mask, alibi_bias)
    B, N, C = x.shape
    qkv = self.qkv(x).reshape(B, N, 3, self.num_heads, C // self.num_heads).permute(2, 0, 3, 1, 4)
    q, k, v = qkv[0], qkv[1], qkv[2]
    dtype = q.dtype
    mask = attention_mask(padding_mask, alibi_bias, B, self.num_heads, N, dtype, x.device)
    if mask is not None and mask.is_floating_point():  # upstream computes the scores in the bias's dtype
        q, k, v = q.to(mask.dtype), k.to(mask.dtype), v.to(mask.dtype)
    p = self.attn_drop.p if self.training else 0.0
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, dropout_p=p, scale=self.scale)
    x = out.to(dtype).transpose(1, 2).reshape(B, N, C)
    return self.proj_drop(self.proj(x))
