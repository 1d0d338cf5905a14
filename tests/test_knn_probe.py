"""k-NN (DINO's weighted vote) and linear probe on frozen features; the checked ImageFolder's bad inputs."""
import json
import shutil

import pytest
import torch
from PIL import Image

from d2v_ext.data.image_folder import CheckedImageFolder, ImageInputError
from d2v_ext.evaluation.knn import knn_predict, topk_accuracy
from helpers import PRETRAIN_CONFIGS, hydra_train, require_data, run_script, sklearn_knn_top1, untrained_vision_checkpoint

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
    from d2v_ext.evaluation.vision_features import tree_features

    rc, log = hydra_train(PRETRAIN_CONFIGS, "vision_v1", tmp_path / "pre", "+tiny=vision_v1", f"task.data={CIFAR}")
    assert rc == 0, log[-3000:]
    ckpt = tmp_path / "pre" / "ckpt" / "checkpoint_last.pt"
    untrained = untrained_vision_checkpoint(ckpt, tmp_path / "untrained.pt")
    rc, out = knn_eval(ckpt, "--data", CIFAR, "--pool", "mean", "--out", tmp_path / "knn.json", "--md", tmp_path / "t.md")
    assert rc == 0, out
    res = json.loads((tmp_path / "knn.json").read_text())
    assert res["train_images"] == 3000 and res["val_images"] == 500 and res["classes"] == 10
    # the vote equals scikit-learn's on the same frozen features
    feats, _, _ = tree_features(ckpt, CIFAR, "mean", log=lambda *a: None)
    assert res["top1"] == pytest.approx(sklearn_knn_top1(*feats["train"], *feats["val"]), abs=1e-6)
    # the checkpoint's teacher was read (not a fresh model), and it is not collapsed: an untrained ViT of the
    # same architecture reaches 23-26 (5 seeds, mean pooling), the trained one 26; a collapsed one ~10 (chance)
    rc, out = knn_eval(untrained, "--data", CIFAR, "--pool", "mean", "--out", tmp_path / "knn0.json")
    assert rc == 0, out
    floor = json.loads((tmp_path / "knn0.json").read_text())["top1"]
    untrained_feats, _, _ = tree_features(untrained, CIFAR, "mean", log=lambda *a: None)
    assert not torch.allclose(feats["val"][0], untrained_feats["val"][0])
    assert res["top1"] > floor - 4.0 and res["top1"] > 18.0, (res["top1"], floor)
    rc, out = linear_probe(ckpt, "--data", CIFAR, "--pool", "mean", "--out", tmp_path / "probe.json")
    assert rc == 0, out
    rc, out = linear_probe(untrained, "--data", CIFAR, "--pool", "mean", "--out", tmp_path / "probe0.json")
    assert rc == 0, out
    probe, probe0 = (json.loads((tmp_path / f).read_text())["top1"] for f in ("probe.json", "probe0.json"))
    assert probe > probe0 - 4.0 and probe > 18.0, (probe, probe0)  # measured 28.0 vs untrained 28.4
    assert "| k-NN (k=20, T=0.07, mean) |" in (tmp_path / "t.md").read_text()
    # bad inputs are clear errors: a corrupt image in the tree, class folders that differ between splits
    bad = tmp_path / "cifar"
    shutil.copytree(CIFAR, bad)
    (bad / "val" / "cat" / "cat_9999.png").write_bytes(b"not a png")
    rc, out = knn_eval(ckpt, "--data", bad)
    assert rc == 2 and "cat_9999.png: cannot decode image" in out and "Traceback" not in out
    shutil.rmtree(bad / "val" / "cat")
    rc, out = knn_eval(ckpt, "--data", bad, "--out", tmp_path / "knn.json")
    assert rc == 2 and f"{bad}: train/ and val/ have different class folders (only in train: cat" in out
    assert json.loads((tmp_path / "knn.json").read_text()) == res  # the earlier output is intact


@pytest.mark.e2e
def test_wrong_checkpoint_is_a_clear_error(tiny_pretrained):
    ckpt, _ = tiny_pretrained
    rc, out = knn_eval(ckpt, "--data", CIFAR)
    assert rc == 2 and "is not a vision checkpoint: its model is 'data2vec_text'" in out
