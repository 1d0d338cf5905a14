"""The compat fixes conversion needs, each failing without its fix: v1 vision with a relative position
bias per layer, v1 image fine-tuning from a pretraining checkpoint, its mean pooling over every patch,
and old checkpoints' cfg keys. Each case runs in a fresh interpreter (fixes apply at import)."""
import sys

from helpers import DATA, PROJECT_ROOT, run_python

TESTS = str(PROJECT_ROOT / "tests")
IMAGES = str(DATA / "images" / "cifar10")

# A random transformers ForImageClassification (per-layer bias) and Model (shared bias), converted.
SETUP = f"""
import sys, torch
sys.path.insert(0, {TESTS!r})
import d2v_ext
from hf_models import vision_model
from d2v_ext.convert.vision_convert import from_transformers
from d2v_ext.convert.verify import cifar_images
from omegaconf import OmegaConf
images = cifar_images(32)
"""

PER_LAYER = SETUP + """
from fairseq.examples.data2vec.models.data2vec_vision import Data2VecVisionModel
state, _ = from_transformers(vision_model("vision_cls"))
cfg = OmegaConf.create(state["cfg"]["model"]["pretrained_model_args"]["model"])
assert cfg.shared_rel_pos_bias is False
try:
    Data2VecVisionModel(cfg).eval()(images, mask=False)
    print("FORWARD_OK")
except Exception as e:
    print("FAILED", type(e).__name__, e)
"""

POOLING = SETUP + f"""
from fairseq.examples.data2vec.models.data2vec_image_classification import Data2VecImageClassificationModel
hf = vision_model("vision_cls")
state, _ = from_transformers(hf)
cfg = OmegaConf.create(state["cfg"]["model"]); cfg.mixup = cfg.cutmix = 0.0; cfg.data = {IMAGES!r}
model = Data2VecImageClassificationModel(cfg).eval()
model.load_state_dict(state["model"], strict=True)
with torch.no_grad():
    print("DIFF", float((model(images) - hf(pixel_values=images).logits).abs().max()))
"""

FINETUNE_FROM_PRETRAINING = SETUP + f"""
from fairseq.examples.data2vec.models.data2vec_image_classification import (Data2VecImageClassificationConfig,
                                                                            Data2VecImageClassificationModel)
state, _ = from_transformers(vision_model("vision"), data={IMAGES!r})
{{extra}}
torch.save(state, {{path!r}})
cfg = OmegaConf.structured(Data2VecImageClassificationConfig)
cfg.model_path, cfg.data, cfg.num_classes, cfg.mixup, cfg.cutmix = {{path!r}}, {IMAGES!r}, 10, 0.0, 0.0
try:
    model = Data2VecImageClassificationModel(cfg)
    print("BUILT", float((model.model.encoder.blocks[0].attn.qkv.weight
                          - state["model"]["encoder.blocks.0.attn.qkv.weight"]).abs().max()))
except Exception as e:
    print("FAILED", type(e).__name__, str(e).replace(chr(10), " ")[:300])
"""


def test_per_layer_position_bias_runs():
    rc, out = run_python(PER_LAYER)
    assert "FORWARD_OK" in out, out[-2000:]


def test_per_layer_position_bias_fails_without_the_fix():
    rc, out = run_python(PER_LAYER, skip_fixes=["vision_per_layer_position_bias"])
    assert "FAILED AssertionError" in out, out[-2000:]  # upstream's `assert 1==2`


def test_classification_pools_every_patch_as_transformers():
    rc, out = run_python(POOLING)
    assert float(out.split("DIFF")[-1].split()[0]) <= 1e-5, out[-2000:]


def test_without_the_fix_the_first_patch_is_left_out():
    rc, out = run_python(POOLING, skip_fixes=["image_classification_pools_every_patch"])
    assert float(out.split("DIFF")[-1].split()[0]) > 1e-3, out[-2000:]


def test_image_finetuning_loads_a_pretraining_checkpoint(tmp_path):
    rc, out = run_python(FINETUNE_FROM_PRETRAINING.format(extra="", path=str(tmp_path / "p.pt")))
    assert "BUILT 0.0" in out, out[-2000:]


def test_without_the_fix_pretraining_keys_break_the_strict_load(tmp_path):
    rc, out = run_python(FINETUNE_FROM_PRETRAINING.format(extra="", path=str(tmp_path / "p.pt")),
                         skip_fixes=["vision_finetuning_loads_pretraining_checkpoints"])
    assert "FAILED RuntimeError" in out and "Unexpected key(s)" in out and "mask_emb" in out, out[-2000:]


# fairseq #5021: a key an older fairseq saved in the pretrained task config ("rebuild_batches");
# upstream's fine-tuning model sets up that task without from_checkpoint, so the merge fails.
OLD_KEY = 'state["cfg"]["task"]["rebuild_batches"] = True'


def test_unknown_cfg_keys_are_dropped_with_a_warning(tmp_path):
    rc, out = run_python(FINETUNE_FROM_PRETRAINING.format(extra=OLD_KEY, path=str(tmp_path / "p.pt")))
    assert "BUILT 0.0" in out, out[-2000:]
    assert "config keys today's fairseq does not know, dropped: cfg.task.rebuild_batches" in out


def test_without_the_fix_unknown_cfg_keys_fail(tmp_path):
    rc, out = run_python(FINETUNE_FROM_PRETRAINING.format(extra=OLD_KEY, path=str(tmp_path / "p.pt")),
                         skip_fixes=["old_checkpoint_config_keys_dropped"])
    assert "FAILED ConfigKeyError" in out and "rebuild_batches" in out, out[-2000:]


def test_unknown_keys_found_in_nested_and_pretrained_configs():
    from omegaconf import OmegaConf

    import d2v_ext  # noqa: F401
    from d2v_ext.checkpoint.old_format import drop_keys, unknown_keys
    from d2v_ext.convert.fairseq_side import data2vec_text_cfg, full_config

    sizes = dict(embed_dim=8, ffn=16, layers=1, heads=2, positions=16)
    cfg = OmegaConf.create(full_config(data2vec_text_cfg(sizes), {"_name": "masked_lm", "data": "x"}))
    cfg.model.transformer.encoder.old_knob = 1
    cfg.common.gone = 2
    qa = OmegaConf.create(full_config({"_name": "data2vec_text_qa", "model_path": "m",
                                       "pretrained_model_args": OmegaConf.to_container(cfg.model)},
                                      {"_name": "squad", "data": "x"}))
    assert unknown_keys(cfg) == ["cfg.common.gone", "cfg.model.transformer.encoder.old_knob"]
    assert unknown_keys(qa) == ["cfg.model.pretrained_model_args.transformer.encoder.old_knob"]
    drop_keys(cfg, unknown_keys(cfg))
    assert unknown_keys(cfg) == [] and "old_knob" not in cfg.model.transformer.encoder
    assert sys.modules["d2v_ext"]
