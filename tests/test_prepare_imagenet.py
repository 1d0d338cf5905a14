"""scripts/prepare_imagenet.py on small trees of real CIFAR-10 PNGs: counts, bad files (listed, or
moved out with --exclude-bad), non-RGB modes, structural errors, and equal reports for any --workers."""
import json
import shutil

from PIL import Image

from helpers import cifar_tree, require_data, run_script

CIFAR = require_data("images", "cifar10")
CLASSES = ("airplane", "bird", "cat")
PER_CLASS = {"train": 4, "val": 2}
prepare = run_script("prepare_imagenet.py", "--workers", "1")


def make_tree(root, classes=CLASSES):
    return cifar_tree(root, classes, PER_CLASS)


def run(root, *args):
    rc, out = prepare(root, *args)
    assert "Traceback" not in out, out
    return rc, out


def test_clean_tree_counts(tmp_path):
    root = make_tree(tmp_path / "tree")
    (root / "train" / "cat" / "notes.txt").write_text("not an image")
    rc, out = run(root, "--out", tmp_path / "report.json")
    assert rc == 0, out
    report = json.loads((tmp_path / "report.json").read_text())
    for split, n in PER_CLASS.items():
        s = report["splits"][split]
        assert s["per_class"] == {c: n for c in CLASSES}
        assert (s["images"], s["classes"], s["min"], s["median"], s["max"]) == (3 * n, 3, n, n, n)
        assert s["bad"] == [] and s["modes"] == {"RGB": 3 * n}
    assert report["splits"]["train"]["ignored_files"] == {".txt": 1}
    assert report["bad_files"] == 0 and report["notes"] == []
    assert f"task.data={root.resolve()}" in out and "12 images, 3 classes" in out


def test_workers_give_the_same_report(tmp_path):
    root = make_tree(tmp_path / "tree")
    Image.open(root / "val" / "cat" / sorted(p.name for p in (root / "val" / "cat").iterdir())[0]).convert("L") \
        .save(root / "val" / "cat" / "gray.png")
    reports = []
    for w in (1, 2):
        rc, out = run(root, "--workers", w, "--out", tmp_path / f"w{w}.json")
        assert rc == 0, out
        reports.append(json.loads((tmp_path / f"w{w}.json").read_text()))
    assert reports[0] == reports[1]


def test_classes_differ_between_splits(tmp_path):
    root = make_tree(tmp_path / "tree")
    shutil.rmtree(root / "val" / "bird")
    rc, out = run(root)
    assert rc == 2 and "bird" in out and "val" in out, out


def bad_tree(tmp_path):
    root = make_tree(tmp_path / "tree")
    png = sorted((root / "train" / "cat").iterdir())[0]
    data = png.read_bytes()
    (root / "train" / "cat" / "truncated.png").write_bytes(data[: len(data) // 2])
    (root / "val" / "bird" / "sub").mkdir()
    (root / "val" / "bird" / "sub" / "empty.jpg").write_bytes(b"")
    return root


def test_bad_files_are_an_error_and_nothing_is_touched(tmp_path):
    root = bad_tree(tmp_path)
    rc, out = run(root, "--out", tmp_path / "report.json")
    assert rc == 2, out
    assert "train/cat/truncated.png" in out and "val/bird/sub/empty.jpg" in out and "zero-byte" in out
    assert "--exclude-bad" in out and "2 bad image file" in out
    assert (root / "train/cat/truncated.png").exists() and (root / "val/bird/sub/empty.jpg").exists()
    assert not (tmp_path / "report.json").exists()


def test_exclude_bad_moves_them_out(tmp_path):
    root, dest = bad_tree(tmp_path), tmp_path / "excluded"
    rc, out = run(root, "--exclude-bad", dest, "--out", tmp_path / "report.json")
    assert rc == 0, out
    for rel in ("train/cat/truncated.png", "val/bird/sub/empty.jpg"):
        assert not (root / rel).exists() and (dest / rel).is_file()
    assert (dest / "val/bird/sub/empty.jpg").stat().st_size == 0
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["bad_files"] == 2 and report["excluded_to"] == str(dest.resolve())
    assert [b["file"] for b in report["splits"]["train"]["bad"]] == ["train/cat/truncated.png"]
    assert report["splits"]["val"]["bad"] == [{"file": "val/bird/sub/empty.jpg", "reason": "zero-byte file"}]
    assert report["splits"]["train"]["per_class"]["cat"] == 4  # the good images only
    rc, out = run(root)  # the tree is clean now
    assert rc == 0, out


def test_exclude_bad_inside_a_split_is_refused(tmp_path):
    root = bad_tree(tmp_path)
    rc, out = run(root, "--exclude-bad", root / "train" / "bad")
    assert rc == 2 and "--exclude-bad" in out, out
    assert (root / "train" / "cat" / "truncated.png").exists()


def test_non_rgb_modes_are_a_note(tmp_path):
    root = make_tree(tmp_path / "tree")
    src = sorted((root / "train" / "bird").iterdir())[0]
    Image.open(src).convert("L").save(root / "train" / "bird" / "gray.png")
    Image.open(src).convert("RGBA").save(root / "val" / "bird" / "alpha.png")
    rc, out = run(root, "--out", tmp_path / "report.json")
    assert rc == 0, out
    report = json.loads((tmp_path / "report.json").read_text())
    assert report["non_rgb_modes"] == {"L": 1, "RGBA": 1}
    assert report["splits"]["train"]["modes"] == {"L": 1, "RGB": 12}
    assert report["splits"]["val"]["modes"] == {"RGB": 6, "RGBA": 1}
    assert "converted to RGB at load" in report["notes"][0] and "converted to RGB at load" in out


def test_empty_class_folder(tmp_path):
    root = make_tree(tmp_path / "tree")
    for f in (root / "val" / "cat").iterdir():
        f.unlink()
    (root / "val" / "cat" / "readme.txt").write_text("no images here")
    rc, out = run(root)
    assert rc == 2 and str(root / "val" / "cat") in out and "empty class folder" in out, out


def test_missing_split(tmp_path):
    root = make_tree(tmp_path / "tree")
    shutil.rmtree(root / "val")
    rc, out = run(root)
    assert rc == 2 and str(root / "val") in out and "not found" in out, out


def test_out_is_a_folder(tmp_path):
    root = make_tree(tmp_path / "tree")
    (tmp_path / "report.json").mkdir()
    rc, out = run(root, "--out", tmp_path / "report.json")
    assert rc == 2 and "is a folder" in out, out
