"""What a checkpoint is: model, architecture, dictionary, config drift, training progress, heads.

Read from the raw file (the safe unpickler, no fairseq upgrade), so what an old release carries is
reported as saved: its cfg keys today's fairseq lacks, an ``args``-era Namespace, a dictionary path
that does not exist here.
"""
import argparse
import os

from omegaconf import OmegaConf

HEAD_PREFIXES = ("encoder.regression_head", "encoder.lm_head", "classification_heads", "final_proj", "dino",
                 "span_head", "modality_encoders.TEXT.decoder", "modality_encoders.IMAGE.decoder", "head", "fc_norm",
                 "recon_proj", "shared_decoder")


def _cfg_of(raw):
    if raw.get("cfg") is not None:
        return OmegaConf.create(raw["cfg"], flags={"allow_objects": True}), "cfg"
    return None, "args (argparse Namespace; fairseq upgrades it on load)"


def architecture(model_cfg, params):
    """{layers, embed_dim, heads, ffn} where the config says (any model family)."""
    get = (lambda k: getattr(model_cfg, k, None)) if isinstance(model_cfg, argparse.Namespace) else \
        (lambda k: OmegaConf.select(model_cfg, k) if OmegaConf.is_config(model_cfg) else model_cfg.get(k))
    if get("_name") in ("data2vec_text_qa", "data2vec_image_classification", "data2vec_text_classification"):
        inner = get("pretrained_model_args")
        inner = inner.get("model", inner) if inner is not None and "model" in inner else inner
        return architecture(inner, params) if inner is not None else {}
    for layers, dim, heads, ffn in (("transformer.encoder.layers", "transformer.encoder.embed_dim",
                                     "transformer.encoder.attention_heads", "transformer.encoder.ffn_embed_dim"),
                                    ("encoder_layers", "encoder_embed_dim", "encoder_attention_heads",
                                     "encoder_ffn_embed_dim"),
                                    ("depth", "embed_dim", "num_heads", "mlp_ratio")):
        if get(layers) is not None:
            return {"layers": get(layers), "embed_dim": get(dim), "heads": get(heads),
                    ("mlp_ratio" if ffn == "mlp_ratio" else "ffn_dim"): get(ffn)}
    return {}


def describe(path):
    """A dict describing the checkpoint file at ``path``."""
    from .old_format import unknown_keys
    from .safe_load import safe_torch_load

    raw = safe_torch_load(str(path), path=str(path))
    cfg, era = _cfg_of(raw)
    args = raw.get("args")
    model_cfg = cfg.get("model") if cfg is not None else args
    task_cfg = cfg.get("task") if cfg is not None else args
    name = (model_cfg.get("_name") if hasattr(model_cfg, "get") else getattr(model_cfg, "arch", None))
    task = task_cfg.get("_name") if hasattr(task_cfg, "get") else getattr(task_cfg, "task", None)
    params = raw["model"]
    teacher = next((k for k in params if k.endswith("_ema")), None)
    emb = next((k for k in params if k.endswith("embed_tokens.weight")), None)
    data = task_cfg.get("data") if hasattr(task_cfg, "get") else getattr(task_cfg, "data", None)
    first = str(data).split(os.pathsep)[0] if data else None
    history = raw.get("optimizer_history") or [{}]
    extra = raw.get("extra_state") or {}
    out = {
        "file": str(path), "megabytes": round(os.path.getsize(path) / 2 ** 20, 1), "config": era,
        "model": name, "task": task, "arch": (model_cfg.get("arch") if hasattr(model_cfg, "get")
                                             else getattr(model_cfg, "arch", None)),
        "architecture": architecture(model_cfg, params) if model_cfg is not None else {},
        "parameters": int(sum(v.numel() for k, v in params.items() if hasattr(v, "numel"))),
        "ema_teacher": teacher is not None,
        "heads": sorted({h for h in HEAD_PREFIXES for k in params if k == h or k.startswith(h + ".")}),
        "dictionary_size": int(params[emb].size(0)) if emb else None,
        "task_data": data, "task_data_exists": bool(first and os.path.isdir(first)),
        "unknown_cfg_keys": unknown_keys(cfg) if cfg is not None else [],
        "updates": history[-1].get("num_updates"),
        "epoch": (extra.get("train_iterator") or {}).get("epoch"),
        "best": extra.get("best"), "converted_from": raw.get("converted_from"),
    }
    return out
