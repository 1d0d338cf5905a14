"""Whole text checkpoints between fairseq and transformers: encoder, task head, config.

| fairseq checkpoint (model, task) | transformers class | head |
|---|---|---|
| ``data2vec_text`` / ``data2vec_text_dino``, ``masked_lm`` | ``Data2VecTextModel`` | (the regression head, a DINO head: pretraining only, dropped) |
| ``roberta``, ``masked_lm`` | ``RobertaForMaskedLM`` | ``encoder.lm_head`` <-> ``lm_head`` |
| ``data2vec_text``, ``sentence_prediction`` | ``Data2VecTextForSequenceClassification`` | ``classification_heads.<name>`` <-> ``classifier`` |
| ``roberta``, ``sentence_prediction`` | ``RobertaForSequenceClassification`` | likewise |
| ``data2vec_text_qa`` (v1 backbone), ``squad`` | ``Data2VecTextForQuestionAnswering`` | ``span_head.proj`` <-> ``qa_outputs`` |
| ``data2vec_multi`` (2.0 text), ``masked_lm`` | ``Data2VecTextModel`` (fairseq -> transformers; see data2vec2_text.py) | (decoder: pretraining only) |
| ``data2vec_text_classification`` (2.0 backbone), ``sentence_prediction`` | ``Data2VecTextForSequenceClassification`` | ``classification_heads.<name>`` <-> ``classifier`` |
"""
from ..errors import CheckpointMismatchError, WrongCheckpointError

HEADS = {"classifier": ("dense", "out_proj")}


def kind_of(model_name, task_name):
    """(transformers class, fairseq encoder prefix, transformers encoder prefix, head kind) of a checkpoint."""
    if model_name == "data2vec_multi":
        return "Data2VecTextModel", "encoder.sentence_encoder.", "", None
    if model_name == "data2vec_text_classification":
        return "Data2VecTextForSequenceClassification", "encoder.sentence_encoder.", "data2vec_text.", "classification"
    if model_name == "data2vec_text_qa":
        return "Data2VecTextForQuestionAnswering", "backbone.encoder.sentence_encoder.", "data2vec_text.", "qa"
    family = {"data2vec_text": "Data2VecText", "data2vec_text_dino": "Data2VecText", "roberta": "Roberta"}.get(model_name)
    if family is None:
        raise WrongCheckpointError(f"model {model_name!r} (task {task_name!r}) has no transformers text counterpart here; "
                                   "expected data2vec_text, data2vec_text_dino, roberta, data2vec_text_qa, "
                                   "data2vec_multi (text) or data2vec_text_classification")
    hf_prefix = "data2vec_text." if family == "Data2VecText" else "roberta."
    if task_name == "sentence_prediction":
        return f"{family}ForSequenceClassification", "encoder.sentence_encoder.", hf_prefix, "classification"
    if family == "Roberta":
        return "RobertaForMaskedLM", "encoder.sentence_encoder.", hf_prefix, "lm"
    return "Data2VecTextModel", "encoder.sentence_encoder.", "", None


def encoder_sizes(model_cfg):
    """{embed_dim, ffn, layers, heads, positions, dropout, attention_dropout} of a fairseq text model cfg,
    after checking it is the post-LN, learned-position, GELU encoder transformers implements."""
    if model_cfg.get("_name") == "data2vec_text_qa":
        model_cfg = model_cfg["pretrained_model_args"]
        if model_cfg.get("_name") == "data2vec_multi":
            raise WrongCheckpointError("a data2vec_text_qa checkpoint on a data2vec 2.0 backbone: transformers has no "
                                       "data2vec 2.0 class (see the README's conversion section)")
    if "transformer" in model_cfg:  # data2vec_text: a nested TransformerConfig
        t, enc = model_cfg["transformer"], model_cfg["transformer"]["encoder"]
        sizes = dict(embed_dim=enc["embed_dim"], ffn=enc["ffn_embed_dim"], layers=enc["layers"],
                     heads=enc["attention_heads"], positions=t["max_source_positions"], dropout=t["dropout"],
                     attention_dropout=t["attention_dropout"])
        checks = dict(activation_fn=t["activation_fn"], normalize_before=enc["normalize_before"],
                      learned_pos=enc["learned_pos"], no_scale_embedding=t["no_scale_embedding"],
                      layernorm_embedding=t["layernorm_embedding"])
    else:  # roberta: flat args
        sizes = dict(embed_dim=model_cfg["encoder_embed_dim"], ffn=model_cfg["encoder_ffn_embed_dim"],
                     layers=model_cfg["encoder_layers"], heads=model_cfg["encoder_attention_heads"],
                     positions=model_cfg["max_positions"], dropout=model_cfg.get("dropout", 0.1),
                     attention_dropout=model_cfg.get("attention_dropout", 0.1))
        checks = dict(activation_fn=model_cfg.get("activation_fn", "gelu"),
                      normalize_before=model_cfg.get("encoder_normalize_before", False), learned_pos=True,
                      no_scale_embedding=model_cfg.get("no_scale_embedding", True),
                      layernorm_embedding=model_cfg.get("layernorm_embedding", True))
    expected = dict(activation_fn="gelu", normalize_before=False, learned_pos=True, no_scale_embedding=True,
                    layernorm_embedding=True)
    bad = {k: v for k, v in checks.items() if str(v) != str(expected[k])}
    if bad:
        raise CheckpointMismatchError(f"encoder settings {bad} have no transformers counterpart; expected {expected}")
    return sizes


def head_names(head, fs_head_prefix=""):
    """[(transformers name, fairseq name)] of a task head."""
    if head == "qa":
        return [("qa_outputs.weight", "span_head.proj.weight"), ("qa_outputs.bias", "span_head.proj.bias")]
    if head == "classification":
        return [(f"classifier.{m}.{p}", f"{fs_head_prefix}{m}.{p}") for m in HEADS["classifier"] for p in ("weight", "bias")]
    if head == "lm":
        return [("lm_head.dense.weight", "encoder.lm_head.dense.weight"), ("lm_head.dense.bias", "encoder.lm_head.dense.bias"),
                ("lm_head.layer_norm.weight", "encoder.lm_head.layer_norm.weight"),
                ("lm_head.layer_norm.bias", "encoder.lm_head.layer_norm.bias"), ("lm_head.bias", "encoder.lm_head.bias")]
    return []


def classification_head_name(fairseq_state):
    names = sorted({k.split(".")[1] for k in fairseq_state if k.startswith("classification_heads.")})
    if len(names) != 1:
        raise CheckpointMismatchError(f"expected one classification head, found {names or 'none'}")
    return names[0]
