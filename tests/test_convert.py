"""fairseq <-> transformers conversion on random O(1) models (no training, no downloads): every hidden
layer and the task outputs agree on real SST-2 sentences / CIFAR-10 images, and the way back is
bit-exact. Tolerance: 1e-5 absolute on hidden states (float32 sums in another order: measured
<= 4e-6); logits of size > 1 are compared relative to their size (LM logits of size ~20 differ by
~1e-5 absolutely). A wrong mapping is off by O(1)."""
import json

import pytest
import torch

from hf_models import TEXT_CLASSES, VISION_CLASSES, gpt2_vocab, save, state_of, text_model, vision_model
from helpers import require_data, run_script

convert = run_script("convert_checkpoint.py")
inspect_ckpt = run_script("inspect_checkpoint.py")


@pytest.fixture(scope="module")
def dictionary(full_bpe_dict):
    from d2v_ext.data.dictionary import load_dictionary

    return load_dictionary(full_bpe_dict, "--dict", add_mask=True)


@pytest.fixture(scope="module")
def vocab(dictionary):
    from d2v_ext.paths import default_gpt2_bpe_files

    return gpt2_vocab(dictionary.symbols, default_gpt2_bpe_files()[0])


def check_report(folder):
    report = json.loads((folder / "conversion.json").read_text())
    diffs, values = report["max_abs_difference"], report["max_abs_value"]
    assert {k for k in diffs if k.startswith("layer_")} == {f"layer_{i}" for i in range(3)}, diffs
    for k, d in diffs.items():
        limit = 1e-5 * max(1.0, values[k])
        assert d <= limit, (k, d, values[k])
    return report


def hf_folder(kind, tmp_path, vocab):
    model = text_model(kind, len(vocab)) if kind in TEXT_CLASSES else vision_model(kind)
    return save(model, tmp_path / "hf", vocab if kind in TEXT_CLASSES else None)


@pytest.mark.parametrize("kind", [*TEXT_CLASSES, *VISION_CLASSES])
def test_transformers_to_fairseq_and_back(kind, vocab, tmp_path):
    hf = hf_folder(kind, tmp_path, vocab)
    rc, out = convert("from-transformers", hf, "--out", tmp_path / "fs", "--verify")
    assert rc == 0, out
    assert "verified" in out
    report = check_report(tmp_path / "fs")
    assert (tmp_path / "fs" / "checkpoint.pt").is_file()
    rc, out = convert("to-transformers", tmp_path / "fs" / "checkpoint.pt", "--out", tmp_path / "back", "--verify")
    assert rc == 0, out
    check_report(tmp_path / "back")
    a, b = state_of(hf), state_of(tmp_path / "back")
    assert set(a) == set(b)
    assert [k for k in a if not torch.equal(a[k], b[k])] == []  # bit-exact
    cfg_a, cfg_b = (json.loads((f / "config.json").read_text()) for f in (hf, tmp_path / "back"))
    for key in ("architectures", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size"):
        assert cfg_a[key] == cfg_b[key], key
    if kind in TEXT_CLASSES:
        assert report["vocab_mapped"] is False
        assert json.loads((tmp_path / "back" / "vocab.json").read_text()) == vocab


def test_tokenizer_of_converted_model_encodes_as_fairseq(vocab, dictionary, tmp_path):
    """A full GPT-2 dictionary gets a RobertaTokenizer; it gives the ids fairseq's BPE + dict.txt give."""
    import transformers

    from d2v_ext.convert.verify import sst2_sentences, text_batch

    rc, out = convert("from-transformers", hf_folder("text", tmp_path, vocab), "--out", tmp_path / "fs")
    assert rc == 0, out
    rc, out = convert("to-transformers", tmp_path / "fs" / "checkpoint.pt", "--out", tmp_path / "back")
    assert rc == 0, out
    tok = transformers.AutoTokenizer.from_pretrained(str(tmp_path / "back"))
    fairseq_ids = text_batch(dictionary, 128)
    for sentence, row in zip(sst2_sentences(), fairseq_ids):
        assert tok(sentence.strip())["input_ids"] == row[row.ne(dictionary.pad())].tolist()  # (fairseq strips lines)


def test_permuted_vocabulary_is_mapped_through_token_strings(vocab, full_bpe_dict, tmp_path):
    """transformers ids in another order than dict.txt: --dict keeps fairseq's order, rows follow."""
    g = torch.Generator().manual_seed(0)
    perm = torch.cat([torch.arange(4), 4 + torch.randperm(len(vocab) - 4, generator=g)])
    permuted = {tok: int(perm[i]) for tok, i in vocab.items()}
    hf = save(text_model("text_cls", len(vocab)), tmp_path / "hf", permuted)
    rc, out = convert("from-transformers", hf, "--out", tmp_path / "fs", "--dict", full_bpe_dict, "--verify")
    assert rc == 0, out
    report = check_report(tmp_path / "fs")
    assert report["vocab_mapped"] is True
    fs = torch.load(tmp_path / "fs" / "checkpoint.pt", weights_only=False)["model"]
    hf_emb = state_of(hf)["data2vec_text.embeddings.word_embeddings.weight"]
    assert torch.equal(fs["encoder.sentence_encoder.embed_tokens.weight"], hf_emb[perm])


def test_wrong_mapping_is_detected(vocab, dictionary, tmp_path, monkeypatch):
    """query and key swapped in the mapping: --verify fails by O(1) and writes nothing."""
    from d2v_ext.convert import text, verify, vision

    hf = hf_folder("text", tmp_path, vocab)
    swapped = dict(text.LAYER, **{"attention.self.query": "self_attn.k_proj", "attention.self.key": "self_attn.q_proj"})
    monkeypatch.setattr(text, "LAYER", swapped)
    rc, out = convert("from-transformers", hf, "--out", tmp_path / "fs", "--verify")
    assert rc == 2 and "exceeds" in out, out
    assert not (tmp_path / "fs").exists()
    monkeypatch.undo()
    vis = vision_model("vision")  # and in the fused qkv of v1 vision
    state = {"model": vision.hf_to_fairseq(vis.state_dict(), 2)}
    q, k, v = state["model"]["encoder.blocks.0.attn.qkv.weight"].chunk(3)
    state["model"]["encoder.blocks.0.attn.qkv.weight"] = torch.cat([k, q, v])
    from d2v_ext.convert.vision_convert import fairseq_backbone_state, pretraining_task_cfg, vision_model_cfg
    from d2v_ext.convert.fairseq_side import full_config

    cfg = vision_model_cfg(vis.config)
    state = {"model": fairseq_backbone_state(cfg, state["model"])[0], "cfg": full_config(cfg, pretraining_task_cfg("", 32))}
    assert verify.worst(verify.vision_differences(state, vis, "")) > 1e-2


def test_refusals_write_nothing(vocab, full_bpe_dict, tmp_path):
    hf = hf_folder("text_cls", tmp_path, vocab)
    rc, out = convert("from-transformers", hf, "--out", tmp_path / "fs")
    assert rc == 0, out
    ckpt = tmp_path / "fs" / "checkpoint.pt"
    state = torch.load(ckpt, weights_only=False)

    def variant(name, change):
        s = {**state, "model": dict(state["model"]), "cfg": json.loads(json.dumps(state["cfg"]))}
        change(s)
        path = tmp_path / f"{name}.pt"
        torch.save(s, path)
        return path

    other = variant("other", lambda s: s["cfg"]["model"].update(_name="wav2vec2"))
    image2 = variant("image2", lambda s: s["cfg"]["model"].update(_name="data2vec_multi", modalities={"image": {}}))
    incomplete = variant("incomplete", lambda s: s["model"].pop("encoder.sentence_encoder.layers.1.fc1.weight"))
    small_dict = tmp_path / "small_dict.txt"
    small_dict.write_text("".join(f"{i} 1\n" for i in range(100)))
    bert = tmp_path / "bert"
    bert.mkdir()
    (bert / "config.json").write_text(json.dumps({"model_type": "bert"}))
    unmappable = tmp_path / "unmappable_dict.txt"
    unmappable.write_text("13 1\nhello 1\n")
    cases = [
        (("to-transformers", other), "wav2vec2"),
        (("to-transformers", image2), "no data2vec 2.0 image / speech class: 2.0 image blocks are post-LN"),
        (("to-transformers", incomplete), "layers.1.fc1.weight"),
        (("to-transformers", ckpt, "--dict", small_dict), "rows but the dictionary"),
        (("from-transformers", bert), "model_type 'bert'"),
        (("from-transformers", hf, "--dict", unmappable), "cannot map"),
        (("from-transformers", hf, "--out", tmp_path / "fs"), "not an empty folder"),
    ]
    for args, message in cases:
        out_dir = tmp_path / "refused"
        argv = [*args] + ([] if "--out" in args else ["--out", out_dir])
        rc, out = convert(*argv)
        assert rc == 2 and message in out, (args, out)
        assert not out_dir.exists(), args
        assert not [p for p in tmp_path.iterdir() if p.name.startswith(".refused")]  # no staging folder left


def test_args_era_checkpoint_is_upgraded(vocab, tmp_path):
    """fairseq's RoBERTa releases (roberta.base/model.pt) are args-era: an argparse Namespace, no cfg.
    The project has no RoBERTa pretraining recipe yet, so the fixture is a RoBERTa checkpoint this
    converter wrote from a transformers model, with its cfg replaced by the flat Namespace the
    argparse era saved (arch, task, criterion and the model's fields); nothing else changed."""
    import argparse

    hf = hf_folder("roberta_mlm", tmp_path, vocab)
    rc, out = convert("from-transformers", hf, "--out", tmp_path / "fs")
    assert rc == 0, out
    state = torch.load(tmp_path / "fs" / "checkpoint.pt", weights_only=False)
    cfg = state["cfg"]
    ns = argparse.Namespace(arch="roberta", task="masked_lm", criterion="masked_lm", optimizer="adam",
                            lr_scheduler="polynomial_decay", data=str(tmp_path / "fs"), lr=[5e-4],
                            tokens_per_sample=cfg["task"]["tokens_per_sample"], seed=1)
    for k, v in cfg["model"].items():
        if k != "_name" and not isinstance(v, dict):
            setattr(ns, k, v)
    state["args"], state["cfg"] = ns, None
    old = tmp_path / "roberta_args_era.pt"
    torch.save(state, old)
    rc, out = inspect_ckpt(old)
    assert rc == 0 and "args (argparse Namespace" in out and "model       roberta" in out, out
    rc, out = convert("to-transformers", old, "--out", tmp_path / "back", "--verify")
    assert rc == 0, out
    a, b = state_of(hf), state_of(tmp_path / "back")
    assert set(a) == set(b) and all(torch.equal(a[k], b[k]) for k in a)


def test_inspect_reports_unknown_keys_and_heads(vocab, tmp_path):
    hf = hf_folder("text_qa", tmp_path, vocab)
    rc, out = convert("from-transformers", hf, "--out", tmp_path / "fs")
    assert rc == 0, out
    state = torch.load(tmp_path / "fs" / "checkpoint.pt", weights_only=False)
    state["cfg"]["task"]["rebuild_batches"] = True  # fairseq #5021
    torch.save(state, tmp_path / "old.pt")
    rc, out = inspect_ckpt(tmp_path / "old.pt", "--json")
    assert rc == 0, out
    info = json.loads(out.strip().splitlines()[-1])
    assert info["model"] == "data2vec_text_qa" and info["task"] == "squad"
    assert info["unknown_cfg_keys"] == ["cfg.task.rebuild_batches"]
    assert info["heads"] == ["span_head"] and info["dictionary_size"] == len(vocab)
    assert info["architecture"]["layers"] == 2
    rc, out = inspect_ckpt(tmp_path / "missing.pt")
    assert rc == 2 and "not found" in out


def test_images_of_the_check_are_real():
    from d2v_ext.convert.verify import cifar_images

    images = cifar_images(32)
    assert images.shape == (8, 3, 32, 32) and images.std() > 0.3
    assert require_data("images", "cifar10", "val").is_dir()


def test_converted_vision_model_in_the_probes(tmp_path):
    """Data2VecVisionModel -> data2vec_vision checkpoint -> the probes' feature extractor: the CLS and
    mean-patch features equal transformers' on real CIFAR-10 images; knn_eval.py runs on it (student
    weights: a converted checkpoint has no EMA teacher, and asking for one is an error)."""
    from d2v_ext.convert.verify import cifar_images
    from d2v_ext.evaluation.vision_backbones import load_backbone

    hf = vision_model("vision")
    rc, out = convert("from-transformers", save(hf, tmp_path / "hf"), "--out", tmp_path / "fs")
    assert rc == 0, out
    model, _ = load_backbone(str(tmp_path / "fs" / "checkpoint.pt"), "student")
    images = cifar_images(32)
    with torch.no_grad():
        ref = hf(pixel_values=images).last_hidden_state  # after the final LayerNorm (no mean pooling)
        assert (model(images, "cls") - ref[:, 0]).abs().max() < 1e-5
        assert (model(images, "mean") - ref[:, 1:].mean(1)).abs().max() < 1e-5
    knn = run_script("knn_eval.py")
    cifar = require_data("images", "cifar10")
    rc, out = knn(tmp_path / "fs" / "checkpoint.pt", "--data", cifar, "--weights", "student", "--out", tmp_path / "k.json")
    assert rc == 0, out
    result = json.loads((tmp_path / "k.json").read_text())
    assert 0 <= result["top1"] <= 100 and result["top5"] >= result["top1"], result
    rc, out = knn(tmp_path / "fs" / "checkpoint.pt", "--data", cifar, "--weights", "teacher", "--out", tmp_path / "k2.json")
    assert rc == 2 and "no EMA teacher" in out and not (tmp_path / "k2.json").exists(), out
    rc, out = knn(tmp_path / "fs" / "checkpoint.pt", "--data", cifar, "--out", tmp_path / "k3.json")  # auto: the student
    assert rc == 0 and json.loads((tmp_path / "k3.json").read_text())["weights"] == "student", out


def test_converted_classifier_in_eval_image_and_imagenet_finetuning(tmp_path):
    """Data2VecVisionForImageClassification -> data2vec_image_classification checkpoint: eval_image.py's
    top-1 / top-5 on CIFAR-10 val equal transformers' own logits on the same images (upstream's eval
    transform at 32 px: ToTensor + ImageNet normalisation); the converted backbone fine-tunes through
    config/finetuning/imagenet_v1.yaml."""
    from torchvision import datasets, transforms

    from d2v_ext.data.imagenet import IMAGENET_MEAN, IMAGENET_STD
    from d2v_ext.evaluation.image_classify import accuracy
    from helpers import FINETUNE_CONFIGS, hydra_train, json_records

    cifar = require_data("images", "cifar10")
    hf = vision_model("vision_cls")
    rc, out = convert("from-transformers", save(hf, tmp_path / "hf"), "--out", tmp_path / "fs")
    assert rc == 0, out
    rc, out = run_script("eval_image.py")(tmp_path / "fs" / "checkpoint.pt", "--data", cifar, "--out", tmp_path / "e.json")
    assert rc == 0, out
    res = json.loads((tmp_path / "e.json").read_text())
    ds = datasets.ImageFolder(cifar / "val", transforms.Compose([transforms.ToTensor(),
                                                                 transforms.Normalize(IMAGENET_MEAN, IMAGENET_STD)]))
    with torch.no_grad():
        logits = torch.cat([hf(pixel_values=torch.stack([ds[j][0] for j in range(i, min(i + 100, len(ds)))])).logits
                            for i in range(0, len(ds), 100)])
    ref = accuracy(logits, torch.tensor(ds.targets))
    assert res["images"] == 500 and res["top1"] == pytest.approx(ref["top1"]) and res["top5"] == pytest.approx(ref["top5"])
    hf_backbone = vision_model("vision")
    rc, out = convert("from-transformers", save(hf_backbone, tmp_path / "hfb"), "--out", tmp_path / "fsb")
    assert rc == 0, out
    rc, log = hydra_train(FINETUNE_CONFIGS, "imagenet_v1", tmp_path / "ft", "+tiny=imagenet_v1", f"task.data={cifar}",
                          f"model.model_path={tmp_path / 'fsb' / 'checkpoint.pt'}", "optimization.max_update=10")
    assert rc == 0, log[-3000:]
    assert json_records(log, "val")[-1]["val_num_updates"] == 10
