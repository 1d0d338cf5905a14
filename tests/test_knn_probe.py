"""k-NN (DINO's weighted vote) and linear probe on frozen features; the checked ImageFolder's bad inputs."""
import json
import shutil

import pytest
import torch
from PIL import Image

from d2v_ext.data.image_folder import CheckedImageFolder, ImageInputError
from d2v_ext.evaluation.knn import knn_predict, topk_accuracy
from helpers import PRETRAIN_CONFIGS, hydra_train, require_data, run_script

CIFAR = require_data("images", "cifar10")
knn_eval = run_script("knn_eval.py")
linear_probe = run_script("linear_probe.py")


def test_knn_vote_equals_a_direct_computation_and_sklearn_1nn():
    from sklearn.neighbors import KNeighborsClassifier

    torch.manual_seed(0)
    xtr, ytr, xte = torch.randn(200, 16), torch.randint(0, 5, (200,)), torch.randn(40, 16)
    scores = knn_predict(xtr, ytr, xte, 5, k=7, temperature=0.07, chunk=16)
    ntr, nte = torch.nn.functional.normalize(xtr, dim=1), torch.nn.functional.normalize(xte, dim=1)
    for i in range(40):                       # the formula, one test point at a time
        sims = [(float(nte[i] @ ntr[j]), int(ytr[j])) for j in range(200)]
        votes = [0.0] * 5
        for s, c in sorted(sims, reverse=True)[:7]:
            votes[c] += torch.exp(torch.tensor(s / 0.07)).item()
        assert torch.allclose(scores[i], torch.tensor(votes), rtol=1e-4)
    one = knn_predict(xtr, ytr, xte, 5, k=1).argmax(1)
    ref = KNeighborsClassifier(n_neighbors=1, metric="cosine").fit(xtr.numpy(), ytr.numpy()).predict(xte.numpy())
    assert one.tolist() == ref.tolist()
    acc = topk_accuracy(torch.eye(3)[[0, 1, 1]], torch.tensor([0, 1, 2]))
    assert acc["top1"] == pytest.approx(200 / 3) and acc["top5"] == 100.0


@pytest.fixture()
def tree(tmp_path):
    """A 3-class tree of real CIFAR-10 images."""
    root = tmp_path / "tree"
    for cls in ("cat", "dog", "ship"):
        (root / cls).mkdir(parents=True)
        for f in sorted((CIFAR / "val" / cls).iterdir())[:4]:
            shutil.copy(f, root / cls / f.name)
    return root


def test_grayscale_and_rgba_images_are_read_as_rgb(tree):
    first = sorted((tree / "cat").iterdir())[0]
    Image.open(first).convert("L").save(tree / "cat" / "gray.png")
    Image.open(first).convert("RGBA").save(tree / "dog" / "rgba.png")
    ds = CheckedImageFolder(tree)
    modes = {ds[i][0].mode for i in range(len(ds))}
    assert modes == {"RGB"} and len(ds) == 14 and ds.classes == ["cat", "dog", "ship"]


def test_corrupt_image_and_empty_class_folder(tree):
    bad = tree / "ship" / "broken.png"
    bad.write_bytes(sorted((tree / "cat").iterdir())[0].read_bytes()[:60])  # a truncated real PNG
    ds = CheckedImageFolder(tree)
    idx = [p for p, _ in ds.samples].index(str(bad))
    with pytest.raises(ImageInputError, match=r"broken.png: cannot decode image"):
        ds[idx]
    skipping = CheckedImageFolder(tree, skip_bad=True)
    assert len(skipping) == len(ds) - 1 and "broken.png" in skipping.skipped[0]
    (tree / "empty").mkdir()
    with pytest.raises(ImageInputError, match=r"tree/empty: empty class folder"):
        CheckedImageFolder(tree)
    with pytest.raises(ImageInputError, match="image folder not found"):
        CheckedImageFolder(tree / "nope")


@pytest.mark.e2e
def test_knn_and_linear_probe_on_a_tiny_data2vec_vision_model(tmp_path):
    rc, log = hydra_train(PRETRAIN_CONFIGS, "vision_v1", tmp_path / "pre", "+tiny=vision_v1", f"task.data={CIFAR}")
    assert rc == 0, log[-3000:]
    ckpt = tmp_path / "pre" / "ckpt" / "checkpoint_last.pt"
    rc, out = knn_eval(ckpt, "--data", CIFAR, "--pool", "mean", "--out", tmp_path / "knn.json", "--md", tmp_path / "t.md")
    assert rc == 0, out
    res = json.loads((tmp_path / "knn.json").read_text())
    assert res["train_images"] == 3000 and res["val_images"] == 500 and res["classes"] == 10
    assert res["top1"] > 10.0, res                 # above chance (measured 24.4 after 60 updates)
    rc, out = linear_probe(ckpt, "--data", CIFAR, "--pool", "mean", "--out", tmp_path / "probe.json")
    assert rc == 0, out
    assert json.loads((tmp_path / "probe.json").read_text())["top1"] > 10.0
    assert "| k-NN (k=20, T=0.07, mean) |" in (tmp_path / "t.md").read_text()
    # bad inputs are clear errors: a corrupt image in the tree, a text checkpoint
    bad = tmp_path / "cifar"
    shutil.copytree(CIFAR, bad)
    (bad / "val" / "cat" / "cat_9999.png").write_bytes(b"not a png")
    rc, out = knn_eval(ckpt, "--data", bad)
    assert rc != 0 and "cat_9999.png: cannot decode image" in out


def test_wrong_checkpoint_is_a_clear_error(tiny_pretrained):
    ckpt, _ = tiny_pretrained
    rc, out = knn_eval(ckpt, "--data", CIFAR)
    assert rc != 0 and "is not a data2vec image pretraining checkpoint: its model is 'data2vec_text'" in out
