"""data2vec 2.0 text (``data2vec_multi``, TEXT modality) seen as a v1 text encoder.

With the settings of the released 2.0 text models (post-LN blocks, ``layer_norm_first: false``; no
prenet blocks; learned positions from ``padding_idx + 1``; no ALiBi; no extra tokens; unscaled
embeddings with a LayerNorm), a 2.0 text encoder computes exactly what fairseq's v1
``TransformerEncoder`` (and transformers' ``Data2VecTextModel``) computes; the only difference in
the weights is the fused attention projection:

| data2vec 2.0 | v1 (``encoder.sentence_encoder.``) |
|---|---|
| ``modality_encoders.TEXT.local_encoder.{embed_tokens,embed_positions,layernorm_embedding}`` | same names |
| ``blocks.{i}.attn.qkv`` (one (3C, C) matrix + bias) | ``layers.{i}.self_attn.{q,k,v}_proj`` (its three thirds) |
| ``blocks.{i}.attn.proj`` / ``norm1`` | ``self_attn.out_proj`` / ``self_attn_layer_norm`` |
| ``blocks.{i}.mlp.fc1`` / ``mlp.fc2`` / ``norm2`` | ``fc1`` / ``fc2`` / ``final_layer_norm`` |

Pretraining-only (no counterpart, dropped): the decoder (``modality_encoders.TEXT.decoder``), the
regression heads (``recon_proj``, ``shared_decoder``), the EMA teacher (``_ema``).
"""
from ..errors import CheckpointMismatchError

LOCAL = "modality_encoders.TEXT.local_encoder."
BLOCK = {"attn.proj": "self_attn.out_proj", "norm1": "self_attn_layer_norm", "mlp.fc1": "fc1", "mlp.fc2": "fc2",
         "norm2": "final_layer_norm"}
REQUIRED = dict(layer_norm_first=False, prenet_depth=0, use_alibi_encoder=False, learned_pos=True,
                no_scale_embedding=True, layernorm_embedding=True, num_extra_tokens=0,
                no_token_positional_embeddings=False)


def settings(model_cfg):
    """The model and text-modality settings that decide whether the encoder is a v1 one."""
    text = model_cfg["modalities"]["text"]
    got = {k: model_cfg.get(k, text.get(k)) if k == "layer_norm_first" else text.get(k) for k in REQUIRED}
    return got


def encoder_sizes(model_cfg):
    """{embed_dim, ffn, layers, heads, positions, dropout, attention_dropout}, after checking the settings."""
    got = settings(model_cfg)
    bad = {k: v for k, v in got.items() if v != REQUIRED[k]}
    if bad:
        raise CheckpointMismatchError(f"data2vec 2.0 text settings {bad} have no v1 / transformers counterpart; the "
                                      f"mapping needs {REQUIRED}")
    ratio = float(model_cfg["mlp_ratio"])
    return dict(embed_dim=model_cfg["embed_dim"], ffn=int(model_cfg["embed_dim"] * ratio), layers=model_cfg["depth"],
                heads=model_cfg["num_heads"], positions=model_cfg["modalities"]["text"]["max_source_positions"],
                dropout=model_cfg.get("encoder_dropout", 0.1), attention_dropout=model_cfg.get("attention_dropout", 0.1))


def as_v1(params, n_layers, prefix="", v1_prefix="encoder.sentence_encoder."):
    """The v1 encoder tensors of a 2.0 text state (``prefix``: ``model.`` in a fine-tuning checkpoint)."""
    out = {}
    for name in ("embed_tokens.weight", "embed_positions.weight", "layernorm_embedding.weight", "layernorm_embedding.bias"):
        out[v1_prefix + name] = params[prefix + LOCAL + name].clone()
    for i in range(n_layers):
        b, L = f"{prefix}blocks.{i}.", f"{v1_prefix}layers.{i}."
        for p in ("weight", "bias"):
            for two, one in BLOCK.items():
                out[f"{L}{one}.{p}"] = params[f"{b}{two}.{p}"].clone()
            for part, t in zip("qkv", params[f"{b}attn.qkv.{p}"].chunk(3, dim=0)):
                out[f"{L}self_attn.{part}_proj.{p}"] = t.clone()
    out[v1_prefix + "version"] = __import__("torch").Tensor([3])
    return out
