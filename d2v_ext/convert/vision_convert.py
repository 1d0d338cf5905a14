"""fairseq vision checkpoint <-> transformers model (data2vec v1 vision; ImageNet classification head).

| fairseq checkpoint (model) | transformers class |
|---|---|
| ``data2vec_vision`` / ``data2vec_dino`` (pretraining; regression / DINO heads dropped) | ``Data2VecVisionModel`` (``use_mean_pooling: false``: ``layernorm`` is ``encoder.norm``) |
| ``data2vec_image_classification`` (fine-tuned) | ``Data2VecVisionForImageClassification`` (mean pooling: ``pooler.layernorm`` is ``fc_norm``) |
"""
from omegaconf import OmegaConf, open_dict

from ..checkpoint import checkpoint_kind, model_config, with_teacher_weights
from ..errors import CheckpointMismatchError, WrongCheckpointError
from . import vision
from .fairseq_side import checkpoint, full_config

PRETRAINING = ("data2vec_vision", "data2vec_dino")
EPS = 1e-5  # torch.nn.LayerNorm's default, which upstream's vision blocks use


def backbone_config(model_cfg):
    """The data2vec_vision config of a pretraining or a classification checkpoint's model config."""
    if model_cfg.get("_name") == "data2vec_image_classification":
        args = model_cfg.get("pretrained_model_args")
        if not args:
            raise CheckpointMismatchError("data2vec_image_classification checkpoint without pretrained_model_args: "
                                          "its backbone's architecture is unknown")
        return args["model"]
    return model_cfg


def hf_config_kwargs(m, classification, num_labels=None):
    kw = dict(hidden_size=m["embed_dim"], num_hidden_layers=m["depth"], num_attention_heads=m["num_heads"],
              intermediate_size=m["embed_dim"] * m["mlp_ratio"], image_size=m["image_size"], patch_size=m["patch_size"],
              num_channels=m["in_channels"], layer_norm_eps=EPS, hidden_act="gelu", hidden_dropout_prob=0.0,
              attention_probs_dropout_prob=m.get("attention_dropout", 0.0), drop_path_rate=m.get("drop_path", 0.0),
              layer_scale_init_value=m["layer_scale_init_value"], use_absolute_position_embeddings=False,
              use_shared_relative_position_bias=bool(m["shared_rel_pos_bias"]),
              use_relative_position_bias=not m["shared_rel_pos_bias"], use_mask_token=not classification,
              use_mean_pooling=classification)
    if num_labels is not None:
        kw["num_labels"] = num_labels
    return kw


def to_transformers(state, weights="student"):
    """(transformers model, report) for a fairseq v1 vision checkpoint; ``weights='teacher'`` takes the
    EMA teacher's encoder (pretraining checkpoints)."""
    import transformers

    model_name, task_name = checkpoint_kind(state)
    params = dict(state["model"])
    classification = model_name == "data2vec_image_classification"
    if not classification and model_name not in PRETRAINING:
        raise WrongCheckpointError(f"model {model_name!r} (task {task_name!r}) is not a data2vec v1 vision checkpoint; "
                                   f"expected one of {PRETRAINING + ('data2vec_image_classification',)}")
    m = backbone_config(model_config(state))
    if weights == "teacher":
        if "_ema" not in params:
            raise CheckpointMismatchError("--weights teacher: the checkpoint holds no EMA teacher (_ema)")
        params = with_teacher_weights(params, params["_ema"], "encoder.")
    prefix = "model." if classification else ""
    sd = vision.fairseq_to_hf(params, m["depth"], fs_prefix=prefix, hf_prefix="data2vec_vision." if classification else "")
    if classification:
        cls_name, num_labels = "Data2VecVisionForImageClassification", params["head.weight"].size(0)
        sd.update({"data2vec_vision.pooler.layernorm.weight": params["fc_norm.weight"],
                   "data2vec_vision.pooler.layernorm.bias": params["fc_norm.bias"],
                   "classifier.weight": params["head.weight"], "classifier.bias": params["head.bias"]})
    else:
        cls_name, num_labels = "Data2VecVisionModel", None
    config = transformers.Data2VecVisionConfig(**hf_config_kwargs(m, classification, num_labels),
                                               attn_implementation="eager")  # as fairseq computes; not saved
    model = getattr(transformers, cls_name)(config) if classification else transformers.Data2VecVisionModel(
        config, add_pooling_layer=False)
    missing, unexpected = model.load_state_dict(sd, strict=False)
    if missing or unexpected:
        raise CheckpointMismatchError(f"transformers {cls_name}: missing {missing[:5]}, unexpected {unexpected[:5]}")
    dropped = sorted({k.split(".")[0] for k in params if k.startswith(("final_proj", "_ema", "dino"))})
    return model.eval(), {"class": cls_name, "layers": m["depth"], "weights": weights, "dropped": dropped,
                          "tensors": len(sd)}


def vision_model_cfg(hf_cfg):
    """A data2vec_vision config for a transformers Data2VecVision config (refusing what fairseq lacks)."""
    from fairseq.examples.data2vec.models.data2vec_vision import Data2VecVisionConfig

    image, patch = hf_cfg.image_size, hf_cfg.patch_size
    image, patch = (image if isinstance(image, int) else image[0]), (patch if isinstance(patch, int) else patch[0])
    bad = {k: v for k, v in dict(use_absolute_position_embeddings=hf_cfg.use_absolute_position_embeddings,
                                 hidden_act=hf_cfg.hidden_act,
                                 ffn=hf_cfg.intermediate_size % hf_cfg.hidden_size,
                                 non_square=list(hf_cfg.image_size) != [image] * 2 if not isinstance(hf_cfg.image_size, int) else False,
                                 no_position_bias=not (hf_cfg.use_shared_relative_position_bias or hf_cfg.use_relative_position_bias),
                                 ).items() if v not in (False, "gelu", 0)}
    if bad:
        raise CheckpointMismatchError(f"transformers Data2VecVision settings {bad} have no counterpart in fairseq's "
                                      "data2vec_vision (learned relative position bias, square images, GELU MLP of "
                                      "integer ratio, no absolute position embedding)")
    cfg = OmegaConf.structured(Data2VecVisionConfig)
    cfg.image_size, cfg.patch_size, cfg.in_channels = image, patch, hf_cfg.num_channels
    cfg.embed_dim, cfg.depth, cfg.num_heads = hf_cfg.hidden_size, hf_cfg.num_hidden_layers, hf_cfg.num_attention_heads
    cfg.mlp_ratio = hf_cfg.intermediate_size // hf_cfg.hidden_size
    cfg.layer_scale_init_value = hf_cfg.layer_scale_init_value
    cfg.shared_rel_pos_bias = bool(hf_cfg.use_shared_relative_position_bias)
    cfg.attention_dropout, cfg.drop_path = hf_cfg.attention_probs_dropout_prob, hf_cfg.drop_path_rate
    cfg.ema_anneal_end_step = 0
    with open_dict(cfg):
        cfg._name = "data2vec_vision"
    return cfg


def pretraining_task_cfg(data, image_size):
    from fairseq.examples.data2vec.tasks.image_pretraining import ImagePretrainingConfig

    task = OmegaConf.structured(ImagePretrainingConfig)
    task.data, task.input_size = str(data), image_size
    with open_dict(task):
        task._name = "image_pretraining"
    return task


def fairseq_backbone_state(vision_cfg, tensors, seed=0):
    """The complete state dict of a fairseq data2vec_vision model holding ``tensors``; what transformers
    lacks (``final_proj``, and ``mask_emb`` / ``encoder.norm`` where absent) keeps a seeded fresh init."""
    import torch
    from fairseq.examples.data2vec.models.data2vec_vision import Data2VecVisionModel

    torch.manual_seed(seed)
    model = Data2VecVisionModel(vision_cfg)
    state = model.state_dict()
    unknown = sorted(set(tensors) - set(state))
    if unknown:
        raise CheckpointMismatchError(f"no fairseq data2vec_vision parameter for {unknown[:5]}")
    for k, v in tensors.items():
        if state[k].shape != v.shape:
            raise CheckpointMismatchError(f"{k}: transformers shape {tuple(v.shape)}, fairseq expects {tuple(state[k].shape)}")
        state[k] = v
    new = sorted(k for k in state if k not in tensors and not k.endswith("relative_position_index"))
    return state, new


def from_transformers(model, data="", source=None):
    """(fairseq checkpoint dict, report) for a transformers Data2VecVisionModel / ForImageClassification."""
    cls_name, hf_cfg = type(model).__name__, model.config
    if cls_name not in ("Data2VecVisionModel", "Data2VecVisionForImageClassification"):
        raise CheckpointMismatchError(f"transformers {cls_name}: expected Data2VecVisionModel or "
                                      "Data2VecVisionForImageClassification")
    classification = cls_name.endswith("ImageClassification")
    sd = model.state_dict()
    prefix = "data2vec_vision." if classification else ""
    cfg = vision_model_cfg(hf_cfg)
    tensors = vision.hf_to_fairseq(sd, cfg.depth, hf_prefix=prefix)
    state, new = fairseq_backbone_state(cfg, tensors)
    task = pretraining_task_cfg(data, cfg.image_size)
    if not classification:
        if not hf_cfg.use_mean_pooling and "layernorm.weight" not in sd:
            raise CheckpointMismatchError("transformers model without its final layernorm")
        report = {"class": cls_name, "layers": cfg.depth, "fairseq_model": "data2vec_vision", "new_in_fairseq": new}
        return checkpoint(state, full_config(cfg, task), source=source), report
    from fairseq.examples.data2vec.models.data2vec_image_classification import Data2VecImageClassificationConfig
    from fairseq.examples.data2vec.tasks.image_classification import ImageClassificationConfig

    clf = OmegaConf.structured(Data2VecImageClassificationConfig)
    clf.model_path, clf.num_classes = "(converted from transformers)", hf_cfg.num_labels
    clf.pretrained_model_args = full_config(cfg, task)
    with open_dict(clf):
        clf._name = "data2vec_image_classification"
    weights = {f"model.{k}": v for k, v in state.items()
               if not k.startswith(("final_proj.", "mask_emb", "encoder.norm."))}  # removed for fine-tuning upstream
    weights.update({"fc_norm.weight": sd[prefix + "pooler.layernorm.weight"].clone(),
                    "fc_norm.bias": sd[prefix + "pooler.layernorm.bias"].clone(),
                    "head.weight": sd["classifier.weight"].clone(), "head.bias": sd["classifier.bias"].clone()})
    ft_task = OmegaConf.merge(OmegaConf.structured(ImageClassificationConfig), {"data": str(data), "input_size": cfg.image_size})
    with open_dict(ft_task):
        ft_task._name = "image_classification"
    report = {"class": cls_name, "layers": cfg.depth, "fairseq_model": "data2vec_image_classification",
              "num_labels": hf_cfg.num_labels, "new_in_fairseq": []}
    return checkpoint(weights, full_config(clf, ft_task), source=source), report
