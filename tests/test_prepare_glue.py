"""scripts/prepare_glue.py: every official GLUE layout (real sentences from the bundled SST-2 and
VitaminC, laid out as each task's official TSV), round trips, and malformed rows."""
import pytest

from helpers import require_data, run_script

prepare = run_script("prepare_glue.py", "--workers", "1")


def sst_rows(n=40):
    return [r.split("\t") for r in require_data("glue", "SST-2", "dev.tsv").read_text().splitlines()[1:n + 1]]


def nli_rows(n=40):
    return [r.split("\t") for r in require_data("glue", "VitaminC", "dev.tsv").read_text().splitlines()[1:n + 1]]


def write_official(task, folder):
    """Real sentences in the official GLUE file layout of ``task``; returns the expected rows."""
    folder.mkdir(parents=True)
    single = [(s.strip(), l) for s, l in sst_rows()]
    pairs = [(a, b, lab) for _, a, b, lab in nli_rows()]
    two = {"entailment": "entailment", "neutral": "not_entailment", "contradiction": "not_entailment"}
    binary = {"entailment": "1", "neutral": "0", "contradiction": "0"}
    if task == "cola":
        text = lambda rows: "".join(f"gj04\t{l}\t\t{s}\n" for s, l in rows)  # noqa: E731 (no header)
        exp = [((s,), l) for s, l in single]
    elif task == "sst_2":
        text = lambda rows: "sentence\tlabel\n" + "".join(f"{s} \t{l}\n" for s, l in rows)  # noqa: E731
        exp = [((s,), l) for s, l in single]
    else:
        if task == "mrpc":
            head, fmt, lab = "Quality\t#1 ID\t#2 ID\t#1 String\t#2 String", "{l}\t1\t2\t{a}\t{b}", binary
        elif task == "qqp":
            head, fmt, lab = "id\tqid1\tqid2\tquestion1\tquestion2\tis_duplicate", "7\t1\t2\t{a}\t{b}\t{l}", binary
        elif task == "sts_b":
            head = "index\tgenre\tfilename\tyear\told_index\tsource1\tsource2\tsentence1\tsentence2\tscore"
            fmt, lab = "0\tmain\tf\t2012\t1\tnone\tnone\t{a}\t{b}\t{l}", {"entailment": "4.6", "neutral": "2.25",
                                                                             "contradiction": "0.5"}
        elif task == "mnli":
            head = ("index\tpromptID\tpairID\tgenre\tsentence1_binary_parse\tsentence2_binary_parse\t"
                    "sentence1_parse\tsentence2_parse\tsentence1\tsentence2\tlabel1\tgold_label")
            fmt, lab = "0\t1\t1n\tfiction\t(\t(\t(\t(\t{a}\t{b}\t{l}\t{l}", {k: k for k in two}
        elif task == "qnli":
            head, fmt, lab = "index\tquestion\tsentence\tlabel", "0\t{a}\t{b}\t{l}", two
        else:  # rte
            head, fmt, lab = "index\tsentence1\tsentence2\tlabel", "0\t{a}\t{b}\t{l}", two
        text = lambda rows: head + "\n" + "".join(fmt.format(a=a, b=b, l=lab[l]) + "\n" for a, b, l in rows)  # noqa
        exp = [((a, b), lab[l]) for a, b, l in pairs]
        single = pairs
    dev_files = ["dev_matched.tsv", "dev_mismatched.tsv"] if task == "mnli" else ["dev.tsv"]
    (folder / "train.tsv").write_text(text(single[:30]))
    for name in dev_files:
        (folder / name).write_text(text(single[30:]))
    return exp[:30], exp[30:]


def decode(out, sub, split):
    from fairseq.data import Dictionary, data_utils
    from d2v_ext.data.bpe import load_gpt2_bpe

    d = Dictionary.load(str(out / sub / "dict.txt"))
    ds = data_utils.load_indexed_dataset(str(out / sub / split), d)
    if sub == "label":
        return [d[t] for t in (ds[i][0].item() for i in range(len(ds)))]
    bpe = load_gpt2_bpe(*(str(require_data("gpt2_bpe", f)) for f in ("encoder.json", "vocab.bpe")))
    return [bpe.decode([int(d[t]) for t in ds[i].tolist()[:-1]]) for i in range(len(ds))]


@pytest.mark.parametrize("task", ["cola", "sst_2", "mrpc", "qqp", "sts_b", "mnli", "qnli", "rte"])
def test_official_layouts_round_trip(task, tmp_path, full_bpe_dict):
    train, dev = write_official(task, tmp_path / "glue" / task.upper())
    rc, log = prepare("--task", task, "--input", tmp_path / "glue" / task.upper(), "--dict", full_bpe_dict,
                      "--out", tmp_path / "out")
    assert rc == 0, log
    out = tmp_path / "out"
    n_inputs = len(train[0][0])
    assert (out / "input1").is_dir() == (n_inputs == 2)
    for split, rows in (("train", train), ("valid", dev)):
        for i in range(n_inputs):
            assert decode(out, f"input{i}", split) == [r[0][i] for r in rows]
        if task == "sts_b":
            floats = [float(x) for x in (out / "label" / f"{split}.label").read_text().split()]
            assert floats == [float(r[1]) for r in rows]
        else:
            assert decode(out, "label", split) == [r[1] for r in rows]
    if task == "mnli":
        assert decode(out, "input0", "valid1") == [r[0][0] for r in dev]  # dev mismatched


def test_nli3_label_order_is_fixed(tmp_path, full_bpe_dict):
    rc, log = prepare("--task", "nli3", "--input", require_data("glue", "PresupNLI"), "--dict", full_bpe_dict,
                      "--out", tmp_path / "out")
    assert rc == 0, log
    assert (tmp_path / "out" / "label" / "dict.txt").read_text().split()[::2] == ["entailment", "neutral",
                                                                                 "contradiction"]
    assert "train 635, valid 100" in log


def bad_copy(tmp_path, line_no, replacement):
    src = require_data("glue", "SST-2", "dev.tsv").read_text().splitlines()
    src[line_no - 1] = replacement
    folder = tmp_path / "SST-2"
    folder.mkdir()
    (folder / "train.tsv").write_text("\n".join(src) + "\n")
    (folder / "dev.tsv").write_text("\n".join(src[:50]) + "\n")
    return folder


@pytest.mark.parametrize("line,kind", [("only one column", "wrong column count"),
                                       ("a fine sentence\t2", "unknown label '2'"),
                                       ("   \t1", "empty sentence")])
def test_bad_rows_name_file_and_line(tmp_path, full_bpe_dict, line, kind):
    folder = bad_copy(tmp_path, 101, line)
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier")
    rc, log = prepare("--task", "sst_2", "--input", folder, "--dict", full_bpe_dict, "--out", out)
    assert rc == 2 and f"{folder / 'train.tsv'}:101: {kind}" in log
    assert sorted(p.name for p in out.iterdir()) == ["keep.txt"]
    rc, log = prepare("--task", "sst_2", "--input", folder, "--dict", full_bpe_dict, "--out", out,
                      "--skip-bad-rows")
    assert rc == 0 and f"skipped in train: 1 {kind.split(' ')[0]}" in log and "train 871" in log


def test_missing_header_column_and_missing_file(tmp_path, full_bpe_dict):
    rc, log = prepare("--task", "qnli", "--input", require_data("glue", "SST-2"), "--dict", full_bpe_dict,
                      "--out", tmp_path / "o")
    assert rc == 2 and "train.tsv:1: header lacks column(s) ['question'] for task qnli" in log
    write_official("mnli", tmp_path / "MNLI")
    (tmp_path / "MNLI" / "dev_matched.tsv").unlink()
    rc, log = prepare("--task", "mnli", "--input", tmp_path / "MNLI", "--dict", full_bpe_dict, "--out", tmp_path / "o")
    assert rc == 2 and "dev_matched.tsv not found" in log
