"""prepare_coco.py on a fixture in the real Karpathy and COCO formats (real photos with their human
captions; CIFAR-10 images with TEMPLATED class-name captions, see coco_fixture.py): manifests,
binarized captions that decode back to the captions, references in COCO's ground-truth format;
both input formats and both tokenizers; every bad-input case is a clear error that writes nothing,
or a counted skip under --skip-bad."""
import json
from pathlib import Path

import pytest

from coco_fixture import write_fixture
from helpers import require_data, run_script

prepare = run_script("prepare_coco.py", "--workers", "1", "--quiet")


@pytest.fixture(scope="module")
def fx(tmp_path_factory):
    return write_fixture(tmp_path_factory.mktemp("coco"))


def expected(images, split):
    want = {"train": ("train", "restval"), "valid": ("val",), "test": ("test",)}[split]
    return [(p, caps, i) for p, s, caps, i in images if s in want]


def read_split(out, split):
    """(image root, manifest rows, the binarized captions as lists of ids, a function giving the ids
    a caption should have, refs) of one prepared split."""
    from fairseq.data import Dictionary, data_utils

    from d2v_ext.data.bpe import load_gpt2_bpe

    lines = (out / f"{split}.images.tsv").read_text().splitlines()
    rows = [line.split("\t") for line in lines[1:]]
    d = Dictionary.load(str(out / "dict.txt"))
    ds = data_utils.load_indexed_dataset(str(out / split), d)
    bpe = load_gpt2_bpe(*[str(require_data("gpt2_bpe", f)) for f in ("encoder.json", "vocab.bpe")])

    def ids(caption):  # GPT-2 BPE, then the dictionary (built from train: unseen tokens are <unk>), then </s>
        return [d.index(str(t)) for t in bpe.encode(caption)] + [d.eos()]

    binarized = [ds[k].tolist() for k in range(len(ds))]
    return lines[0], rows, binarized, ids, json.loads((out / f"{split}.refs.json").read_text())


@pytest.mark.parametrize("fmt", ["karpathy", "coco", "both"])
def test_prepares_every_split(fx, tmp_path, fmt):
    root, karpathy, captions, images = fx
    args = {"karpathy": ["--karpathy", karpathy], "coco": ["--captions", *captions.values()],
            "both": ["--karpathy", karpathy, "--captions", *captions.values()]}[fmt]
    out = tmp_path / "out"
    rc, log = prepare(*args, "--images", root, "--out", out)
    assert rc == 0, log
    meta = json.loads((out / "meta.json").read_text())
    splits = ("train", "valid", "test") if fmt != "coco" else ("train", "valid")  # COCO: val2014 holds val + test
    assert set(meta["splits"]) == set(splits)
    for split in splits:
        want = expected(images, split) if fmt != "coco" else \
            [x for s in ((("train",), ("valid", "test"))[split == "valid"]) for x in expected(images, s)]
        first, rows, binarized, ids, refs = read_split(out, split)
        assert first == str(root.resolve())
        assert sorted(int(r[0]) for r in rows) == sorted(i for _, _, i in want)
        assert all((root / r[1]).is_file() and int(r[2]) >= 1 for r in rows)
        by_id = {i: caps for _, caps, i in want}
        wanted_caps = [c[0].upper() + c[1:] + "." for r in rows for c in by_id[int(r[0])]]
        assert binarized == [ids(c) for c in wanted_caps]  # every caption, in manifest order
        if split == "train":
            assert d_unk_free(binarized, out)  # the dictionary comes from train: nothing unknown there
        assert [a["caption"] for a in refs["annotations"]] == wanted_caps
        assert {a["image_id"] for a in refs["annotations"]} == {im["id"] for im in refs["images"]} == set(by_id)
        assert meta["splits"][split] == {"images": len(want), "captions": len(wanted_caps)}
    assert meta["skipped"] == []


def d_unk_free(binarized, out):
    from fairseq.data import Dictionary

    unk = Dictionary.load(str(out / "dict.txt")).unk()
    return all(unk not in b for b in binarized)


def test_sentencepiece_and_given_dictionary(fx, tmp_path):
    import sentencepiece as spm
    from fairseq.data import Dictionary, data_utils

    root, karpathy, _, images = fx
    rc, log = prepare("--karpathy", karpathy, "--images", root, "--out", tmp_path / "sp", "--tokenizer", "sentencepiece",
                      "--lowercase")
    assert rc == 0, log
    sp = spm.SentencePieceProcessor(model_file=str(require_data("sentencepiece", "en_unigram_1k.model")))
    d = Dictionary.load(str(tmp_path / "sp" / "dict.txt"))
    ds = data_utils.load_indexed_dataset(str(tmp_path / "sp" / "train"), d)
    rows = [r.split("\t") for r in (tmp_path / "sp" / "train.images.tsv").read_text().splitlines()[1:]]
    by_id = {i: caps for _, caps, i in expected(images, "train")}
    want = [(c[0].upper() + c[1:] + ".").lower() for r in rows for c in by_id[int(r[0])]]
    assert [sp.decode([d[t] for t in ds[k][:-1]]) for k in range(len(ds))] == want
    # --dict: the given dictionary is kept as it is
    rc, log = prepare("--karpathy", karpathy, "--images", root, "--out", tmp_path / "given", "--dict", tmp_path / "sp" / "dict.txt",
                      "--tokenizer", "sentencepiece", "--lowercase")
    assert rc == 0, log
    assert (tmp_path / "given" / "dict.txt").read_text() == (tmp_path / "sp" / "dict.txt").read_text()


def edit(fx, tmp_path, change):
    """A copy of the Karpathy file (or, for change(kind='coco'), the train2014 captions) with ``change`` applied."""
    root, karpathy, captions, _ = fx
    data = json.loads(Path(karpathy).read_text())
    change(data)
    path = tmp_path / "dataset_coco.json"
    path.write_text(json.dumps(data))
    return root, path


BAD = {
    "missing image": (lambda d: d["images"][0].update(filename="nope.png"), "images[0] (cocoid 1): image file", "not found"),
    "corrupt image": (None, "cannot be read", "corrupt.png"),
    "empty caption": (lambda d: d["images"][2]["sentences"][1].update(raw="  "), "images[2] (cocoid 3)", "caption 1 is empty"),
    "no captions": (lambda d: d["images"][3].update(sentences=[]), "images[3] (cocoid 4)", "no captions"),
    "bad split": (lambda d: d["images"][4].update(split="dev"), "images[4] (cocoid 5)",
                  "split 'dev' is not one of Karpathy's (train, restval, val, test)"),
    "missing field": (lambda d: d["images"][5].pop("filepath"), "images[5]", "missing field filepath"),
}


@pytest.mark.parametrize("case", sorted(BAD))
def test_bad_input_is_a_clear_error_and_nothing_is_written_or_a_counted_skip(fx, tmp_path, case):
    change, where, what = BAD[case]
    if change is None:  # a corrupt image file under the root
        root = tmp_path / "root"
        root.mkdir()
        for p in fx[0].iterdir():
            (root / p.name).symlink_to(p.resolve(), target_is_directory=p.is_dir())
        (root / "bad").mkdir()
        (root / "bad" / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + b"garbage" * 10)
        _, karpathy = edit(fx, tmp_path, lambda d: d["images"][1].update(filepath="bad", filename="corrupt.png"))
    else:
        root, karpathy = edit(fx, tmp_path, change)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("already here")
    rc, log = prepare("--karpathy", karpathy, "--images", root, "--out", out)
    assert rc == 2 and where in log and what in log and str(karpathy) in log and "--skip-bad" in log, log
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]  # nothing partial written
    rc, log = prepare("--karpathy", karpathy, "--images", root, "--out", out, "--skip-bad")
    assert rc == 0, log
    meta = json.loads((out / "meta.json").read_text())
    assert len(meta["skipped"]) == 1 and what in meta["skipped"][0] and "skipped 1" in log
    assert (out / "keep.txt").read_text() == "already here"


def test_coco_format_errors(fx, tmp_path):
    root, _, captions, _ = fx
    data = json.loads(captions["train2014"].read_text())
    data["images"].append({"id": 999, "file_name": "COCO_train2014_000000000999.png"})  # an id nobody captions
    data["annotations"].append({"image_id": 12345, "id": 1, "caption": "a ghost"})  # a caption of no image
    bad = tmp_path / "captions_train2014.json"
    bad.write_text(json.dumps(data))
    rc, log = prepare("--captions", bad, "--images", root, "--out", tmp_path / "out")
    assert rc == 2 and "2 bad COCO entries" in log and not (tmp_path / "out").exists(), log
    assert "annotations[" in log and "image_id 12345 is not in images[]" in log
    assert "(id 999): an image id without captions" in log
    bad.write_text('{"images": [}')
    rc, log = prepare("--captions", bad, "--images", root, "--out", tmp_path / "out")
    assert rc == 2 and f"{bad}: not valid JSON (line 1, column 13)" in log
    odd = tmp_path / "my_captions.json"
    odd.write_text(captions["train2014"].read_text())
    rc, log = prepare("--captions", odd, "--images", root, "--out", tmp_path / "out")
    assert rc == 2 and "cannot tell its split from the name" in log
    rc, log = prepare("--captions", f"{odd}:train", "--images", root, "--out", tmp_path / "out")
    assert rc == 2 and "not found" in log  # named as train: its files are looked up under the root itself
    rc, log = prepare("--images", root, "--out", tmp_path / "out")
    assert rc == 2 and "give --karpathy and/or --captions" in log


def test_parallel_workers_write_the_same_dataset(fx, tmp_path):
    root, karpathy, _, _ = fx
    for w in ("1", "2"):
        rc, log = run_script("prepare_coco.py", "--workers", w, "--quiet")("--karpathy", karpathy, "--images", root,
                                                                           "--out", tmp_path / w)
        assert rc == 0, log
    for name in ("dict.txt", "train.bin", "train.idx", "test.bin", "test.images.tsv", "test.refs.json"):
        assert (tmp_path / "1" / name).read_bytes() == (tmp_path / "2" / name).read_bytes(), name


def test_help():
    rc, out = prepare("--help")
    assert rc == 0 and "--karpathy" in out and "--skip-bad" in out and "ground-truth format" in out
