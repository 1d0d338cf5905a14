"""The data2vec / DINO comparison recipes differ only in what they switch: image_dino_* only in
model.target (paper scale and tiny), text_dino from text_v1 only in the DINO block."""
from helpers import PRETRAIN_CONFIGS, composed_recipe, differing

TARGETS = ("data2vec", "dino", "both")


def composed(name, *overrides):
    return composed_recipe(PRETRAIN_CONFIGS, name, *overrides)


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
