"""The data2vec / DINO comparison recipes differ only in what they switch: image_dino_* only in
model.target (paper scale and tiny), text_dino from text_v1 only in the DINO block."""
from hydra import compose, initialize_config_dir
from omegaconf import OmegaConf

from helpers import PRETRAIN_CONFIGS

TARGETS = ("data2vec", "dino", "both")


def flat(cfg, prefix=""):
    out = {}
    for k, v in cfg.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def composed(name, *overrides):
    """The recipe as hydra composes it (recipes are `@package _group_`: fairseq's schema puts that at the root)."""
    with initialize_config_dir(config_dir=str(PRETRAIN_CONFIGS), version_base=None):
        c = OmegaConf.to_container(compose(name, overrides=list(overrides)))
    return flat(OmegaConf.to_container(OmegaConf.merge(c.pop("_group_", {}), c)))


def differing(cfgs):
    keys = set().union(*cfgs)
    return {k for k in keys if len({str(c.get(k)) for c in cfgs}) > 1}


def test_image_dino_recipes_differ_only_in_the_target():
    for extra in ((), ("+tiny=image_dino",)):
        cfgs = [composed(f"image_dino_{t}", *extra) for t in TARGETS]
        assert differing(cfgs) == {"model.target"}, extra
        assert [c["model.target"] for c in cfgs] == list(TARGETS)
    paper, tiny = composed("image_dino_dino"), composed("image_dino_dino", "+tiny=image_dino")
    assert paper["model.embed_dim"] == 768 and paper["task.input_size"] == 224
    assert tiny["model.embed_dim"] == 64 and tiny["task.input_size"] == 32 and tiny["model.dino_out_dim"] == 256
    assert paper["task.skip_bad_images"] is False  # the key exists, so task.skip_bad_images=true works


def test_text_dino_is_text_v1_plus_the_dino_block():
    base, dino = composed("text_v1"), composed("text_dino")
    tiny_base, tiny = composed("text_v1", "+tiny=text_v1"), composed("text_dino", "+tiny=text_dino")
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
    assert tiny["model.transformer.encoder.embed_dim"] == 64 and tiny["optimization.max_update"] == 120
