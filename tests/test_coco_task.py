"""Task coco_captioning on prepare_coco.py's output of the fixture (real photos with human captions;
CIFAR-10 with TEMPLATED captions): items, the caption drawn per epoch or every caption, batches as
fairseq's decoder and SequenceGenerator expect them, length ordering, RGB conversion, bad data."""
import pytest
import torch

import d2v_ext  # noqa: F401  (registers the task)
from coco_fixture import write_fixture
from helpers import run_script


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("coco_task")
    root, karpathy, _, images = write_fixture(tmp)
    rc, log = run_script("prepare_coco.py", "--workers", "1", "--quiet")("--karpathy", karpathy, "--images", root,
                                                                           "--out", tmp / "bin")
    assert rc == 0, log
    return tmp / "bin", images


def task_of(data, **over):
    from fairseq.tasks import setup_task
    from omegaconf import OmegaConf

    from d2v_ext.tasks.coco_captioning import CocoCaptioningConfig

    cfg = OmegaConf.structured(CocoCaptioningConfig)
    cfg.data, cfg.seed, cfg.input_size = str(data), 1, 32
    for k, v in over.items():
        cfg[k] = v
    cfg._name = "coco_captioning"
    return setup_task(cfg)


def test_sampled_captions_items_and_batches(prepared):
    data, images = prepared
    task = task_of(data)
    ds = task.load_dataset("train")
    n_train = sum(s in ("train", "restval") for _, s, _, _ in images)
    assert len(ds) == len(ds.images) == n_train  # one item per image
    item = ds[0]
    assert item["source"].shape == (3, 32, 32) and item["target"][-1] == task.dictionary.eos()
    lo, hi = ds.first[0], ds.first[1]
    assert lo <= item["caption"] < hi  # a caption of this image
    picks = {}
    for epoch in (1, 2, 3, 4):
        ds.set_epoch(epoch)
        picks[epoch] = [ds[i]["caption"] for i in range(len(ds))]
    assert picks[1] != picks[2]  # drawn afresh each epoch ...
    ds.set_epoch(1)
    assert [ds[i]["caption"] for i in range(len(ds))] == picks[1]  # ... reproducibly
    batch = ds.collater([ds[i] for i in range(4)])
    src, prev, tgt = batch["net_input"]["source"], batch["net_input"]["prev_output_tokens"], batch["target"]
    assert src.shape == (4, 3, 32, 32) and prev.shape == tgt.shape
    pad, eos = task.dictionary.pad(), task.dictionary.eos()
    for p, t in zip(prev, tgt):
        n = int(t.ne(pad).sum())
        assert p[0] == eos and torch.equal(p[1:n], t[: n - 1]) and t[n - 1] == eos
    assert batch["ntokens"] == int(tgt.ne(pad).sum())
    sizes = ds.sizes[ds.ordered_indices()]
    assert all(a <= b for a, b in zip(sizes, sizes[1:]))  # batches of similar caption lengths


def test_every_caption_for_evaluation_and_grayscale_photos(prepared):
    data, images = prepared
    task = task_of(data)
    ds = task.load_dataset("test")
    test = [(p, caps, i) for p, s, caps, i in images if s == "test"]
    assert len(ds) == sum(len(c) for _, c, _ in test) and len(ds.images) == len(test)
    seen = [ds[i] for i in range(len(ds))]
    assert [s["caption"] for s in seen] == list(range(len(ds)))
    by_id = {}
    for s in seen:
        by_id.setdefault(s["image_id"], []).append(s["caption"])
    assert {i: len(v) for i, v in by_id.items()} == {i: len(c) for _, c, i in test}
    gray = [k for k, (_, p, _) in enumerate(ds.images) if "photos/" in p]
    assert gray and all(seen[int(ds.first[k])]["source"].shape == (3, 32, 32) for k in gray)  # photos: L and RGB


def copied(data, dest):
    """A copy of the prepared folder, to edit its manifests."""
    dest.mkdir()
    for p in data.iterdir():
        (dest / p.name).write_bytes(p.read_bytes())
    return dest


def test_bad_data_is_named(prepared, tmp_path):
    from d2v_ext.data.image_folder import ImageInputError
    from d2v_ext.errors import DataError, MissingInputError

    data, _ = prepared
    copy = copied(data, tmp_path / "bin")
    lines = (copy / "valid.images.tsv").read_text().splitlines()
    (tmp_path / "corrupt.png").write_bytes(b"not an image")
    first = lines[1].split("\t")
    lines[1] = "\t".join([first[0], str(tmp_path / "corrupt.png"), first[2]])
    (copy / "valid.images.tsv").write_text("\n".join(lines) + "\n")
    ds = task_of(copy).load_dataset("valid")
    with pytest.raises(ImageInputError, match="corrupt.png: cannot decode image"):
        ds[0]
    lines[2] = lines[2].rsplit("\t", 1)[0] + "\t9"
    (copy / "valid.images.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match="prepare the split again"):
        task_of(copy).load_dataset("valid")
    lines[2] = "12\tx.png"
    (copy / "valid.images.tsv").write_text("\n".join(lines) + "\n")
    with pytest.raises(DataError, match=r"valid.images.tsv:3: expected image_id<TAB>relative path<TAB>caption count"):
        task_of(copy).load_dataset("valid")
    with pytest.raises(MissingInputError, match="no binarized captions"):
        task_of(copy).load_dataset("nosplit")
    with pytest.raises(MissingInputError, match="no dict.txt"):
        task_of(tmp_path)


def test_rgba_cmyk_and_palette_images_become_rgb(prepared, tmp_path):
    from PIL import Image

    from helpers import require_data

    data, _ = prepared
    copy = copied(data, tmp_path / "bin")
    photo = Image.open(require_data("images", "photos", "astronaut.png")).convert("RGB")
    made = {"rgba.png": photo.convert("RGBA"), "cmyk.jpg": photo.convert("CMYK"), "palette.png": photo.convert("P")}
    for name, im in made.items():
        im.save(tmp_path / name)
    lines = (copy / "valid.images.tsv").read_text().splitlines()
    for k, name in enumerate(made, start=1):
        parts = lines[k].split("\t")
        lines[k] = "\t".join([parts[0], str(tmp_path / name), parts[2]])
    (copy / "valid.images.tsv").write_text("\n".join(lines) + "\n")
    ds = task_of(copy).load_dataset("valid")
    for k, name in enumerate(made):
        assert Image.open(tmp_path / name).mode in ("RGBA", "CMYK", "P")
        item = ds[int(ds.first[k])]
        assert item["source"].shape == (3, 32, 32) and torch.isfinite(item["source"]).all(), name
