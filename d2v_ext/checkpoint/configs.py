"""A checkpoint's model config read into one of the plugin's config dataclasses."""
import logging

from omegaconf import OmegaConf, open_dict

logger = logging.getLogger(__name__)


def model_config_as(dataclass, saved, **overrides):
    """``saved`` (a checkpoint's ``cfg.model``) as a structured ``dataclass`` config: its values for the
    fields the dataclass has, the dataclass defaults for the rest, then ``overrides``. Saved keys the
    dataclass lacks are dropped with one warning naming them."""
    base = OmegaConf.structured(dataclass)
    saved = OmegaConf.to_container(saved, resolve=False) if OmegaConf.is_config(saved) else dict(saved)
    unknown = sorted(k for k in saved if k not in base)
    if unknown:
        logger.warning(f"checkpoint config keys not in {dataclass.__name__}, ignored: {', '.join(unknown)}")
    cfg = OmegaConf.merge(base, {k: v for k, v in saved.items() if k in base}, overrides)
    with open_dict(cfg):
        cfg._name = saved.get("_name", cfg.get("_name"))
    return cfg
