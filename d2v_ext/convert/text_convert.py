"""fairseq text checkpoint <-> transformers model folder (data2vec v1 text, RoBERTa; GLUE and QA heads)."""
import json
import logging
import os
from pathlib import Path

import torch

from ..checkpoint import checkpoint_kind, model_config
from ..data.dictionary import load_dictionary
from ..errors import CheckpointMismatchError, MissingInputError, WrongCheckpointError
from . import data2vec2_text, text, text_models, vocab
from .fairseq_side import checkpoint, data2vec_text_cfg, full_config

logger = logging.getLogger("d2v_ext")


def text_dictionary(state, dict_path):
    """The checkpoint's dictionary (with <mask>, as its task builds it): --dict, else its task's data."""
    task = state["cfg"]["task"]
    flag = "--dict"
    if dict_path is None:
        name, folder = task.get("_name"), str(task.get("data", "")).split(os.pathsep)[0]
        if name == "sentence_prediction":
            dict_path = os.path.join(folder, "input0", "dict.txt")
        elif name == "squad":
            dict_path = os.path.join(folder, task.get("dict_file", "dict.txt"))  # an absolute dict_file stays absolute
        else:
            dict_path = os.path.join(folder, "dict.txt")
        flag = "the checkpoint's task data (pass --dict if it moved):"
    return load_dictionary(dict_path, flag, add_mask=True)


def encoder_of(state, model_name):
    """(sizes, tensors in the v1 layout) of a text checkpoint; a 2.0 backbone is renamed (data2vec2_text.py)."""
    model_cfg, params = model_config(state), state["model"]
    if model_name not in ("data2vec_multi", "data2vec_text_classification"):
        return text_models.encoder_sizes(model_cfg), params
    prefix = "model." if model_name == "data2vec_text_classification" else ""
    if prefix:
        model_cfg = model_cfg["pretrained_model_args"]["model"]
    if "text" not in model_cfg.get("modalities", {}) or prefix + data2vec2_text.LOCAL + "embed_tokens.weight" not in params:
        raise WrongCheckpointError(f"model {model_name!r}: not a data2vec 2.0 *text* checkpoint (no TEXT modality "
                                   "encoder). transformers has no data2vec 2.0 image / speech class: 2.0 image blocks are post-LN "
                                   "with fixed 2-D sin-cos positions, Data2VecVision (BEiT) and ViT are pre-LN with "
                                   "relative / learned positions, so no weight mapping computes the same function")
    sizes = data2vec2_text.encoder_sizes(model_cfg)
    weights = data2vec2_text.as_v1(params, sizes["layers"], prefix)
    weights.update({k: v for k, v in params.items() if k.startswith("classification_heads.")})
    return sizes, weights


def to_transformers(state, dict_path, encoder_json):
    """(transformers model, tokenizer files {name: text}, report) for a fairseq text checkpoint."""
    import transformers

    model_name, task_name = checkpoint_kind(state)
    cls_name, fs_prefix, hf_prefix, head = text_models.kind_of(model_name, task_name)
    if cls_name == "RobertaForMaskedLM" and state.get("transformers_class") == "RobertaModel":
        cls_name, hf_prefix, head = "RobertaModel", "", None  # it came without an LM head; it goes back so
    sizes, weights = encoder_of(state, model_name)
    dictionary = text_dictionary(state, dict_path)
    rows = weights[fs_prefix + "embed_tokens.weight"].size(0)
    if rows != len(dictionary):
        raise CheckpointMismatchError(f"the checkpoint's embedding has {rows} rows but the dictionary {len(dictionary)} "
                                      "symbols (with <mask>): pass the dict.txt of its data with --dict")
    config_cls = getattr(transformers, "RobertaConfig" if cls_name.startswith("Roberta") else "Data2VecTextConfig")
    kwargs = text.hf_config_kwargs(sizes["embed_dim"], sizes["ffn"], sizes["layers"], sizes["heads"], sizes["positions"],
                                   rows, sizes["dropout"], sizes["attention_dropout"])
    sd = text.fairseq_to_hf(weights, sizes["layers"], extra=state.get("transformers_extra"), fs_prefix=fs_prefix,
                            hf_prefix=hf_prefix)
    fs_head = ""
    if head == "classification":
        name = text_models.classification_head_name(weights)
        fs_head = f"classification_heads.{name}."
        kwargs["num_labels"] = weights[f"{fs_head}out_proj.weight"].size(0)
    for h, f in text_models.head_names(head, fs_head):
        sd[h] = weights[f].clone()
    if head == "lm":
        sd["lm_head.decoder.weight"] = sd[hf_prefix + "embeddings.word_embeddings.weight"]
        sd["lm_head.decoder.bias"] = sd["lm_head.bias"]
    model = getattr(transformers, cls_name)(config_cls(**kwargs, attn_implementation="eager"))  # not saved
    own = model.state_dict()
    sd = {k: v for k, v in sd.items() if k in own or not k.startswith(hf_prefix + "pooler.")}  # (no pooler in ...ForMaskedLM)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    missing = [k for k in missing if not k.endswith("position_ids") and not k.startswith(hf_prefix + "pooler.")]
    if missing or unexpected:
        raise CheckpointMismatchError(f"transformers {cls_name}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    used = {fs_prefix + f for _, f in text.names(sizes["layers"])} | {f for _, f in text_models.head_names(head, fs_head)}
    used |= {fs_prefix + "version", "encoder.lm_head.weight"}
    if weights is state["model"]:
        dropped = sorted({".".join(k.split(".")[:2]) for k in weights if k not in used})  # pretraining-only parts
    else:  # a 2.0 backbone: what the v1 renaming did not take
        dropped = sorted({".".join(k.split(".")[:3]) for k in state["model"] if data2vec2_text.LOCAL not in k
                          and not k.startswith(("blocks.", "model.blocks.", "classification_heads."))})
    id_to_token = vocab.gpt2_token_strings(encoder_json)
    files = {"vocab.json": json.dumps(vocab.hf_vocab_for_dictionary(dictionary.symbols, id_to_token), ensure_ascii=False)}
    report = {"class": cls_name, "layers": sizes["layers"], "dropped": dropped, "encoder_tensors": len(used)}
    return model.eval(), files, report


def from_transformers(model, out_dir, dict_path=None, vocab_json=None, encoder_json=None, source=None):
    """(fairseq checkpoint dict, {relative path: text} of dictionaries, report) for a transformers text model."""
    cls_name = type(model).__name__
    cfg = model.config
    hf_prefix = {"Data2VecTextModel": "", "RobertaModel": ""}.get(cls_name, "data2vec_text." if "Data2VecText" in cls_name
                                                                   else "roberta.")
    head = ("qa" if "QuestionAnswering" in cls_name else "classification" if "SequenceClassification" in cls_name
            else "lm" if "MaskedLM" in cls_name else None)
    if not cls_name.startswith(("Data2VecText", "Roberta")) or cls_name.endswith("ForCausalLM"):
        raise CheckpointMismatchError(f"transformers {cls_name}: not a data2vec text / RoBERTa encoder class")
    if cfg.hidden_act != "gelu" or getattr(cfg, "position_embedding_type", "absolute") not in (None, "absolute"):
        raise CheckpointMismatchError(f"transformers {cls_name}: hidden_act={cfg.hidden_act!r} / position embeddings "
                                      "other than learned absolute ones have no fairseq counterpart here")
    sd = model.state_dict()
    n_rows = sd[hf_prefix + "embeddings.word_embeddings.weight"].size(0)
    id_to_token = vocab.gpt2_token_strings(encoder_json)
    hf_vocab = vocab.read_json(vocab_json, "the tokenizer's vocab.json") if vocab_json else None
    if dict_path:  # a given fairseq dictionary: rows are mapped through the token strings
        dictionary = load_dictionary(dict_path, "--dict", add_mask=True)
        if hf_vocab is None:
            raise MissingInputError("--dict needs the transformers tokenizer's vocab.json (in the model folder or --vocab) "
                                    "to map the embedding rows")
        rows = vocab.fairseq_to_hf_rows(dictionary.symbols, hf_vocab, id_to_token, n_rows)
        dict_text = Path(dict_path).read_text(encoding="utf-8")
    else:  # the transformers order becomes the fairseq order
        if hf_vocab is None:
            raise MissingInputError("no vocab.json in the transformers folder: pass --vocab (the tokenizer's vocab.json) "
                                    "or --dict (a fairseq dict.txt whose symbols the model's rows follow)")
        dict_text = "\n".join(vocab.dictionary_lines(hf_vocab, id_to_token, n_rows)) + "\n"
        rows = None
    sizes = dict(embed_dim=cfg.hidden_size, ffn=cfg.intermediate_size, layers=cfg.num_hidden_layers,
                 heads=cfg.num_attention_heads, positions=cfg.max_position_embeddings - 2,
                 dropout=cfg.hidden_dropout_prob, attention_dropout=cfg.attention_probs_dropout_prob)
    fs_prefix = "backbone.encoder.sentence_encoder." if head == "qa" else "encoder.sentence_encoder."
    weights, extra = text.hf_to_fairseq(sd, sizes["layers"], rows, hf_prefix, fs_prefix)
    for h, f in text_models.head_names(head, "classification_heads.sentence_classification_head."):
        weights[f] = sd[h].clone()
    if head == "lm":
        weights["encoder.lm_head.weight"] = weights[fs_prefix + "embed_tokens.weight"]
    family = "roberta" if cls_name.startswith("Roberta") else "data2vec_text"
    if head == "lm" and rows is not None:
        weights["encoder.lm_head.bias"] = sd["lm_head.bias"][rows].clone()
    new = fresh_lm_head(weights, fs_prefix, sizes["embed_dim"]) if family == "roberta" and head != "lm" else []
    model_cfg = roberta_cfg(sizes) if family == "roberta" else data2vec_text_cfg(sizes)
    files, fairseq_cfg = config_for(head, family, model_cfg, sizes, out_dir, dict_text, cfg)
    report = {"class": cls_name, "layers": sizes["layers"], "vocab_mapped": rows is not None,
              "fairseq_model": fairseq_cfg["model"]["_name"], "rows": rows,
              "transformers_only": sorted(extra), "new_in_fairseq": new}
    return checkpoint(weights, fairseq_cfg, extra, source, cls_name), files, report


def fresh_lm_head(weights, fs_prefix, dim, seed=0):
    """fairseq's RobertaModel always has an LM head (its checkpoints too); a transformers model without
    one gets a seeded fresh head (tied to the embedding, as RoBERTa's). Returns the names added."""
    g = torch.Generator().manual_seed(seed)
    emb = weights[fs_prefix + "embed_tokens.weight"]
    head = {"weight": emb, "bias": torch.zeros(emb.size(0)), "dense.weight": torch.randn(dim, dim, generator=g) * 0.02,
            "dense.bias": torch.zeros(dim), "layer_norm.weight": torch.ones(dim), "layer_norm.bias": torch.zeros(dim)}
    weights.update({f"encoder.lm_head.{k}": v for k, v in head.items()})
    return sorted(f"encoder.lm_head.{k}" for k in head if k != "weight")


def roberta_cfg(sizes):
    return {"_name": "roberta", "arch": "roberta", "encoder_embed_dim": sizes["embed_dim"],
            "encoder_ffn_embed_dim": sizes["ffn"], "encoder_layers": sizes["layers"],
            "encoder_attention_heads": sizes["heads"], "max_positions": sizes["positions"], "activation_fn": "gelu",
            "dropout": sizes["dropout"], "attention_dropout": sizes["attention_dropout"], "encoder_learned_pos": True,
            "encoder_normalize_before": False, "layernorm_embedding": True, "no_scale_embedding": True,
            "untie_weights_roberta": False, "pooler_activation_fn": "tanh", "pooler_dropout": 0.0}


def config_for(head, family, model_cfg, sizes, out_dir, dict_text, hf_cfg):
    """(dictionary files, fairseq cfg) for the converted checkpoint's task."""
    from fairseq.tasks.masked_lm import MaskedLMConfig
    from omegaconf import OmegaConf

    if head == "qa":
        from ..models.data2vec_text_qa import Data2VecTextQAConfig
        from ..tasks.squad import SquadConfig

        qa = OmegaConf.structured(Data2VecTextQAConfig)
        qa.model_path, qa.pretrained_model_args = "(converted from transformers)", model_cfg
        task = named(OmegaConf.merge(OmegaConf.structured(SquadConfig), {"data": str(out_dir),
                                                                       "max_seq_len": sizes["positions"]}), "squad")
        return {"dict.txt": dict_text}, full_config(named(qa, "data2vec_text_qa"), task, criterion={"_name": "span_qa"})
    if head == "classification":
        from fairseq.criterions.sentence_prediction import SentencePredictionConfig as CriterionConfig
        from fairseq.tasks.sentence_prediction import SentencePredictionConfig

        labels = [hf_cfg.id2label[i] for i in range(hf_cfg.num_labels)]
        task = OmegaConf.merge(OmegaConf.structured(SentencePredictionConfig),
                               {"data": str(out_dir), "num_classes": hf_cfg.num_labels, "max_positions": sizes["positions"],
                                "init_token": 0, "separator_token": 2})
        files = {"input0/dict.txt": dict_text, "label/dict.txt": "".join(f"{label} 0\n" for label in labels)}
        criterion = named(OmegaConf.structured(CriterionConfig), "sentence_prediction")
        criterion.classification_head_name = "sentence_classification_head"
        return files, full_config(model_cfg, named(task, "sentence_prediction"), criterion=criterion)
    task = OmegaConf.merge(OmegaConf.structured(MaskedLMConfig), {"data": str(out_dir), "tokens_per_sample": sizes["positions"]})
    criterion = {"_name": "masked_lm" if family == "roberta" else "model"}
    return {"dict.txt": dict_text}, full_config(model_cfg, named(task, "masked_lm"), criterion=criterion)


def named(cfg, name):
    """A structured config with its registry ``_name`` set (fairseq's setup_task / build_model need it)."""
    from omegaconf import open_dict

    with open_dict(cfg):
        cfg._name = name
    return cfg
