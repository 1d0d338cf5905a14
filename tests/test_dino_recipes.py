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


def test_text_dino_is_text_v1_plus_the_dino_block():
    from hydra import compose, initialize_config_dir

    def composed(name):  # text_v1 is `@package _group_`: fairseq's schema puts that at the root
        c = OmegaConf.to_container(compose(name))
        return flat(OmegaConf.to_container(OmegaConf.merge(c.pop("_group_", {}), c)))

    with initialize_config_dir(config_dir=str(PRETRAIN_CONFIGS), version_base=None):
        base, dino, tiny_base, tiny = map(composed, ("text_v1", "text_dino", "tiny_text_v1", "tiny_text_dino"))
    for b, d in ((base, dino), (tiny_base, tiny)):
        changed = {k for k in set(b) | set(d) if str(b.get(k)) != str(d.get(k))}
        assert {k for k in changed if not k.startswith("model.dino_")} == {"model._name", "model.target",
                                                                         "model.data2vec_weight"}
        assert d["model._name"] == "data2vec_text_dino" and d["model.target"] == "both"
        # encoder, data, teacher schedule and optimiser are text_v1's
        for k in ("model.ema_decay", "model.ema_end_decay", "model.ema_anneal_end_step", "task.mask_prob",
                  "optimization.lr", "optimization.max_update", "model.transformer.encoder.layers"):
            assert str(b[k]) == str(d[k]), k
    assert tiny["model.dino_out_dim"] == 256 and dino["model.dino_out_dim"] == 4096
