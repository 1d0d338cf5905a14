"""Fixes: upstream's v1 vision fine-tuning model (``data2vec_image_classification``).

1. It cannot load a pretraining checkpoint: it removes the pretraining modules (``mask_emb``,
   ``final_proj``, ``encoder.norm``) and then loads the checkpoint's weights with ``strict=True``,
   which fails with "Unexpected key(s): mask_emb, encoder.norm.weight, ...". Those tensors are now
   dropped (and logged) before the load; every other key is still checked strictly.
2. Its mean pooling skips the first patch: the backbone already returns the patch tokens without
   ``<cls>``, and ``forward`` slices ``x[:, 1:]`` again. BEiT (which the released fine-tunes used)
   and transformers' ``Data2VecVisionForImageClassification`` average every patch; so does it now.
"""
import logging

from .signature import install_wrapper

logger = logging.getLogger(__name__)
PRETRAINING_ONLY = ("mask_emb", "final_proj.", "encoder.norm.")


def vision_finetuning_loads_pretraining_checkpoints():
    """Drop the pretraining-only tensors the fine-tuning backbone no longer has, then load strictly."""
    from fairseq.examples.data2vec.models.data2vec_image_classification import Data2VecImageClassificationModel

    def wrap(original):
        def load_model_weights(self, state, model, cfg):
            own = model.state_dict()
            drop = sorted(k for k in state["model"] if k.startswith(PRETRAINING_ONLY) and k not in own)
            if drop:
                logger.info(f"fine-tuning backbone: pretraining-only tensors not loaded: {', '.join(drop)}")
                state["model"] = {k: v for k, v in state["model"].items() if k not in drop}
            return original(self, state, model, cfg)

        return load_model_weights

    install_wrapper(Data2VecImageClassificationModel, "load_model_weights", "self, state, model, cfg", wrap,
                    "pretraining_keys")


def pad_first_patch(module, args, output):
    """Backbone output (B, N, C) -> (B, N + 1, C) with a placeholder in front, so upstream's ``x[:, 1:]``
    leaves all N patches."""
    import torch

    return torch.cat([output[:, :1], output], dim=1)


def image_classification_pools_every_patch():
    """Mean-pool all patch tokens in data2vec_image_classification, as BEiT and transformers do."""
    from fairseq.examples.data2vec.models.data2vec_image_classification import Data2VecImageClassificationModel

    def wrap(original):
        def forward(self, img, label=None):
            handle = self.model.register_forward_hook(pad_first_patch)
            try:
                return original(self, img, label)
            finally:
                handle.remove()

        return forward

    install_wrapper(Data2VecImageClassificationModel, "forward", "self, img, label=None", wrap, "all_patches")


def drop_pretraining_param_groups(model):
    """Remove the ``param_group`` tags the pretraining model put on its parameters; returns their names."""
    return sorted({p.__dict__.pop("param_group") for p in model.parameters() if "param_group" in p.__dict__})


def mae_finetuning_uses_its_own_param_groups():
    """3. ``mae_image_classification`` cannot fine-tune an MAE checkpoint: the ``mae`` backbone tags its
    parameters ``param_group = with_decay / no_decay`` for pretraining, and the fine-tuning recipe's
    composite optimizer (one ``default`` group, layer decay through ``optim_overrides``) then fails
    with "Key 'with_decay' is not in struct". The fine-tuning model already gives every parameter its
    weight-decay and lr scale through ``optim_overrides``, so the pretraining tags are dropped."""
    from fairseq.examples.data2vec.models.mae_image_classification import MaeImageClassificationModel

    def wrap(original):
        def __init__(self, cfg):
            original(self, cfg)
            dropped = drop_pretraining_param_groups(self)
            if dropped:
                logger.info(f"fine-tuning: pretraining param_group tags dropped ({', '.join(dropped)}); "
                            "weight decay and layer decay come from optim_overrides")

        return __init__

    install_wrapper(MaeImageClassificationModel, "__init__", "self, cfg", wrap, "param_groups")
