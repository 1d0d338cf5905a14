"""Every error class, through the scripts a user runs: exit status 2, one message naming the file
(line, field or flag) and what was expected, no traceback (unless --debug / D2V_EXT_DEBUG=1), and
nothing partial written: earlier outputs stay as they were."""
import json
import os

import pytest
import torch

from d2v_ext import errors
from helpers import require_data, run_script

prepare_text = run_script("prepare_text.py", "--workers", "1", "--quiet")
prepare_glue = run_script("prepare_glue.py", "--workers", "1")


def clean(rc, out, *fragments):
    assert rc == 2, out[-2000:]
    assert "Traceback" not in out, out[-2000:]
    for f in fragments:
        assert str(f) in out, (f, out[-2000:])


def test_every_error_class_is_a_d2v_ext_error_and_a_compact_hydra_error():
    from hydra.errors import CompactHydraException

    for name in ("DataError", "MissingInputError", "ConfigError", "OutputPathError", "WrongCheckpointError",
                 "CorruptCheckpointError", "UnsafeCheckpointError", "CheckpointMismatchError"):
        cls = getattr(errors, name)
        assert issubclass(cls, errors.D2vExtError) and issubclass(cls, CompactHydraException), name
    assert issubclass(errors.MissingInputError, FileNotFoundError) and issubclass(errors.DataError, ValueError)


def test_a_dataloader_worker_error_keeps_its_message():
    from torch.utils.data import DataLoader

    from d2v_ext.data.image_folder import ImageInputError

    class Broken(torch.utils.data.Dataset):
        def __len__(self):
            return 2

        def __getitem__(self, i):
            raise ImageInputError(f"/data/img_{i}.png: cannot decode image (truncated)")

    with pytest.raises(ImageInputError) as e:
        next(iter(DataLoader(Broken(), num_workers=1)))
    assert str(e.value) == "/data/img_0.png: cannot decode image (truncated) (in DataLoader worker process 0)"


# ---- DataError ---------------------------------------------------------------------------------------
def test_nul_byte_in_text_names_file_line_and_column(tmp_path):
    bad = tmp_path / "bin.txt"
    bad.write_bytes(b"a real first line\nsecond li\x00ne\n")
    out_dir = tmp_path / "out"
    out_dir.mkdir()
    (out_dir / "keep.txt").write_text("earlier")
    clean(*prepare_text(bad, "--out", out_dir), f"{bad}:2: NUL byte at column 10")
    assert sorted(p.name for p in out_dir.iterdir()) == ["keep.txt"]
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".staging")]


def test_malformed_dictionary_names_flag_file_and_line(tmp_path):
    d = tmp_path / "dict.txt"
    d.write_text("5 10\n7 3\nnot-a-count\n")
    clean(*prepare_glue("--task", "sst_2", "--input", require_data("glue", "SST-2"), "--dict", d, "--out",
                        tmp_path / "o"), f"{d}:3: 'not-a-count' is not '<symbol> <count>'", "(--dict)")
    d.write_text("5 10\n5 3\n")
    clean(*prepare_text(require_data("text", "botchan.txt"), "--srcdict", d, "--out", tmp_path / "o"),
          f"{d}:2: symbol '5' repeats line 1", "(--srcdict)")
    assert not (tmp_path / "o").exists()


def test_malformed_json_log_line(tmp_path):
    log = tmp_path / "hydra_train.log"
    log.write_text('[2026-12-01 10:00:00,000][train_inner][INFO] - {"num_updates": "1", "loss": "2.5"}\n'
                   '[2026-12-01 10:00:01,000][train_inner][INFO] - {"num_updates": "2", "loss": \n')
    clean(*run_script("plot_monitors.py")(log, "--out", tmp_path / "m.png"), f"{log}:2: malformed json record")
    assert not (tmp_path / "m.png").exists()


def test_bad_yaml_in_a_run_folder(tmp_path):
    run = tmp_path / "runs" / "r1" / ".hydra"
    run.mkdir(parents=True)
    (run / "config.yaml").write_text("task:\n  _name: sentence_prediction\n  data: [unclosed\n")
    (run / "hydra.yaml").write_text("hydra: {}\n")
    clean(*run_script("report.py")(tmp_path / "runs"), f"{run / 'config.yaml'}:", "not valid yaml")


def test_non_utf8_glue_row(tmp_path):
    folder = tmp_path / "SST-2"
    folder.mkdir()
    rows = require_data("glue", "SST-2", "dev.tsv").read_bytes().split(b"\n")
    rows[5] = b"caf\xe9 au lait\t1"
    (folder / "train.tsv").write_bytes(b"\n".join(rows))
    (folder / "dev.tsv").write_bytes(b"\n".join(rows[:30]))
    d = tmp_path / "dict.txt"
    d.write_text("".join(f"{i} 1\n" for i in range(50257)))
    clean(*prepare_glue("--task", "sst_2", "--input", folder, "--dict", d, "--out", tmp_path / "o"),
          f"{folder / 'train.tsv'}:6: not UTF-8")


# ---- MissingInputError ---------------------------------------------------------------------------------
def test_missing_inputs_name_the_flag_and_path(tmp_path):
    clean(*prepare_glue("--task", "sst_2", "--input", require_data("glue", "SST-2"), "--dict", tmp_path / "none.txt",
                        "--out", tmp_path / "o"), f"--dict {tmp_path / 'none.txt'}: not found")
    clean(*prepare_text(require_data("text", "botchan.txt"), "--srcdict", tmp_path, "--out", tmp_path / "o"),
          f"--srcdict {tmp_path}: is a folder")
    clean(*prepare_text(tmp_path, "--out", tmp_path / "o"), f"input text file {tmp_path}: is a folder")
    clean(*run_script("eval_glue.py")(tmp_path / "x.pt", "--data", tmp_path / "nope", "--task", "sst_2"),
          f"--data {tmp_path / 'nope'}: folder not found")
    clean(*run_script("eval_qa.py")(tmp_path / "x.pt", tmp_path / "missing.json"),
          f"SQuAD json {tmp_path / 'missing.json'}: not found")


# ---- ConfigError ---------------------------------------------------------------------------------------
def test_unknown_task_and_bad_options(tmp_path):
    clean(*run_script("eval_glue.py")(tmp_path / "x.pt", "--data", tmp_path, "--task", "not_a_task"),
          "--task 'not_a_task': unknown task; expected one of cola, mnli")
    log = tmp_path / "a.log"
    log.write_text('[t][train_inner][INFO] - {"num_updates": "1", "loss": "1"}\n')
    clean(*run_script("plot_monitors.py")(log, log, "--labels", "one", "--out", tmp_path / "m.png"),
          "--labels: 1 labels for 2 logs")
    clean(*run_script("report.py")(tmp_path, "--name", "no-equals-sign"), "--name 'no-equals-sign': expected INIT=LABEL")


# ---- OutputPathError -----------------------------------------------------------------------------------
def test_output_paths_that_cannot_be_written(tmp_path, monkeypatch):
    a_file = tmp_path / "taken"
    a_file.write_text("earlier")
    clean(*prepare_text(require_data("text", "botchan.txt"), "--out", a_file),
          f"--out {a_file} is an existing file; expected a folder")
    clean(*prepare_text(require_data("text", "botchan.txt"), "--out", a_file / "sub"), f"{a_file} is a file, not a folder")
    assert a_file.read_text() == "earlier"
    locked = tmp_path / "locked"
    locked.mkdir()
    real_access = os.access
    monkeypatch.setattr(os, "access", lambda p, mode: False if str(p) == str(locked) else real_access(p, mode))
    clean(*run_script("eval_qa.py")(tmp_path / "x.pt", require_data("xquad", "xquad.en.json"), "--out", locked / "o"),
          f"--out {locked / 'o'}: cannot write in {locked} (permission denied)")


# ---- CheckpointError family ----------------------------------------------------------------------------
@pytest.mark.parametrize("content", [b"", b"PK\x03\x04 truncated zip", b"just some text\n"])
def test_empty_truncated_and_non_checkpoint_files(tmp_path, content):
    bad = tmp_path / "model.pt"
    bad.write_bytes(content)
    for script, args in (("eval_qa.py", (require_data("xquad", "xquad.en.json"),)),
                         ("knn_eval.py", ("--data", require_data("images", "cifar10"))),
                         ("knn_eval_text.py", ("--max-train", "5"))):
        rc, out = run_script(script)(bad, *args)
        clean(rc, out, f"{bad}:")
        assert any(w in out for w in ("empty or truncated", "not a torch checkpoint", "cannot read checkpoint",
                                      "truncated or damaged")), out


def test_a_checkpoint_that_is_not_a_fairseq_dict(tmp_path):
    torch.save([torch.zeros(2)], tmp_path / "list.pt")
    clean(*run_script("knn_eval.py")(tmp_path / "list.pt", "--data", require_data("images", "cifar10")),
          f"{tmp_path / 'list.pt'}: not a fairseq checkpoint")


def test_debug_shows_the_traceback(tmp_path, monkeypatch):
    d = tmp_path / "dict.txt"
    d.write_text("oops\n")
    args = ("--task", "sst_2", "--input", require_data("glue", "SST-2"), "--dict", d, "--out", tmp_path / "o")
    with pytest.raises(errors.DataError, match="is not '<symbol> <count>'"):
        prepare_glue(*args, "--debug")
    monkeypatch.setenv("D2V_EXT_DEBUG", "1")
    with pytest.raises(errors.DataError):
        prepare_glue(*args)


def test_eval_qa_leaves_nothing_behind_on_a_bad_file(tmp_path):
    obj = json.loads(require_data("xquad", "xquad.de.json").read_text())
    del obj["data"][0]["paragraphs"][0]["qas"][0]["answers"]
    bad = tmp_path / "broken.json"
    bad.write_text(json.dumps(obj, ensure_ascii=False))
    out = tmp_path / "out"
    clean(*run_script("eval_qa.py")(tmp_path / "missing.pt", require_data("xquad", "xquad.en.json"), bad, "--out", out),
          f"{bad}: id ", "missing field 'answers'")
    assert not out.exists()  # checked before the model loads: no empty predictions/ folder
