"""Tiny upstream data2vec models built in-process (no data, no training) for compat tests."""
from types import SimpleNamespace

from omegaconf import OmegaConf


def tiny_dictionary(words="the a of and to in is it".split()):
    from fairseq.data import Dictionary

    d = Dictionary()
    for w in words:
        d.add_symbol(w)
    d.add_symbol("<mask>")
    return d


def tiny_text_v1_cfg(config_cls=None):
    """A 2-layer, 32-wide data2vec v1 text config (of ``config_cls``, default upstream's)."""
    from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextConfig

    cfg = OmegaConf.structured(config_cls or Data2VecTextConfig)
    cfg.max_positions, cfg.ema_anneal_end_step, cfg.loss_scale = 32, 10, 1.0
    cfg.average_top_k_layers, cfg.layer_norm_target_layer = 2, True
    t = cfg.transformer
    t.max_source_positions, t.activation_fn, t.layernorm_embedding = 32, "gelu", True
    t.encoder.embed_dim, t.encoder.ffn_embed_dim, t.encoder.layers = 32, 64, 2
    t.encoder.attention_heads, t.encoder.learned_pos = 2, True
    return cfg


def tiny_text_v1_model():
    from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextModel

    task = SimpleNamespace(source_dictionary=tiny_dictionary(), cfg=SimpleNamespace(data=""))
    return Data2VecTextModel.build_model(tiny_text_v1_cfg(), task)


def tiny_vision_v1_model():
    from fairseq.examples.data2vec.models.data2vec_vision import (
        Data2VecVisionConfig, Data2VecVisionModel)

    cfg = OmegaConf.structured(Data2VecVisionConfig)
    cfg.image_size, cfg.patch_size, cfg.depth, cfg.embed_dim, cfg.num_heads = 32, 8, 2, 32, 2
    cfg.num_mask_patches, cfg.min_mask_patches_per_block = 6, 2
    cfg.max_mask_patches_per_block, cfg.ema_anneal_end_step, cfg.average_top_k_layers = 16, 10, 2
    return Data2VecVisionModel(cfg)


def masked_lm_batch(n=48, mask_prob=0.35, mask_multiple_length=4):
    """A batch of real SST-2 sentences as fairseq's masked_lm task builds it for data2vec v1 text
    (text_v1.yaml's masking): (task stand-in with their dictionary, src_tokens, target_tokens,
    unmasked padded tokens)."""
    import torch
    from fairseq.data import Dictionary, MaskTokensDataset, data_utils

    from helpers import require_data

    rows = require_data("glue", "SST-2", "dev.tsv").read_text().splitlines()[1:n + 1]
    words = [r.split("\t")[0].split()[:28] for r in rows]  # tiny model: 32 positions
    d = Dictionary()
    for w in sorted({w for ws in words for w in ws}):
        d.add_symbol(w)
    d.add_symbol("<mask>")
    items = [torch.tensor([d.bos()] + [d.index(w) for w in ws] + [d.eos()]) for ws in words]
    src, tgt = MaskTokensDataset.apply_mask(items, d, pad_idx=d.pad(), mask_idx=d.index("<mask>"), seed=1,
                                            mask_prob=mask_prob, leave_unmasked_prob=0.0, random_token_prob=0.0,
                                            mask_multiple_length=mask_multiple_length)
    pad = lambda xs: data_utils.collate_tokens([x for x in xs], d.pad())  # noqa: E731
    idx = range(len(items))
    task = SimpleNamespace(source_dictionary=d, cfg=SimpleNamespace(data=""))
    return task, pad([src[i] for i in idx]), pad([tgt[i] for i in idx]), pad(items)


def tiny_text_v2_model():
    """A 2-block, 32-wide data2vec 2.0 (data2vec_multi) text model with its EMA teacher."""
    from fairseq.examples.data2vec.data.modality import Modality
    from fairseq.examples.data2vec.models.data2vec2 import Data2VecMultiConfig, Data2VecMultiModel

    cfg = OmegaConf.structured(Data2VecMultiConfig)
    cfg.depth, cfg.embed_dim, cfg.num_heads, cfg.clone_batch, cfg.average_top_k_layers = 2, 32, 2, 2, 2
    cfg.supported_modality, cfg.ema_anneal_end_step, cfg.seed, cfg.max_update = Modality.TEXT, 10, 1, 10
    t = cfg.modalities.text
    t.max_source_positions, t.decoder.decoder_dim, t.decoder.decoder_layers = 32, 32, 1
    task = SimpleNamespace(source_dictionary=tiny_dictionary(), cfg=SimpleNamespace(data=""))
    return Data2VecMultiModel.build_model(cfg, task)
