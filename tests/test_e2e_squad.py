"""SQuAD -> XQuAD end to end: a tiny data2vec model pretrained on real English text, fine-tuned through
fairseq-hydra-train on the SQuAD dev paragraphs that are not in XQuAD, then eval_qa.py zero-shot on the
six bundled XQuAD languages. Also: the data2vec 2.0 text backbone, and wrong checkpoints / bad files."""
import json
import shutil

import pytest

from helpers import (FINETUNE_CONFIGS, PRETRAIN_CONFIGS, hydra_train, json_records, pretrain_tiny_text, require_data,
                     run_script, squad_overrides)

pytestmark = pytest.mark.e2e
LANGS = ("ar", "de", "en", "es", "ru", "zh")
eval_qa = run_script("eval_qa.py")


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """tiny_text_v1 (120 updates) on botchan.txt + the SQuAD dev paragraphs that are not in XQuAD."""
    from d2v_ext.data.squad_json import exclude_paragraphs, question_ids, read_squad_examples

    tmp = tmp_path_factory.mktemp("qa_pretrained")
    examples, _ = read_squad_examples(require_data("squad", "dev-v1.1.json"))
    kept, _ = exclude_paragraphs(examples, question_ids(require_data("xquad", "xquad.en.json")))
    paragraphs = list(dict.fromkeys(e.context for e in kept))
    return pretrain_tiny_text(tmp, require_data("text", "botchan.txt").read_text(encoding="utf-8-sig") + "\n\n"
                              + "\n\n".join(paragraphs) + "\n")


@pytest.fixture(scope="module")
def finetuned(pretrained, tmp_path_factory):
    ckpt, dict_file = pretrained
    tmp = tmp_path_factory.mktemp("squad_ft")
    model_path = tmp / "pretrained.pt"           # a copy, deleted below: the QA checkpoint must not need it
    shutil.copy(ckpt, model_path)
    rc, log = hydra_train(FINETUNE_CONFIGS, "squad", tmp / "run", *squad_overrides(dict_file, model_path))
    assert rc == 0, log[-3000:]
    model_path.unlink()
    return tmp / "run" / "ckpt" / "checkpoint_last.pt", log


def test_squad_finetune_then_zero_shot_xquad(finetuned, tmp_path):
    ckpt, log = finetuned
    assert "data2vec_text_qa: loaded 69 encoder tensors" in log and "dropped 5 pretraining-only" in log
    assert "excluded 240 paragraphs (1189 questions)" in log and "train: 9376 questions" in log
    train = json_records(log)
    assert {"start_loss", "end_loss", "start_acc", "end_acc"} <= set(train[0])
    assert train[-1]["loss"] < 0.85 * train[0]["loss"]
    files = [require_data("xquad", f"xquad.{lang}.json") for lang in LANGS]
    rc, out = eval_qa(ckpt, *files, "--out", tmp_path)
    assert rc == 0, out
    res = json.loads((tmp_path / "results.json").read_text())
    rows = {r["name"]: r for r in res["files"]}
    assert set(rows) == set(LANGS) and all(rows[lang]["questions"] == 1190 for lang in LANGS)
    table = (tmp_path / "results.md").read_text()
    assert all(f"| {lang} | 1190 |" in table for lang in LANGS) and "| average | 7140 |" in table
    print(table)
    en = rows["en"]
    assert en["oracle_f1"] >= 99.0
    assert en["f1"] > en["baseline_f1"] + 1.0, table     # beats the first-3-words baseline
    # the predictions file is the official {id: answer} format; our F1 equals torchmetrics' on it
    from torchmetrics.functional.text import squad

    from d2v_ext.data.squad_json import read_squad_examples

    preds = json.loads((tmp_path / "predictions" / "en.json").read_text())
    examples, _ = read_squad_examples(files[2])
    assert set(preds) == {e.qid for e in examples} and all(isinstance(v, str) for v in preds.values())
    assert all(v in e.context for e in examples for v in [preds[e.qid]])  # answers are context substrings
    theirs = squad([{"prediction_text": preds[e.qid], "id": e.qid} for e in examples],
                   [{"answers": {"answer_start": [s for _, s in e.answers], "text": e.answer_texts}, "id": e.qid}
                    for e in examples])
    assert en["f1"] == pytest.approx(float(theirs["f1"]), abs=1e-3)
    assert en["exact_match"] == pytest.approx(float(theirs["exact_match"]), abs=1e-3)


def test_max_questions_scores_the_same_first_questions_of_every_language(finetuned, tmp_path):
    """--max-questions N: each file's first N questions (the same ids in every XQuAD language), with
    the predictions of a longer evaluation restricted to them and their official EM/F1; --no-oracle
    leaves the oracle out."""
    from d2v_ext.data.squad_json import read_squad_examples
    from d2v_ext.evaluation.squad_metric import squad_scores

    ckpt, _ = finetuned
    files = [require_data("xquad", f"xquad.{lang}.json") for lang in ("en", "de")]
    rc, out = eval_qa(ckpt, *files, "--out", tmp_path / "long", "--max-questions", 120)
    assert rc == 0, out
    rc, out = eval_qa(ckpt, *files, "--out", tmp_path / "sub", "--max-questions", 50, "--no-oracle")
    assert rc == 0, out
    res = json.loads((tmp_path / "sub" / "results.json").read_text())
    assert res["max_questions"] == 50 and "| en | 50 | " in (tmp_path / "sub" / "results.md").read_text()
    first = None
    for f, row in zip(files, res["files"]):
        examples, _ = read_squad_examples(f)
        ids = [e.qid for e in examples[:50]]
        first = first or ids
        assert ids == first and row["questions"] == 50 and row["oracle_f1"] is None
        sub = json.loads((tmp_path / "sub" / "predictions" / f"{row['name']}.json").read_text())
        long = json.loads((tmp_path / "long" / "predictions" / f"{row['name']}.json").read_text())
        assert list(sub) == ids and len(long) == 120 and sub == {q: long[q] for q in ids}
        refs = {e.qid: e.answer_texts for e in examples[:50]}
        assert row["f1"] == pytest.approx(squad_scores(sub, refs)["f1"])
    rc, out = eval_qa(ckpt, files[0], "--max-questions", -1)
    assert rc == 2 and "--max-questions -1: expected a positive number" in out


def test_a_bad_file_stops_before_anything_is_written(finetuned, tmp_path):
    ckpt, _ = finetuned
    obj = json.loads(require_data("xquad", "xquad.de.json").read_text())
    qa = obj["data"][0]["paragraphs"][0]["qas"][0]
    qa["answers"][0]["text"] = "nicht im Kontext"
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(obj, ensure_ascii=False))
    rc, out = eval_qa(ckpt, require_data("xquad", "xquad.en.json"), "--out", tmp_path / "out")
    assert rc == 0, out
    earlier = {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()}
    rc, out = eval_qa(ckpt, require_data("xquad", "xquad.en.json"), bad, "--out", tmp_path / "out")
    assert rc == 2 and f"broken.json: id {qa['id']}: answers[0] text 'nicht im Kontext' does not occur" in out
    assert "Traceback" not in out and "[1/2]" not in out  # checked before any file was evaluated
    assert {p: p.read_bytes() for p in (tmp_path / "out").rglob("*") if p.is_file()} == earlier
    rc, out = eval_qa(ckpt, bad, "--skip-bad-examples", "--out", tmp_path / "skip")
    assert rc == 0 and "(1 skipped)" in out


def test_wrong_checkpoints_and_dictionaries_are_clear_errors(pretrained, finetuned, full_bpe_dict, tmp_path):
    ckpt, dict_file = pretrained
    rc, out = eval_qa(ckpt, require_data("xquad", "xquad.en.json"))
    assert rc != 0 and "is not a QA fine-tuning checkpoint: its model is 'data2vec_text'" in out
    qa_ckpt, _ = finetuned
    rc, log = hydra_train(FINETUNE_CONFIGS, "squad", tmp_path / "a", *squad_overrides(dict_file, qa_ckpt))
    assert rc != 0 and "is not a pretrained data2vec text checkpoint: its model is 'data2vec_text_qa'" in log
    rc, log = hydra_train(FINETUNE_CONFIGS, "squad", tmp_path / "b", *squad_overrides(full_bpe_dict, ckpt))
    assert rc != 0 and "was pretrained with a" in log and "use the dict.txt of its pretraining data" in log


def test_data2vec2_text_backbone(pretrained, tmp_path):
    _, dict_file = pretrained
    rc, log = hydra_train(PRETRAIN_CONFIGS, "text_v2", tmp_path / "pre", "+tiny=text_v2", f"task.data={dict_file.parent}",
                          "optimization.max_update=20")
    assert rc == 0, log[-3000:]
    rc, log = hydra_train(FINETUNE_CONFIGS, "squad", tmp_path / "ft",
                          *squad_overrides(dict_file, tmp_path / "pre" / "ckpt" / "checkpoint_last.pt",
                                           "task.max_train_examples=600", "optimization.max_update=30",
                                           "dataset.validate_interval_updates=30"))
    assert rc == 0, log[-3000:]
    assert "data2vec_text_qa: loaded" in log and "Data2VecMultiModel(" in log
    rc, out = eval_qa(tmp_path / "ft" / "ckpt" / "checkpoint_last.pt", require_data("xquad", "xquad.en.json"),
                      "--out", tmp_path / "eval")
    assert rc == 0, out
    assert len(json.loads((tmp_path / "eval" / "predictions" / "en.json").read_text())) == 1190


def test_roberta_mlm_backbone_loads_exactly(pretrained, tmp_path):
    """The masked-LM baseline fine-tunes on SQuAD through the same recipe: at lr 0 the QA checkpoint's
    encoder equals the pretrained roberta encoder tensor for tensor, and its LM head is gone."""
    import torch

    _, dict_file = pretrained
    rc, log = hydra_train(PRETRAIN_CONFIGS, "text_mlm", tmp_path / "pre", "+tiny=text_mlm", f"task.data={dict_file.parent}",
                          "optimization.max_update=10")
    assert rc == 0, log[-3000:]
    mlm = tmp_path / "pre" / "ckpt" / "checkpoint_last.pt"
    rc, log = hydra_train(FINETUNE_CONFIGS, "squad", tmp_path / "ft",
                          *squad_overrides(dict_file, mlm, "task.max_train_examples=200", "optimization.max_update=5",
                                           "optimization.lr=[0.0]", "dataset.validate_interval_updates=5"))
    assert rc == 0, log[-3000:]
    assert "dropped" in log and "lm_head" in log
    pre = torch.load(mlm, map_location="cpu", weights_only=False)["model"]
    qa = torch.load(tmp_path / "ft" / "ckpt" / "checkpoint_last.pt", map_location="cpu", weights_only=False)["model"]
    enc = {k[len("backbone."):]: v for k, v in qa.items() if k.startswith("backbone.")}
    assert enc and not any("lm_head" in k for k in enc)
    assert set(enc) == {k for k in pre if "lm_head" not in k}
    for k, v in enc.items():
        assert torch.equal(v, pre[k]), k
    rc, out = eval_qa(tmp_path / "ft" / "ckpt" / "checkpoint_last.pt", require_data("xquad", "xquad.en.json"),
                      "--out", tmp_path / "eval")
    assert rc == 0, out
