"""Weights of a RoBERTa-style text encoder between fairseq and transformers.

fairseq's ``TransformerEncoder`` (data2vec v1 text's ``encoder.sentence_encoder``, RoBERTa's too) and
transformers' ``Data2VecTextModel`` / ``RobertaModel`` are the same post-LN BERT network:

| fairseq (``layers.{i}.``) | transformers (``encoder.layer.{i}.``) |
|---|---|
| ``self_attn.{q,k,v}_proj`` | ``attention.self.{query,key,value}`` |
| ``self_attn.out_proj`` / ``self_attn_layer_norm`` | ``attention.output.dense`` / ``.LayerNorm`` |
| ``fc1`` / ``fc2`` / ``final_layer_norm`` | ``intermediate.dense`` / ``output.dense`` / ``.LayerNorm`` |
| ``embed_tokens``, ``embed_positions``, ``layernorm_embedding`` | ``embeddings.word_embeddings``, ``.position_embeddings``, ``.LayerNorm`` |

Both number positions from ``padding_idx + 1`` (so the position tables match row for row).
transformers adds a token-type embedding (one row, added to every token) that fairseq lacks: it is
folded into the position table, and kept, with the pooler (transformers only), under
``transformers_extra`` in the fairseq checkpoint, so converting back restores them bit for bit.
"""
import torch

from ..errors import CheckpointMismatchError

LAYER = {"attention.self.query": "self_attn.q_proj", "attention.self.key": "self_attn.k_proj",
         "attention.self.value": "self_attn.v_proj", "attention.output.dense": "self_attn.out_proj",
         "attention.output.LayerNorm": "self_attn_layer_norm", "intermediate.dense": "fc1",
         "output.dense": "fc2", "output.LayerNorm": "final_layer_norm"}
EMBEDDINGS = {"embeddings.word_embeddings": "embed_tokens", "embeddings.position_embeddings": "embed_positions",
              "embeddings.LayerNorm": "layernorm_embedding"}


def names(n_layers):
    """[(transformers name, fairseq name)] of every encoder parameter, relative to each side's encoder."""
    pairs = [(f"{hf}.{p}", f"{fs}.{p}") for hf, fs in EMBEDDINGS.items() for p in ("weight", "bias")
             if not (p == "bias" and "LayerNorm" not in hf)]
    for i in range(n_layers):
        pairs += [(f"encoder.layer.{i}.{hf}.{p}", f"layers.{i}.{fs}.{p}") for hf, fs in LAYER.items()
                  for p in ("weight", "bias")]
    return pairs


def hf_to_fairseq(hf, n_layers, rows=None, hf_prefix="", fs_prefix="encoder.sentence_encoder."):
    """(fairseq tensors, transformers-only tensors) of the encoder. ``rows[i]``: the transformers row
    of fairseq index i (None: the same row)."""
    out = {}
    for h, f in names(n_layers):
        out[fs_prefix + f] = hf[hf_prefix + h].clone()
    if rows is not None:
        out[fs_prefix + "embed_tokens.weight"] = hf[hf_prefix + "embeddings.word_embeddings.weight"][rows].clone()
    extra = {k[len(hf_prefix):]: v.clone() for k, v in hf.items() if k.startswith(hf_prefix + "pooler.")}
    tt = hf.get(hf_prefix + "embeddings.token_type_embeddings.weight")
    if tt is not None:
        if tt.size(0) != 1:
            raise CheckpointMismatchError(f"{tt.size(0)} token types (type_vocab_size): fairseq's encoder has no token "
                                          "types; only type_vocab_size=1 (RoBERTa, data2vec) can be folded in")
        extra["embeddings.token_type_embeddings.weight"] = tt.clone()
        extra["embeddings.position_embeddings.weight"] = hf[hf_prefix + "embeddings.position_embeddings.weight"].clone()
        out[fs_prefix + "embed_positions.weight"] = out[fs_prefix + "embed_positions.weight"] + tt[0]
    out[fs_prefix + "version"] = torch.Tensor([3])
    return out, extra


def fairseq_to_hf(fs, n_layers, rows=None, hf_rows=None, extra=None, fs_prefix="encoder.sentence_encoder.",
                  hf_prefix=""):
    """transformers tensors of the encoder (token types zero, or restored from ``extra``); ``rows`` as in
    :func:`hf_to_fairseq`, into a table of ``hf_rows`` rows."""
    out = {hf_prefix + h: fs[fs_prefix + f].clone() for h, f in names(n_layers)}
    if rows is not None:
        emb = fs[fs_prefix + "embed_tokens.weight"]
        table = torch.zeros(hf_rows or max(rows) + 1, emb.size(1), dtype=emb.dtype)
        table[rows] = emb
        out[hf_prefix + "embeddings.word_embeddings.weight"] = table
    pos = out[hf_prefix + "embeddings.position_embeddings.weight"]
    out[hf_prefix + "embeddings.token_type_embeddings.weight"] = torch.zeros(1, pos.size(1), dtype=pos.dtype)
    extra = extra or {}
    tt, orig_pos = extra.get("embeddings.token_type_embeddings.weight"), extra.get("embeddings.position_embeddings.weight")
    if tt is not None and orig_pos is not None and torch.equal(orig_pos + tt[0], pos):
        out[hf_prefix + "embeddings.token_type_embeddings.weight"] = tt.clone()  # the folded table, unfolded
        out[hf_prefix + "embeddings.position_embeddings.weight"] = orig_pos.clone()
    out.update({hf_prefix + k: v.clone() for k, v in extra.items() if k.startswith("pooler.")})
    return out


def hf_config_kwargs(embed_dim, ffn_dim, layers, heads, positions, vocab_size, dropout=0.1, attention_dropout=0.1):
    """transformers config arguments for a fairseq encoder (``positions``: its max source positions)."""
    return dict(vocab_size=vocab_size, hidden_size=embed_dim, num_hidden_layers=layers, num_attention_heads=heads,
                intermediate_size=ffn_dim, max_position_embeddings=positions + 2, type_vocab_size=1,
                layer_norm_eps=1e-5, hidden_act="gelu", hidden_dropout_prob=dropout,
                attention_probs_dropout_prob=attention_dropout, pad_token_id=1, bos_token_id=0, eos_token_id=2)
