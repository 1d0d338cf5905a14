"""The compat fixes ImageNet fine-tuning and the MAE baseline need: what each makes work here, and
(in a fresh interpreter with that one fix skipped) that the original failure returns."""
import shutil

import pytest
import torch
from PIL import Image

import d2v_ext  # noqa: F401  (applies every fix)
from d2v_ext.errors import DataError
from helpers import cifar_tree, require_data, run_python

PRELUDE = "import sys; sys.path.insert(0, 'tests'); import d2v_ext\n"
CIFAR = require_data("images", "cifar10")
POSTERIZE_0 = ("from PIL import Image\nfrom timm.data.auto_augment import NAME_TO_OP\n"
               f"img = Image.open('{sorted((CIFAR / 'val' / 'cat').iterdir())[0]}').convert('RGB')\n"
               "out = NAME_TO_OP['PosterizeIncreasing'](img, 0)\nprint('BLACK', max(max(e) for e in out.getextrema()))\n")


def test_randaugment_posterize_with_zero_bits_gives_the_black_image():
    from timm.data.auto_augment import NAME_TO_OP, rand_augment_transform

    img = Image.open(sorted((CIFAR / "val" / "cat").iterdir())[0]).convert("RGB")
    black = NAME_TO_OP["PosterizeIncreasing"](img, 0)
    assert black.size == img.size and black.getextrema() == ((0, 0),) * 3
    assert list(NAME_TO_OP["Posterize"](img, 3).getdata()) == [tuple(c & 0xE0 for c in p) for p in img.getdata()]
    aug = rand_augment_transform("rand-m9-mstd0.5-inc1", {"img_mean": (124, 116, 104)})  # upstream's policy
    torch.manual_seed(0)
    for seed in range(300):  # magnitude noise reaches 10 -> 0 bits in some of these
        import random
        random.seed(seed)
        assert aug(img).size == img.size


def test_without_posterize_fix_pillow_refuses_zero_bits():
    rc, out = run_python(PRELUDE + POSTERIZE_0, skip_fixes=["randaugment_posterize_zero_bits"])
    assert rc != 0 and "bits must be between or equal to 1 and 8" in out
    rc, out = run_python(PRELUDE + POSTERIZE_0)
    assert rc == 0 and "BLACK 0" in out, out[-1500:]


MAE = ("from fairseq.examples.data2vec.models.mae import MaeConfig, MaeModel\n"
       "m = MaeModel(MaeConfig(input_size=32, patch_size=4, embed_dim=32, depth=2, num_heads=2, "
       "decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2))\nprint('BUILT', len(m.blocks))\n")


def test_mae_builds_with_todays_timm_and_keeps_its_parameter_names():
    from fairseq.examples.data2vec.models.mae import MaeConfig, MaeModel

    m = MaeModel(MaeConfig(input_size=32, patch_size=4, embed_dim=32, depth=2, num_heads=2,
                           decoder_embed_dim=32, decoder_depth=1, decoder_num_heads=2))
    names = set(m.state_dict())
    # the names of MAE's releases (timm 0.3.2 blocks)
    for k in ("blocks.0.norm1.weight", "blocks.0.attn.qkv.weight", "blocks.0.attn.proj.bias", "blocks.1.norm2.bias",
              "blocks.1.mlp.fc1.weight", "blocks.1.mlp.fc2.bias", "decoder_blocks.0.attn.qkv.weight"):
        assert k in names, k
    assert not any(".ls1." in k or "q_norm" in k for k in names)
    blk = m.blocks[0]
    assert blk.attn.scale == pytest.approx((32 // 2) ** -0.5)  # qk_scale=None: the default scale
    x = torch.randn(2, 17, 32)
    ref = x + blk.attn(blk.norm1(x))
    assert torch.allclose(blk(x), ref + blk.mlp(blk.norm2(ref)), atol=1e-6)
    with pytest.raises(ValueError, match="qk_scale=0.5"):
        type(blk)(32, 2, qk_scale=0.5)


def test_without_block_fix_mae_does_not_build():
    rc, out = run_python(PRELUDE + MAE, skip_fixes=["mae_blocks_without_qk_scale"])
    assert rc != 0 and "unexpected keyword argument 'qk_scale'" in out
    rc, out = run_python(PRELUDE + MAE)
    assert rc == 0 and "BUILT 2" in out, out[-1500:]


@pytest.fixture()
def tree(tmp_path):
    return cifar_tree(tmp_path / "tree", ("cat", "dog", "ship"), {"train": 3, "val": 2})


LOAD_VAL = ("from fairseq.examples.data2vec.tasks.image_classification import ImageClassificationConfig, "
            "ImageClassificationTask\nt = ImageClassificationTask(ImageClassificationConfig(data='{root}', input_size=32))\n"
            "t.load_dataset('train'); t.load_dataset('val'); print('LOADED', len(t.datasets['val']))\n")


def test_image_tasks_refuse_a_tree_whose_splits_differ(tree):
    from fairseq.examples.data2vec.tasks.image_classification import ImageClassificationConfig, ImageClassificationTask
    from fairseq.examples.data2vec.tasks.mae_image_classification import (MaeImageClassificationConfig,
                                                                          MaeImageClassificationTask)

    v1 = ImageClassificationTask(ImageClassificationConfig(data=str(tree), input_size=32))
    v2 = MaeImageClassificationTask(MaeImageClassificationConfig(data=str(tree), input_size=32))
    for task in (v1, v2):
        task.load_dataset("train")
        task.load_dataset("val")
        assert len(task.datasets["val"]) == 6
    shutil.rmtree(tree / "val" / "dog")
    (tree / "val" / "dogs").mkdir()
    shutil.copy(sorted((tree / "val" / "cat").iterdir())[0], tree / "val" / "dogs" / "x.png")
    for task in (v1, v2):
        with pytest.raises(DataError, match=r"val/ and train/ have different class folders \(only in train: dog; "
                                            r"only in val: dogs\)"):
            task.load_dataset("val")
    (tree / "train" / "empty").mkdir()
    with pytest.raises(DataError, match=r"train/empty: empty class folder"):
        v2.load_dataset("train")


def test_without_tree_fix_differing_splits_are_a_bare_assertion(tree):
    shutil.rmtree(tree / "val" / "dog")
    rc, out = run_python(PRELUDE + LOAD_VAL.format(root=tree), skip_fixes=["image_tasks_check_their_tree"])
    assert rc != 0 and "AssertionError" in out and "different class folders" not in out
    rc, out = run_python(PRELUDE + LOAD_VAL.format(root=tree))
    assert rc != 0 and "different class folders (only in train: dog" in out


TWO_OPTIMIZERS = ("import torch\nfrom omegaconf import OmegaConf\nfrom fairseq.optim import build_optimizer\n"
                  "cfg = OmegaConf.create({'_name': 'composite', 'dynamic_groups': True, 'groups': {'default': "
                  "{'lr_float': 0.1, 'optimizer': {'_name': 'adam', 'lr': [0.1], 'tpu': False}, 'lr_scheduler': {'_name': 'cosine', 'lr': [0.1], 'max_update': 10}}}})\n"
                  "def params(scale):\n    ps = [torch.nn.Parameter(torch.ones(2)) for _ in range(2)]\n"
                  "    ps[1].optim_overrides = {'optimizer': {'lr_scale': scale}}\n    return ps\n"
                  "a = build_optimizer(cfg, params(0.5)); b = build_optimizer(cfg, params(0.25))\n"
                  "print('GROUPS', len(a.optimizers), len(b.optimizers), sorted(round(c.lr[0], 4) for c in b.optimizers_config.values()))\n")


def test_composite_optimizers_do_not_share_their_groups():
    rc, out = run_python(PRELUDE + TWO_OPTIMIZERS)
    assert rc == 0 and "GROUPS 2 2 [0.025, 0.1]" in out, out[-1500:]
    rc, out = run_python(PRELUDE + TWO_OPTIMIZERS, skip_fixes=["composite_optimizer_state_per_instance"])
    assert rc == 0 and "GROUPS 3 3" in out, out[-1500:]  # b also holds a's lr-scaled group (0.05)


READ_BAD = ("from fairseq.examples.data2vec.tasks.mae_image_classification import MaeImageClassificationConfig, "
            "MaeImageClassificationTask\nt = MaeImageClassificationTask(MaeImageClassificationConfig(data='{root}', input_size=32))\n"
            "t.load_dataset('val'); ds = t.datasets['val']\n"
            "i = [p for p, _ in ds.dataset.samples].index('{bad}'); ds[i]\n")


def test_upstream_image_datasets_name_an_unreadable_file(tree):
    from fairseq.examples.data2vec.tasks.image_classification import ImageClassificationConfig, ImageClassificationTask
    from fairseq.examples.data2vec.tasks.mae_image_classification import (MaeImageClassificationConfig,
                                                                          MaeImageClassificationTask)

    from d2v_ext.data.image_folder import ImageInputError

    bad = tree / "val" / "cat" / "zz_truncated.png"
    bad.write_bytes(sorted((tree / "val" / "dog").iterdir())[0].read_bytes()[:80])
    for task, files in ((ImageClassificationTask(ImageClassificationConfig(data=str(tree), input_size=32)), "files"),
                        (MaeImageClassificationTask(MaeImageClassificationConfig(data=str(tree), input_size=32)), None)):
        task.load_dataset("val")
        ds = task.datasets["val"]
        paths = ds.files if files else [p for p, _ in ds.dataset.samples]
        with pytest.raises(ImageInputError, match=r"zz_truncated.png: cannot decode image .*prepare_imagenet.py"):
            ds[paths.index(str(bad))]
        assert ds[0]["img"].shape == (3, 32, 32)  # the readable ones still load
    rc, out = run_python(PRELUDE + READ_BAD.format(root=tree, bad=bad), skip_fixes=["image_datasets_name_bad_files"])
    assert rc != 0 and "OSError" in out and "zz_truncated.png" not in out.splitlines()[-1]
