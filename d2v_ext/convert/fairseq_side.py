"""Building fairseq checkpoints for converted weights, and running fairseq text encoders on a batch."""
from types import SimpleNamespace

import torch
from omegaconf import OmegaConf, open_dict

OPTIMIZER_HISTORY = [{"criterion_name": "ModelCriterion", "optimizer_name": "converted", "lr_scheduler_state": {},
                      "num_updates": 0}]


def full_config(model_cfg, task_cfg, **groups):
    """A complete fairseq cfg (FairseqConfig defaults) with ``model``, ``task`` and other groups set,
    resolved to plain containers, as fairseq saves it."""
    from fairseq.dataclass.configs import FairseqConfig

    cfg = OmegaConf.structured(FairseqConfig)
    with open_dict(cfg):
        cfg.model, cfg.task = model_cfg, task_cfg
        for k, v in groups.items():
            cfg[k] = v
    return OmegaConf.to_container(cfg, resolve=True, enum_to_str=True)


def checkpoint(model_state, cfg, extra=None, source=None, hf_class=None):
    """A fairseq checkpoint dict that restore_file / model_path / load_model_ensemble accept."""
    state = {"model": model_state, "cfg": cfg, "args": None, "optimizer_history": OPTIMIZER_HISTORY,
             "extra_state": {"train_iterator": {"epoch": 1}, "val_loss": None}, "last_optimizer_state": None,
             "criterion": None}
    if extra:
        state["transformers_extra"] = extra  # transformers-only tensors, for an exact conversion back
    if source:
        state["converted_from"] = str(source)
    if hf_class:
        state["transformers_class"] = hf_class  # converting back gives the same class
    return state


def data2vec_text_cfg(sizes, dropout=0.1, attention_dropout=0.1):
    """A data2vec_text (v1) model config for an encoder of ``sizes`` (see text_models.encoder_sizes)."""
    from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextConfig

    cfg = OmegaConf.structured(Data2VecTextConfig)
    cfg.max_positions = sizes["positions"]
    cfg.ema_anneal_end_step = 0
    t = cfg.transformer
    t.max_source_positions, t.activation_fn, t.layernorm_embedding, t.no_scale_embedding = sizes["positions"], "gelu", True, True
    t.dropout, t.attention_dropout = sizes.get("dropout", dropout), sizes.get("attention_dropout", attention_dropout)
    e = t.encoder
    e.embed_dim, e.ffn_embed_dim, e.layers, e.attention_heads = sizes["embed_dim"], sizes["ffn"], sizes["layers"], sizes["heads"]
    e.normalize_before, e.learned_pos = False, True
    with open_dict(cfg):
        cfg._name = "data2vec_text"
    return cfg


def build_text_encoder(model_cfg, dictionary):
    """A fairseq data2vec_text model (pretraining-only parts removed) for ``model_cfg``, in eval mode."""
    from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextModel

    model = Data2VecTextModel.build_model(model_cfg, SimpleNamespace(source_dictionary=dictionary, cfg=SimpleNamespace(data="")))
    model.remove_pretraining_modules()
    return model.eval()


@torch.no_grad()
def fairseq_hidden_states(sentence_encoder, tokens):
    """[embedding output, layer 1, ..., layer L], each (B, T, C), of a fairseq TransformerEncoder."""
    out = sentence_encoder(tokens, return_all_hiddens=True)
    return [h.transpose(0, 1) for h in out["encoder_states"]]


@torch.no_grad()
def fairseq_vision_hidden_states(model, images):
    """[embedding output, block 1, ..., block L], each (B, 1 + patches, C) with ``<cls>`` first, of a
    fairseq data2vec_vision model (its blocks run one by one, as ``encoder.extract_features`` does)."""
    x = model.patch_embed(images)
    x = torch.cat([model.cls_emb.expand(x.size(0), -1, -1), x], dim=1)
    enc = model.encoder
    bias = enc.rel_pos_bias() if enc.rel_pos_bias is not None else None
    out = [x]
    for blk in enc.blocks:
        x, _ = blk(x, rel_pos_bias=bias)
        out.append(x)
    return out


@torch.no_grad()
def data2vec2_text_hidden_states(model, tokens, pad=1):
    """:func:`fairseq_hidden_states` for a data2vec 2.0 text model (``data2vec_multi``): the local
    encoder's output, then each block's."""
    enc = model.modality_encoders["TEXT"]
    padding = tokens.eq(pad)
    x = enc.context_encoder(enc.local_encoder(tokens), padding, None, None)
    out = [x]
    for blk in model.blocks:
        x, _ = blk(x, padding_mask=padding, alibi_bias=None)
        out.append(x)
    return out
