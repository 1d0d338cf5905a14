"""End-to-end GLUE: prepare_glue -> fairseq-hydra-train --config-dir config/finetuning (tiny) from a
data2vec checkpoint -> eval_glue metrics (checked against sklearn and fairseq's own logging) ->
glue_sweep.py grid -> report.py on the real logs."""
import json
import statistics

import pytest
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from helpers import FINETUNE_CONFIGS, hydra_train, json_records, prepare_sst2, require_data, run_script

pytestmark = pytest.mark.e2e

prepare_glue = run_script("prepare_glue.py", "--workers", "1")
eval_glue = run_script("eval_glue.py")


@pytest.fixture(scope="module")
def sst2(tiny_pretrained, tmp_path_factory):
    _, dictionary = tiny_pretrained
    return prepare_sst2(tmp_path_factory.mktemp("glue") / "sst_2", dictionary, 3000)


def test_finetune_eval_and_metrics(sst2, tmp_path):
    # random init (restore_file=checkpoint_last.pt): it leaves chance fastest, so the metrics are
    # compared on non-trivial predictions; pretrained restores are checked in test_sweep_and_report
    rc, log = hydra_train(FINETUNE_CONFIGS, "sst_2", tmp_path / "ft", "+tiny=glue", f"task.data={sst2}",
                          "checkpoint.restore_file=checkpoint_last.pt", "optimization.max_update=150",
                          "optimization.max_epoch=2",  # 3,000 sentences = 94 updates per epoch
                          "dataset.validate_interval_updates=75", "+criterion.report_mcc=true",
                          "+criterion.report_acc_and_f1=true")
    assert rc == 0, log[-3000:]
    valid = json_records(log, "valid")
    assert [int(r["valid_num_updates"]) for r in valid] == [75, 94, 150]  # + end of epoch 1

    result_path = tmp_path / "eval.json"
    rc, out = eval_glue(tmp_path / "ft" / "ckpt" / "checkpoint_last.pt", "--data", sst2, "--task", "sst_2",
                        "--out", result_path, "--predictions", tmp_path / "pred.txt")
    assert rc == 0, out
    res = json.loads(result_path.read_text())["splits"]["valid"]
    preds = [int(x) for x in (tmp_path / "pred.txt").read_text().split()]
    gold = [int(r.split("\t")[1]) for r in require_data("glue", "SST-2", "dev.tsv").read_text().splitlines()[1:]]
    assert res["n"] == len(preds) == len(gold) == 872
    # our metric = scikit-learn on the same predictions = what fairseq logged for that checkpoint
    assert res["accuracy"] == pytest.approx(100 * accuracy_score(gold, preds))
    assert res["accuracy"] == pytest.approx(valid[-1]["valid_accuracy"], abs=0.051)
    from d2v_ext.evaluation.glue_metrics import f1_binary, matthews_corr

    assert 100 * matthews_corr(preds, gold) == pytest.approx(100 * matthews_corrcoef(gold, preds))
    assert 100 * matthews_corr(preds, gold) == pytest.approx(valid[-1]["valid_mcc"], abs=0.051)
    assert 100 * f1_binary(preds, gold) == pytest.approx(100 * f1_score(gold, preds))
    assert 100 * f1_binary(preds, gold) == pytest.approx(valid[-1]["valid_f1"], abs=0.051)
    assert res["accuracy"] > 60  # well above chance (50.9): F1 and MCC are compared on real signal

    # --data is the data scored, not the folder the checkpoint was trained on
    small = tmp_path / "SST-2-small"
    small.mkdir()
    rows = require_data("glue", "SST-2", "dev.tsv").read_text().splitlines()
    (small / "dev.tsv").write_text("\n".join(rows[:101]) + "\n")
    (small / "train.tsv").write_text("\n".join(rows[:201]) + "\n")
    rc, log = prepare_glue("--task", "sst_2", "--input", small, "--dict", sst2 / "input0" / "dict.txt",
                           "--out", tmp_path / "small")
    assert rc == 0, log
    rc, out = eval_glue(tmp_path / "ft" / "ckpt" / "checkpoint_last.pt", "--data", tmp_path / "small", "--task", "sst_2",
                        "--out", tmp_path / "small.json", "--predictions", tmp_path / "small.txt")
    assert rc == 0, out
    small_res = json.loads((tmp_path / "small.json").read_text())["splits"]["valid"]
    small_preds = [int(x) for x in (tmp_path / "small.txt").read_text().split()]
    assert small_res["n"] == 100 and small_preds == preds[:100]
    assert small_res["accuracy"] == pytest.approx(100 * accuracy_score(gold[:100], small_preds))
    rc, out = eval_glue(tmp_path / "ft" / "ckpt" / "checkpoint_last.pt", "--data", tmp_path / "small", "--task", "sts_b")
    assert rc == 2 and "--task sts_b is a regression task, but the checkpoint was fine-tuned with 2 classes" in out


def test_wrong_checkpoints_are_clear_errors(tiny_pretrained, sst2, tmp_path):
    ckpt, _ = tiny_pretrained
    rc, out = eval_glue(ckpt, "--data", sst2, "--task", "sst_2")
    assert rc == 2 and "is not a GLUE fine-tuning checkpoint: its model is 'data2vec_text' (task 'masked_lm'); " \
                       "expected task one of ('sentence_prediction',)" in out
    rc, log = hydra_train(FINETUNE_CONFIGS, "sst_2", tmp_path / "bad", "+tiny=glue", f"task.data={sst2}",
                          f"checkpoint.restore_file={tmp_path / 'typo.pt'}")
    assert rc != 0 and f"checkpoint.restore_file={tmp_path / 'typo.pt'} does not exist" in log


def test_sweep_and_report(tiny_pretrained, sst2, tmp_path):
    ckpt, dictionary = tiny_pretrained
    presup = tmp_path / "presupnli"
    rc, log = prepare_glue("--task", "nli3", "--input", require_data("glue", "PresupNLI"), "--dict", dictionary,
                           "--out", presup)
    assert rc == 0, log
    sweep = run_script("glue_sweep.py")
    rc, out = sweep("--data-root", tmp_path, "--task-data", f"sst_2={sst2}", "--task-data", f"nli3={presup}",
                    "--tasks", "sst_2,nli3", "--restore-file", ckpt, "--lrs", "0.0005,0.001", "--seeds", "1,2",
                    "--out", tmp_path / "sweep", "--", "+tiny=glue", "optimization.max_update=30",
                    "dataset.validate_interval_updates=15")
    assert rc == 0, out + "".join(p.read_text()[-2000:] for p in (tmp_path / "sweep").glob("*.log"))
    # recompute the protocol from the job folders' logs, independently of report.py
    best = {}
    for job in (tmp_path / "sweep").glob("*/[0-9]*"):
        cfg = (job / ".hydra" / "overrides.yaml").read_text()
        lr = 0.0005 if "[0.0005]" in cfg else 0.001
        recs = json_records((job / "hydra_train.log").read_text(), "valid")
        best.setdefault((job.parent.name, lr), []).append(max(r["valid_accuracy"] for r in recs))
    assert sorted(best) == [("nli3", 0.0005), ("nli3", 0.001), ("sst_2", 0.0005), ("sst_2", 0.001)]
    assert all(len(v) == 2 for v in best.values())
    lr = max((0.0005, 0.001), key=lambda l: statistics.mean([statistics.mean(best[("sst_2", l)]),
                                                             statistics.mean(best[("nli3", l)])]))
    report = (tmp_path / "sweep" / "report.md").read_text()
    sst_mean, nli_mean = statistics.mean(best[("sst_2", lr)]), statistics.mean(best[("nli3", lr)])
    assert f"| SST-2 | acc. | {sst_mean:.1f} ± " in report and "| 50.9 | 91.8 |" in report  # majority: 444/872
    assert f"| presupnli (3-way NLI) | acc. | {nli_mean:.1f} ± " in report
    assert f"pretrained: lr {lr:g}" in report
    runs = json.loads((tmp_path / "sweep" / "runs.json").read_text())
    assert len(runs) == 8 and {r["init"] for r in runs} == {str(ckpt)}
    job_log = next((tmp_path / "sweep" / "sst_2").glob("0/hydra_train.log")).read_text()
    assert f"Loaded checkpoint {ckpt}" in job_log  # the pretrained encoder was restored ...
    assert "making ema teacher" not in job_log      # ... in fine-tuning mode (no EMA teacher)


def test_data2vec2_backbone_finetunes_and_evaluates(tiny_pretrained, sst2, tmp_path):
    from helpers import PRETRAIN_CONFIGS

    _, dictionary = tiny_pretrained
    rc, log = hydra_train(PRETRAIN_CONFIGS, "text_v2", tmp_path / "pre", "+tiny=text_v2", f"task.data={dictionary.parent}",
                          "optimization.max_update=20")
    assert rc == 0, log[-3000:]
    d2v2 = tmp_path / "pre" / "ckpt" / "checkpoint_last.pt"
    rc, log = hydra_train(FINETUNE_CONFIGS, "sst_2", tmp_path / "ft", "+tiny=glue", "model=data2vec2_text",
                          f"model.model_path={d2v2}", f"task.data={sst2}", "optimization.max_update=30")
    assert rc == 0, log[-3000:]
    assert "Data2VecTextClassificationModel(" in log
    valid = json_records(log, "valid")
    rc, out = eval_glue(tmp_path / "ft" / "ckpt" / "checkpoint_last.pt", "--data", sst2, "--task", "sst_2",
                        "--out", tmp_path / "eval.json")
    assert rc == 0, out
    acc = json.loads((tmp_path / "eval.json").read_text())["splits"]["valid"]["accuracy"]
    assert acc == pytest.approx(valid[-1]["valid_accuracy"], abs=0.051)
    from d2v_ext.evaluation.glue_report import collect

    (run,) = collect([tmp_path / "ft"])
    assert run.init == str(d2v2) and run.best == max(r["valid_accuracy"] for r in valid)
