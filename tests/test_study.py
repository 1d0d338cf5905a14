"""scripts/study.py: a malformed spec is a clear error before anything runs; a 2-method x 1-task x
2-seed tiny study reports values equal to an independent recomputation from its fine-tuning logs,
its figures use the tables' numbers, a rerun recomputes nothing, and a run killed midway resumes."""
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time

import pytest

from helpers import PROJECT_ROOT, require_data, run_script

study = run_script("study.py")
SPEC = """name: test
preset: tiny
seeds: [1, 2]
text:
  corpus: {corpus}
  methods: [data2vec, random]
  tasks: [sst2_few]
  pretrain_seeds: [1]
budget_curve: {{methods: [data2vec], task: sst2_few, updates: [20]}}
budget: {{text_pretrain_updates: 40, text_save_every: 20, sst2_few_train: 400, glue_updates: 60, glue_lr: 0.003}}
"""


def write_spec(tmp_path, text=None, name="spec.yaml"):
    p = tmp_path / name
    p.write_text(text if text is not None else SPEC.format(corpus=require_data("text", "botchan.txt")))
    return p


@pytest.mark.parametrize("edit, expected", [
    (("methods: [data2vec, random]", "methods: [data2vec, bert]"), r"text\.methods: unknown \['bert'\]"),
    (("tasks: [sst2_few]", "tasks: [sst2_few, mnli]"), r"text\.tasks: unknown \['mnli'\]"),
    (("preset: tiny", "preset: huge"), r"preset: unknown 'huge'"),
    (("seeds: [1, 2]", "seeds: [1, 1]"), r"seeds: repeated"),
    (("name: test", "name: test\nmodels: [x]"), r"models: unknown key"),
    (("glue_updates: 60", "glue_update: 60"), r"budget\.glue_update: unknown"),
    (("updates: [20]", "updates: [30]"), r"budget_curve\.updates: \[30\]: each must be a multiple"),
    (("corpus: ", "corpus: /nonexistent/corpus.txt #"), r"text\.corpus\[0\]: /nonexistent/corpus\.txt does not exist"),
    (("name: test", "name: test\ndata: /nonexistent"), r"data: /nonexistent/glue/SST-2/train\.tsv does not exist"),
    (("  pretrain_seeds: [1]", "  pretrain_seeds: [1]\n  checkpoints: {random: /x.pt}"),
     r"text\.checkpoints\.random: expected one of the pretrained methods of text\.methods \['data2vec'\]"),
    (("  pretrain_seeds: [1]", "  pretrain_seeds: [1]\n  checkpoints: {data2vec: /nonexistent.pt}"),
     r"text\.checkpoints\.data2vec: /nonexistent\.pt does not exist"),
    (("seeds: [1, 2]", "seeds: [1, 2"), r"bad\.yaml:\d+: not valid YAML"),
])
def test_a_malformed_spec_is_a_clear_error_before_anything_runs(tmp_path, edit, expected):
    good = write_spec(tmp_path).read_text()
    assert edit[0] in good
    spec = write_spec(tmp_path, good.replace(edit[0], edit[1], 1), "bad.yaml")
    rc, out = study(spec, "--out", tmp_path / "out")
    assert rc == 2, out
    assert re.search(expected, out), out
    assert str(spec) in out
    assert not (tmp_path / "out").exists()


def test_check_prints_the_plan_and_runs_nothing(tmp_path):
    rc, out = study(write_spec(tmp_path), "--out", tmp_path / "out", "--check")
    assert rc == 0, out
    assert "6 results to compute or reuse" in out
    assert not (tmp_path / "out" / "text").exists()


def best_valid_accuracy(log):
    """Independent of d2v_ext.logs: the largest valid_accuracy of fairseq's json valid records."""
    vals = [float(json.loads(line.split("][valid][INFO] - ", 1)[1])["valid_accuracy"])
            for line in log.read_text().splitlines() if "][valid][INFO] - {" in line]
    assert vals, log
    return max(vals)


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("study")
    spec, out = write_spec(tmp), tmp / "out"
    rc, log = study(spec, "--out", out)
    assert rc == 0, log[-4000:]
    return spec, out, log


@pytest.mark.e2e
def test_report_equals_an_independent_recomputation_from_the_logs(finished):
    _, out, log = finished
    report = json.loads((out / "report.json").read_text())
    rows = report["tables"]["sst2_few"]["rows"]
    assert set(rows) == {"data2vec", "random"}
    for method in rows:
        vals = [best_valid_accuracy(out / "text" / "sst2_few" / f"{method}-s{s}" / "hydra_train.log") for s in (1, 2)]
        assert rows[method]["values"] == pytest.approx(vals)
        assert rows[method]["mean"] == pytest.approx(statistics.mean(vals))
        assert rows[method]["std"] == pytest.approx(statistics.stdev(vals))
        assert f"{statistics.mean(vals):.1f} ± {statistics.stdev(vals):.1f}" in (out / "report.md").read_text()
    dev = require_data("glue", "SST-2", "dev.tsv").read_text().splitlines()[1:]
    labels = [r.rsplit("\t", 1)[1].strip() for r in dev if r]
    assert report["tables"]["sst2_few"]["floor"][1] == pytest.approx(100 * max(labels.count("0"), labels.count("1")) / len(labels))
    # the budget curve: 0 updates = random init; 20 updates = the kept pretraining checkpoint
    pts = report["budget"]["points"]["data2vec"]
    assert [p[0] for p in pts] == [0, 20]
    assert pts[0][1] == pytest.approx(rows["random"]["mean"])
    curve = [best_valid_accuracy(out / "text" / "curve" / f"data2vec-u20-s{s}" / "hydra_train.log") for s in (1, 2)]
    assert pts[1][1] == pytest.approx(statistics.mean(curve))
    assert "finetune_from_model" in (out / "text" / "curve" / "data2vec-u20-s1" / "console.log").read_text()
    assert "checkpoint_1_20.pt" in (out / "text" / "curve" / "data2vec-u20-s1" / "console.log").read_text()
    # every method pretrained has a loss curve
    assert len(report["pretraining"]["text/data2vec"]) >= 3
    assert "[study] 6/6" in log and "ETA" in log


@pytest.mark.e2e
def test_figures_are_drawn_from_the_table_numbers(finished):
    from d2v_ext.study.figures import figure_data

    _, out, _ = finished
    report = json.loads((out / "report.json").read_text())
    data = figure_data(report)
    for task, t in report["tables"].items():
        assert data["bars"][task] == [(m, r["mean"], r["std"]) for m, r in t["rows"].items()]
    assert data["budget"]["data2vec"] == [tuple(p) for p in report["budget"]["points"]["data2vec"]]
    for f in ("bars.png", "pretraining.png", "budget.png"):
        assert (out / "figures" / f).read_bytes()[:4] == b"\x89PNG"


@pytest.mark.e2e
def test_a_rerun_recomputes_nothing(finished):
    spec, out, _ = finished
    results = sorted(out.rglob("result.json"))
    before = {p: p.stat().st_mtime_ns for p in results}
    logs = {p: p.stat().st_size for p in out.rglob("*.log")}
    rc, log = study(spec, "--out", out)
    assert rc == 0, log
    assert {p: p.stat().st_mtime_ns for p in out.rglob("result.json")} == before
    assert {p: p.stat().st_size for p in out.rglob("*.log")} == logs
    assert log.count(": reused") == 6 and not re.search(r": \d+s \(elapsed", log)


@pytest.mark.e2e
def test_a_killed_run_resumes_from_its_checkpoint(finished):
    """SIGKILL the study while one fine-tuning run is midway (after its first checkpoint), then rerun."""
    spec, out, _ = finished
    import shutil

    unit = out / "text" / "sst2_few" / "random-s2"
    shutil.rmtree(unit)
    p = subprocess.Popen([sys.executable, str(PROJECT_ROOT / "scripts" / "study.py"), str(spec), "--out", str(out)],
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        deadline = time.time() + 300
        while not (unit / "ckpt" / "checkpoint_last.pt").exists() and p.poll() is None and time.time() < deadline:
            time.sleep(0.05)
        time.sleep(0.5)   # let the checkpoint copy finish
    finally:
        os.killpg(p.pid, signal.SIGKILL)
        p.wait()
    assert not (unit / "result.json").exists(), "the run finished before it could be killed"
    rc, log = study(spec, "--out", out)
    assert rc == 0, log
    train = (unit / "hydra_train.log").read_text()
    m = re.findall(r"Loaded checkpoint \S*checkpoint_last\.pt \(epoch \d+ @ (\d+) updates\)", train)
    assert m and int(m[-1]) > 0, train[-3000:]
    assert "sst2_few/random-s2: " in log and "sst2_few/random-s1: reused" in log
    res = json.loads((unit / "result.json").read_text())
    assert res["metric"] == "accuracy" and res["value"] == pytest.approx(best_valid_accuracy(unit / "hydra_train.log"))
    ups = [int(float(json.loads(line.split("][valid][INFO] - ", 1)[1])["valid_num_updates"]))
           for line in train.splitlines() if "][valid][INFO] - {" in line]
    assert ups[-1] == 60  # it ran to the end of its budget, not 60 updates past the resume point


@pytest.mark.e2e
def test_vision_and_squad_units_run_through_the_same_study(tmp_path):
    """The other unit kinds on a small spec: vision pretraining, the untrained floor and k-NN on a
    CIFAR-10 subset; SQuAD -> XQuAD (6 languages) from random init."""
    from helpers import cifar_tree

    images = cifar_tree(tmp_path / "cifar", ["airplane", "automobile", "bird"], {"train": 40, "val": 20})
    spec = write_spec(tmp_path, f"""preset: tiny
seeds: [1]
text:
  corpus: {require_data("text", "botchan.txt")}
  methods: [random]
  tasks: [squad_xquad]
vision:
  images: {images}
  methods: [data2vec2, untrained]
  tasks: [cifar_knn]
budget: {{text_pretrain_updates: 10, text_save_every: 10, squad_updates: 10, squad_train_examples: 200,
          vision_pretrain_updates: 10}}
""")
    rc, log = study(spec, "--out", tmp_path / "out")
    assert rc == 0, log[-4000:]
    report = json.loads((tmp_path / "out" / "report.json").read_text())
    knn = report["tables"]["cifar_knn"]
    assert knn["floor"] == ["chance", pytest.approx(100 / 3)]
    for m in ("data2vec2", "untrained"):
        ev = json.loads((tmp_path / "out" / "vision" / "cifar_knn" / f"{m}-s1" / "eval.json").read_text())
        assert knn["rows"][m]["values"] == [ev["top1"]]
    qa = json.loads((tmp_path / "out" / "text" / "squad_xquad" / "random-s1" / "xquad" / "results.json").read_text())
    assert len(qa["files"]) == 6
    assert report["tables"]["squad_xquad"]["rows"]["random"]["values"] == [pytest.approx(qa["average"]["f1"])]
    assert report["tables"]["squad_xquad"]["floor"][1] == pytest.approx(qa["average"]["baseline_f1"])
    assert "no_pretrained_weights=true" in (tmp_path / "out" / "text" / "squad_xquad" / "random-s1" / "console.log").read_text()


@pytest.mark.parametrize("name, preset", [("tiny", "tiny"), ("small", "small"), ("paper", "paper"), ("budget", "tiny")])
def test_the_shipped_specs_check(name, preset):
    from d2v_ext.study.spec import load_spec

    spec = load_spec(PROJECT_ROOT / "config" / "study" / f"{name}.yaml")
    assert spec.preset == preset and len(spec.seeds) == 3
    rc, out = study(PROJECT_ROOT / "config" / "study" / f"{name}.yaml", "--check", "--out", "/tmp/d2v_ext_study_check")
    assert rc == 0, out
    assert "results to compute or reuse" in out


@pytest.mark.e2e
def test_every_method_gets_the_presets_encoder_size_and_vocabulary(tmp_path):
    """budget text_vocab/dim/ffn/layers/heads reach every pretraining recipe and fine-tuning model:
    the checkpoints of all four methods, pretrained and fine-tuned, have the same encoder shapes."""
    import torch

    spec = write_spec(tmp_path, f"""preset: tiny
seeds: [1]
text:
  corpus: {require_data("text", "botchan.txt")}
  methods: [data2vec, data2vec2, mlm, random]
  tasks: [sst2_few]
budget: {{text_pretrain_updates: 4, text_save_every: 4, sst2_few_train: 100, glue_updates: 4,
          text_vocab: 600, text_dim: 32, text_ffn: 96, text_layers: 2, text_heads: 4}}
""")
    rc, log = study(spec, "--out", tmp_path / "out")
    assert rc == 0, log[-4000:]
    out = tmp_path / "out" / "text"
    assert len((out / "corpus" / "bin" / "dict.txt").read_text().splitlines()) == 600 - 4  # + 4 specials

    def shapes(path):
        sd = torch.load(path, map_location="cpu", weights_only=False)["model"]
        emb = [v.shape for k, v in sd.items() if k.endswith("embed_tokens.weight") and "decoder" not in k]
        fc1 = {v.shape for k, v in sd.items() if re.search(r"(fc1|mlp\.fc1)\.weight$", k) and "decoder" not in k}
        layers = {m.group(1) for k in sd for m in [re.search(r"(?:layers|blocks)\.(\d+)\.", k)] if m and "decoder" not in k}
        return emb[0], fc1, len(layers)

    for ckpt in [*out.glob("pretrain/*/ckpt/checkpoint_last.pt"), *out.glob("sst2_few/*/ckpt/checkpoint_last.pt")]:
        emb, fc1, layers = shapes(ckpt)
        # 600 = the capped dictionary (specials included); the masked-LM tasks add <mask>
        assert emb[0] in (600, 601) and emb[1] == 32 and fc1 == {(96, 32)} and layers == 2, (ckpt, emb, fc1, layers)
    assert len(list(out.glob("sst2_few/*/ckpt/checkpoint_last.pt"))) == 4


@pytest.mark.e2e
def test_given_checkpoints_replace_pretraining(tmp_path, monkeypatch):
    """text.checkpoints + text.dict (released weights): nothing is pretrained or binarized, and the
    given checkpoint fine-tunes to exactly the numbers of the study that trained it."""
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # one thread: runs are bitwise repeatable
    first = write_spec(tmp_path, SPEC.format(corpus=require_data("text", "botchan.txt"))
                       .replace("methods: [data2vec, random]", "methods: [data2vec]")
                       .replace("seeds: [1, 2]", "seeds: [1]").replace("budget_curve:", "# budget_curve:"), "a.yaml")
    rc, log = study(first, "--out", tmp_path / "a")
    assert rc == 0, log[-3000:]
    ckpt = tmp_path / "a" / "text" / "pretrain" / "data2vec-s1" / "ckpt" / "checkpoint_last.pt"
    second = write_spec(tmp_path, first.read_text().replace(
        "  pretrain_seeds: [1]", f"  pretrain_seeds: [1]\n  checkpoints: {{data2vec: {ckpt}}}\n"
                                 f"  dict: {tmp_path / 'a' / 'text' / 'corpus' / 'bin' / 'dict.txt'}"), "b.yaml")
    rc, log = study(second, "--out", tmp_path / "b")
    assert rc == 0, log[-3000:]
    a, b = (json.loads((tmp_path / x / "report.json").read_text())["tables"]["sst2_few"]["rows"] for x in "ab")
    assert b["data2vec"]["values"] == a["data2vec"]["values"]
    assert not (tmp_path / "b" / "text" / "pretrain").exists() and not (tmp_path / "b" / "text" / "corpus").exists()
    assert f"finetune_from_model={ckpt}" in (tmp_path / "b" / "text" / "sst2_few" / "data2vec-s1" / "console.log").read_text()
    # a given checkpoint needs its dictionary, and cannot feed a budget curve
    bad = write_spec(tmp_path, second.read_text().replace("  dict: ", "  # dict: "), "c.yaml")
    rc, out = study(bad, "--out", tmp_path / "c")
    assert rc == 2 and "text.dict: missing" in out
    bad = write_spec(tmp_path, second.read_text().replace("# budget_curve:", "budget_curve:"), "d.yaml")
    rc, out = study(bad, "--out", tmp_path / "d")
    assert rc == 2 and "budget_curve.methods: ['data2vec']: a given checkpoint" in out
