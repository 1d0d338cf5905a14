"""One frozen-feature API for every vision backbone the plugin trains or fine-tunes.

:func:`load_backbone` reads a checkpoint of any of these and returns a :class:`Backbone`, a module
mapping normalised images (B, 3, H, W) to features (B, C) with ``pool='cls'`` or ``'mean'`` (and,
``Backbone.tokens``: every output token (B, T, C), with autograd):

==============================  ==========================  =================  =========================
checkpoint model                what                        pools              teacher (EMA) weights
==============================  ==========================  =================  =========================
data2vec_vision                 data2vec v1 pretraining     cls, mean          yes (``_ema``)
data2vec_dino                   data2vec / DINO targets     cls, mean          yes (``_ema``)
data2vec_multi (IMAGE)          data2vec 2.0 pretraining    cls, mean          yes (``_ema``)
mae                             MAE pretraining             cls, mean          no teacher
data2vec_image_classification   v1 fine-tuned classifier    mean               no teacher
mae_image_classification        2.0 / MAE fine-tuned        mean (or cls)      no teacher
(every kind also gives ``Backbone.tokens``: the encoder's output tokens, for captioning)
==============================  ==========================  =================  =========================

v1 / DINO features are read after the final LayerNorm (DINO's protocol); data2vec 2.0 and MAE
features are the encoder's output tokens (MAE's after its final norm); a fine-tuned classifier's
features are exactly what its linear head reads (pooled, after ``fc_norm``). ``weights='auto'``
takes the teacher where the checkpoint has one, else the student; the resolved choice is returned.
"""
import torch

from ..checkpoint import load_checked, with_teacher_weights
from ..checkpoint.untrained import fresh_model
from ..data.imagenet import IMAGENET_MEAN, IMAGENET_STD
from ..errors import CheckpointMismatchError, ConfigError, WrongCheckpointError

PRETRAINED = {"data2vec_vision": "data2vec v1", "data2vec_dino": "data2vec/DINO", "data2vec_multi": "data2vec 2.0",
              "mae": "MAE"}
FINETUNED = {"data2vec_image_classification": "fine-tuned data2vec v1", "mae_image_classification": "fine-tuned"}
VISION_MODELS = tuple(PRETRAINED) + tuple(FINETUNED)
TEACHER = ("data2vec_vision", "data2vec_dino", "data2vec_multi")


class Backbone(torch.nn.Module):
    """A frozen vision encoder: ``backbone(images, pool)`` -> (B, C) features."""

    def __init__(self, net, features, pools, kind, weights, image_size, mean, std):
        super().__init__()
        self.net, self._features, self.pools = net.eval(), features, pools
        self.kind, self.weights, self.image_size, self.mean, self.std = kind, weights, image_size, mean, std

    @torch.no_grad()
    def forward(self, images, pool="cls"):
        if pool not in self.pools:
            raise ConfigError(f"--pool {pool}: a {self.kind} checkpoint has no {pool!r} features; "
                              f"expected one of {', '.join(self.pools)}")
        return self._features(images, pool).float()

    def tokens(self, images):
        """(B, T, C) output tokens (CLS first) with autograd, for encoders trained further (captioning)."""
        if "tokens" not in self.pools:
            raise ConfigError(f"a {self.kind} checkpoint gives no token features")
        return self._features(images, "tokens")


def resolve_weights(checkpoint, name, has_teacher, weights):
    if weights not in ("auto", "teacher", "student"):
        raise ConfigError(f"weights={weights!r}: expected auto, teacher or student")
    if weights == "teacher" and not has_teacher:
        raise CheckpointMismatchError(f"{checkpoint} holds no EMA teacher (its model {name} has none, or it was "
                                      "converted or fine-tuned): use --weights student")
    return "teacher" if weights == "auto" and has_teacher else ("student" if weights == "auto" else weights)


def load_backbone(checkpoint, weights="auto"):
    """(:class:`Backbone`, checkpoint cfg) of any supported vision checkpoint."""
    state = load_checked(checkpoint, "vision", models=VISION_MODELS,
                         hint=" (a vision pretraining or image classification checkpoint)")
    cfg, name = state["cfg"], state["cfg"].model._name
    if name == "data2vec_multi" and str(cfg.model.get("supported_modality")).upper() != "IMAGE":
        raise WrongCheckpointError(f"{checkpoint} is a data2vec 2.0 {cfg.model.get('supported_modality')} model, "
                                   "not an image one; expected a vision checkpoint")
    params = dict(state["model"])
    ema = params.pop("_ema", None)
    chosen = resolve_weights(checkpoint, name, name in TEACHER and ema is not None, weights)
    build = {"data2vec_vision": _v1, "data2vec_dino": _v1, "data2vec_multi": _v2, "mae": _mae}.get(name, _finetuned)
    net, features, pools, size = build(cfg, params, ema if chosen == "teacher" else None)
    task = cfg.get("task") or {}
    mean = tuple(task.get("normalization_mean", IMAGENET_MEAN))
    std = tuple(task.get("normalization_std", IMAGENET_STD))
    return Backbone(net, features, pools, PRETRAINED.get(name) or FINETUNED[name], chosen, size, mean, std), cfg


def _v1(cfg, params, ema):
    """data2vec v1 vision and data2vec_dino: built as data2vec_dino (``target=data2vec`` is upstream's model)."""
    model = fresh_model(cfg, backbone_only=True)
    params = {k: v for k, v in params.items() if not k.startswith("dino.")}
    if ema is not None:
        params = with_teacher_weights(params, ema, "encoder." if cfg.model.get("ema_transformer_only", True) else "")
    model.load_state_dict(params, strict=False)
    norm = model.encoder.norm  # upstream drops the final LayerNorm as pretraining-only (fine-tuning pools
    model.remove_pretraining_modules()  # through fc_norm); DINO's evaluation reads the CLS token after it
    model.encoder.norm = norm
    return model, model.forward_features, ("cls", "mean", "tokens"), cfg.model.image_size


def _v2(cfg, params, ema):
    """data2vec 2.0 image: the encoder's output tokens (``<cls>`` first, then the patches)."""
    model = fresh_model(cfg)
    if ema is not None:
        params = with_teacher_weights(params, ema, "")
    model.load_state_dict(params, strict=True)
    model.remove_pretraining_modules(modality="image")
    extra = cfg.model.modalities.image.num_extra_tokens

    def features(images, pool):
        x = model.extract_features(images, mode="IMAGE", mask=False, remove_extra_tokens=False)["x"]
        return x if pool == "tokens" else x[:, 0] if pool == "cls" else x[:, extra:].mean(1)

    return model, features, ("cls", "mean", "tokens"), cfg.model.modalities.image.input_size


def _mae(cfg, params, ema):
    """MAE: the encoder on every patch (mask ratio 0), after its final norm."""
    model = fresh_model(cfg)
    model.load_state_dict(params, strict=True)

    def features(images, pool):
        x = model(images, predictions_only=True)  # (B, 1 + N, C); patches in a random order: pooling ignores it
        return x if pool == "tokens" else x[:, 0] if pool == "cls" else x[:, 1:].mean(1)

    return model, features, ("cls", "mean", "tokens"), cfg.model.input_size


def _finetuned(cfg, params, ema):
    """A fine-tuned classifier: the input of its linear head (pooled, after fc_norm)."""
    from fairseq.models import build_model

    model = build_model(cfg.model, task=None)
    model.load_state_dict(params, strict=True)
    seen = []
    model.head.register_forward_hook(lambda m, args, out: seen.append(args[0]))
    mode = str(cfg.model.get("prediction_mode", "MEAN_POOLING"))
    pools = (("cls",) if "CLS" in mode else ("mean",)) + ("tokens",)

    def features(images, pool):
        if pool == "tokens":  # the encoder's output tokens, before the classifier pools them
            if hasattr(model, "model_forward"):  # mae_image_classification (data2vec 2.0 / MAE fine-tuned)
                return model.model_forward(images)
            return model.model(images, mask=False)  # data2vec_image_classification (v1 fine-tuned)
        seen.clear()
        model(images)
        return seen[0]

    size = cfg.task.get("input_size", 224)
    return model, features, pools, size
