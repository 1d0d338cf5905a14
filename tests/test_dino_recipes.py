"""The data2vec / DINO comparison recipes differ only in the switched line (model.target)."""
from omegaconf import OmegaConf

from helpers import PRETRAIN_CONFIGS


def flat(cfg, prefix=""):
    out = {}
    for k, v in cfg.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def test_only_the_target_differs():
    cfgs = {t: flat(OmegaConf.to_container(OmegaConf.load(PRETRAIN_CONFIGS / f"image_dino_{t}.yaml")))
            for t in ("data2vec", "dino", "both")}
    keys = set().union(*cfgs.values())
    differing = {k for k in keys if len({str(c.get(k)) for c in cfgs.values()}) > 1}
    assert differing == {"model.target"}
    assert [cfgs[t]["model.target"] for t in ("data2vec", "dino", "both")] == ["data2vec", "dino", "both"]
    for name in ("tiny_image_dino_data2vec", "tiny_image_dino_dino", "tiny_image_dino_both"):
        defaults = OmegaConf.load(PRETRAIN_CONFIGS / f"{name}.yaml").defaults
        assert list(defaults) == ["_self_", name[5:], "tiny/image_dino"]  # same tiny overrides for all
