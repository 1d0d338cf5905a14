"""Weights of a data2vec v1 vision (BEiT-style) encoder between fairseq and transformers.

| fairseq ``data2vec_vision`` | transformers ``Data2VecVisionModel`` |
|---|---|
| ``cls_emb`` / ``mask_emb`` | ``embeddings.cls_token`` / ``embeddings.mask_token`` |
| ``patch_embed.conv`` | ``embeddings.patch_embeddings.projection`` |
| ``encoder.rel_pos_bias.relative_position_bias_table`` (shared) | ``encoder.relative_position_bias.relative_position_bias_table`` |
| ``encoder.blocks.{i}.attn.relative_position_bias_table`` (per layer) | ``encoder.layer.{i}.attention.attention.relative_position_bias.relative_position_bias_table`` |
| ``blocks.{i}.attn.qkv.weight`` (fused) | ``attention.attention.{query,key,value}.weight`` (split in three) |
| ``blocks.{i}.attn.q_bias`` / ``v_bias`` (no key bias) | ``query.bias`` / ``value.bias`` (``key`` has none) |
| ``blocks.{i}.attn.proj``, ``mlp.0``, ``mlp.2`` | ``attention.output.dense``, ``intermediate.dense``, ``output.dense`` |
| ``blocks.{i}.norm1`` / ``norm2`` / ``gamma_1`` / ``gamma_2`` | ``layernorm_before`` / ``layernorm_after`` / ``lambda_1`` / ``lambda_2`` |
| ``encoder.norm`` (pretraining) | ``layernorm`` (``use_mean_pooling: false``) |
| classification: ``fc_norm`` / ``head`` | ``pooler.layernorm`` / ``classifier`` (``use_mean_pooling: true``) |

The relative-position *index* buffers are not weights: both sides compute the same index (BEiT's).
``final_proj`` (the regression head) and the EMA teacher are pretraining-only.
"""
import torch

from ..errors import CheckpointMismatchError

BLOCK = {"norm1": "layernorm_before", "norm2": "layernorm_after", "attn.proj": "attention.output.dense",
         "mlp.0": "intermediate.dense", "mlp.2": "output.dense"}
TABLE = "relative_position_bias_table"
QKV = ("query", "key", "value")


def layout_of_fairseq(fs, n_layers, prefix=""):
    """Which optional parts a fairseq vision state has: {mask, shared_bias, layer_bias, qkv_bias, scale, norm}."""
    b = f"{prefix}encoder.blocks.0."
    return dict(mask=fs.get(prefix + "mask_emb") is not None, shared_bias=f"{prefix}encoder.rel_pos_bias.{TABLE}" in fs,
                layer_bias=f"{b}attn.{TABLE}" in fs, qkv_bias=b + "attn.q_bias" in fs, scale=b + "gamma_1" in fs,
                norm=prefix + "encoder.norm.weight" in fs)


def layout_of_hf(hf, n_layers, prefix=""):
    """:func:`layout_of_fairseq` for a transformers state."""
    L = f"{prefix}encoder.layer.0."
    return dict(mask=prefix + "embeddings.mask_token" in hf, shared_bias=f"{prefix}encoder.relative_position_bias.{TABLE}" in hf,
                layer_bias=f"{L}attention.attention.relative_position_bias.{TABLE}" in hf,
                qkv_bias=L + "attention.attention.query.bias" in hf, scale=L + "lambda_1" in hf,
                norm=prefix + "layernorm.weight" in hf)


def names(n_layers, layout):
    """[(fairseq key, transformers key)] of every tensor but the fused qkv weight."""
    pairs = [("cls_emb", "embeddings.cls_token"), ("patch_embed.conv.weight", "embeddings.patch_embeddings.projection.weight"),
             ("patch_embed.conv.bias", "embeddings.patch_embeddings.projection.bias")]
    if layout["mask"]:
        pairs.append(("mask_emb", "embeddings.mask_token"))
    if layout["shared_bias"]:
        pairs.append((f"encoder.rel_pos_bias.{TABLE}", f"encoder.relative_position_bias.{TABLE}"))
    for i in range(n_layers):
        b, L = f"encoder.blocks.{i}.", f"encoder.layer.{i}."
        pairs += [(f"{b}{fk}.{p}", f"{L}{hk}.{p}") for fk, hk in BLOCK.items() for p in ("weight", "bias")]
        if layout["qkv_bias"]:
            pairs += [(b + "attn.q_bias", L + "attention.attention.query.bias"),
                      (b + "attn.v_bias", L + "attention.attention.value.bias")]
        if layout["layer_bias"]:
            pairs.append((f"{b}attn.{TABLE}", f"{L}attention.attention.relative_position_bias.{TABLE}"))
        if layout["scale"]:
            pairs += [(b + "gamma_1", L + "lambda_1"), (b + "gamma_2", L + "lambda_2")]
    if layout["norm"]:
        pairs += [("encoder.norm.weight", "layernorm.weight"), ("encoder.norm.bias", "layernorm.bias")]
    return pairs


def fairseq_to_hf(fs, n_layers, fs_prefix="", hf_prefix=""):
    """transformers tensors of a fairseq vision encoder (``fs``: its state dict)."""
    layout = layout_of_fairseq(fs, n_layers, fs_prefix)
    out = {hf_prefix + h: fs[fs_prefix + f].clone() for f, h in names(n_layers, layout)}
    for i in range(n_layers):
        L = f"{hf_prefix}encoder.layer.{i}.attention.attention."
        for name, w in zip(QKV, fs[f"{fs_prefix}encoder.blocks.{i}.attn.qkv.weight"].chunk(3, dim=0)):
            out[f"{L}{name}.weight"] = w.clone()
    return out


def hf_to_fairseq(hf, n_layers, hf_prefix="", fs_prefix=""):
    """fairseq tensors of a transformers vision encoder (the inverse of :func:`fairseq_to_hf`)."""
    layout = layout_of_hf(hf, n_layers, hf_prefix)
    out = {fs_prefix + f: hf[hf_prefix + h].clone() for f, h in names(n_layers, layout)}
    for i in range(n_layers):
        L = f"{hf_prefix}encoder.layer.{i}.attention.attention."
        key_bias = hf.get(L + "key.bias")
        if key_bias is not None and torch.count_nonzero(key_bias):
            raise CheckpointMismatchError(f"transformers layer {i} has a non-zero key bias; fairseq's data2vec_vision "
                                          "attention has none (BEiT's q_bias / v_bias only)")
        out[f"{fs_prefix}encoder.blocks.{i}.attn.qkv.weight"] = torch.cat([hf[f"{L}{n}.weight"] for n in QKV])
    return out
