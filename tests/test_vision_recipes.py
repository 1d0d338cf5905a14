"""The vision fine-tuning recipes and the MAE baseline compose as their comments say: MAE has
data2vec 2.0's backbone, data and budget; the ViT-L and MAE fine-tuning variants differ from their
base recipe only in the keys they name; the tiny versions fit the bundled CIFAR-10 tree."""
from helpers import FINETUNE_CONFIGS, PRETRAIN_CONFIGS, composed_recipe, differing


def pre(name, *o):
    return composed_recipe(PRETRAIN_CONFIGS, name, *o)


def ft(name, *o):
    return composed_recipe(FINETUNE_CONFIGS, name, *o)


def test_mae_has_data2vec2s_backbone_data_and_budget():
    import d2v_ext  # noqa: F401
    from fairseq.examples.data2vec.models.data2vec2 import Data2VecMultiConfig

    d2v2 = Data2VecMultiConfig()  # what image_v2.yaml leaves at the default
    image = d2v2.modalities.image
    for extra_mae, extra_v2 in (((), ()), (("+tiny=mae",), ("+tiny=image_v2",))):
        mae, v2 = pre("mae", *extra_mae), pre("image_v2", *extra_v2)
        for k in ("task._name", "task.data", "task.input_size", "dataset.batch_size", "optimization.max_update",
                  "optimization.lr", "optimization.clip_norm", "distributed_training.distributed_world_size",
                  "common.fp16", "lr_scheduler"):
            assert str(mae[k]) == str(v2[k]), k
        for group in ("with_decay", "no_decay"):
            for k in ("lr_float", "lr_scheduler._name", "lr_scheduler.warmup_updates", "optimizer.adam_betas"):
                assert str(mae[f"optimizer.groups.{group}.{k}"]) == str(v2[f"optimizer.groups.default.{k}"]), (group, k)
        assert mae["optimizer.groups.with_decay.optimizer.weight_decay"] == v2["optimizer.groups.default.optimizer.weight_decay"]
        assert mae["optimizer.groups.no_decay.optimizer.weight_decay"] == 0
        # the same ViT: data2vec 2.0 counts its prenet blocks apart from `depth`
        assert mae["model.depth"] == v2["model.depth"] + v2["model.modalities.image.prenet_depth"]
        assert mae["model.embed_dim"] == v2.get("model.embed_dim", d2v2.embed_dim)
        assert mae["model.num_heads"] == v2.get("model.num_heads", d2v2.num_heads)
        assert mae["model.patch_size"] == v2.get("model.modalities.image.patch_size", image.patch_size)
        assert mae["model.input_size"] == v2.get("model.modalities.image.input_size", image.input_size) == v2["task.input_size"]
    paper, tiny = pre("mae"), pre("mae", "+tiny=mae")
    assert (paper["model.depth"], paper["model.embed_dim"], paper["model.mask_ratio"]) == (12, 768, 0.75)
    assert (tiny["model.depth"], tiny["model.embed_dim"], tiny["task.input_size"]) == (4, 64, 32)


def test_finetuning_variants_differ_only_in_what_they_name():
    assert differing([ft("imagenet_v1"), ft("imagenet_v1_large")]) == {"optimization.max_update", "optimization.clip_norm"}
    assert differing([ft("imagenet_v2"), ft("imagenet_v2_large")]) == {
        "optimization.max_update", "optimization.lr", "optimization.clip_norm", "optimizer.groups.default.lr_float",
        "optimizer.groups.default.lr_scheduler.min_lr", "model.layer_decay", "model.drop_path_rate"}
    assert differing([ft("imagenet_v2"), ft("imagenet_mae")]) == {"model.mixup", "model.mixup_prob"}
    assert differing([ft("imagenet_v2", "+tiny=imagenet_v2"), ft("imagenet_mae", "+tiny=imagenet_v2")]) == {
        "model.mixup", "model.mixup_prob"}


def test_paper_and_tiny_finetuning_recipes():
    for name, tiny in (("imagenet_v1", "imagenet_v1"), ("imagenet_v2", "imagenet_v2"), ("imagenet_mae", "imagenet_v2")):
        paper, small = ft(name), ft(name, f"+tiny={tiny}")
        assert paper["task.data"] == "???" and paper["model.model_path"] == "???", name
        assert paper["task.input_size"] == 224 and paper["model.num_classes"] == 1000 and paper["common.fp16"] is True
        assert small["task.input_size"] == 32 and small["model.num_classes"] == 10 and small["common.fp16"] is False
        assert small["optimization.max_update"] == 282 and small["dataset.batch_size"] == 32
        assert paper["checkpoint.best_checkpoint_metric"] == "accuracy"
        assert paper["checkpoint.maximize_best_checkpoint_metric"] is True
    v2 = ft("imagenet_v2")  # upstream mae_imagenet_clean.yaml: 16 x 32 images, 100 epochs, layer decay 0.65
    assert v2["distributed_training.distributed_world_size"] * v2["dataset.batch_size"] == 512
    assert round(v2["optimization.max_update"] * 512 / 1_281_167) == 100 and v2["model.layer_decay"] == 0.65
    v1 = ft("imagenet_v1")
    assert v1["distributed_training.distributed_world_size"] * v1["dataset.batch_size"] == 512
    assert round(v1["optimization.max_update"] * 512 / 1_281_167) == 40
