"""scripts/prepare_text.py on real text: round trip through fairseq's binarized data, parallel
workers, dictionary reuse, and clear errors that leave existing output untouched."""
import subprocess
import sys

import pytest

from helpers import PROJECT_ROOT, require_data, run_script

prepare = run_script("prepare_text.py", "--quiet")


def decode_dataset(out_dir, split):
    """Binarized split -> list of text lines, via fairseq's loader + GPT-2 BPE decoding."""
    from fairseq.data import Dictionary, data_utils
    from d2v_ext.data.bpe import load_gpt2_bpe

    d = Dictionary.load(str(out_dir / "dict.txt"))
    ds = data_utils.load_indexed_dataset(str(out_dir / split), d)
    bpe = load_gpt2_bpe(*(str(require_data("gpt2_bpe", f)) for f in ("encoder.json", "vocab.bpe")))
    lines = []
    for i in range(len(ds)):
        toks = [d[t] for t in ds[i].tolist()[:-1]]  # drop </s>
        # a BPE id unseen when the dictionary was built is <unk> (fairseq-preprocess behaviour)
        lines.append(None if "<unk>" in toks else bpe.decode([int(t) for t in toks]) if toks else "")
    return lines


@pytest.fixture(scope="module")
def botchan(tmp_path_factory):
    out = tmp_path_factory.mktemp("bin") / "botchan"
    rc, log = prepare(require_data("text", "botchan.txt"), "--out", out, "--workers", "2")
    assert rc == 0, log
    return out, log


def test_round_trip_reproduces_the_text(botchan):
    out, log = botchan
    src = require_data("text", "botchan.txt").read_text(encoding="utf-8-sig").splitlines()
    nonempty = [l.strip() for l in src if l.strip()]
    train = [l for l in decode_dataset(out, "train") if l != ""]
    valid = [l for l in decode_dataset(out, "valid") if l != ""]
    assert len(train) + len(valid) == len(nonempty)
    # every 20th non-empty line is held out; the rest is train, in order (the dictionary is built
    # from train, so train has no <unk>; valid lines with a token unseen in train are skipped)
    assert train == [l for i, l in enumerate(nonempty) if (i + 1) % 20]
    expected_valid = nonempty[19::20]
    assert len(valid) == len(expected_valid)
    known = [(v, e) for v, e in zip(valid, expected_valid) if v is not None]
    assert len(known) >= 90 and all(v == e for v, e in known)  # measured: 96 of 214 lines
    assert train[0].startswith("Project Gutenberg's Botchan")  # BOM stripped
    assert "BPE tokens: train" in log


def test_workers_do_not_change_output(botchan, tmp_path):
    out, _ = botchan
    rc, log = prepare(require_data("text", "botchan.txt"), "--out", tmp_path / "w1", "--workers", "1")
    assert rc == 0, log
    for name in ("dict.txt", "train.bin", "valid.bin", "train.idx"):
        assert (tmp_path / "w1" / name).read_bytes() == (out / name).read_bytes(), name


def test_one_doc_per_line_and_srcdict(botchan, tmp_path):
    out, _ = botchan
    sst = tmp_path / "sst2.txt"
    rows = require_data("glue", "SST-2", "dev.tsv").read_text().splitlines()[1:201]
    sst.write_text("\n".join(r.split("\t")[0] for r in rows) + "\n")
    rc, log = prepare(sst, "--out", tmp_path / "sst", "--one-doc-per-line", "--srcdict", out / "dict.txt")
    assert rc == 0, log
    assert (tmp_path / "sst" / "dict.txt").read_text() == (out / "dict.txt").read_text()
    lines = decode_dataset(tmp_path / "sst", "train")
    # one sentence per line, separated by empty (document boundary) lines
    assert lines[1] == "" and lines[3] == "" and len(lines) == 2 * (200 - 200 // 20)
    assert lines[0] in (None, rows[0].split("\t")[0].strip())


def test_vocab_size_keeps_the_most_frequent_tokens(botchan, tmp_path):
    """--vocab-size N: the dictionary is the full one's first (most frequent) entries, N with fairseq's
    4 specials; the same text binarizes to the same ids, with the dropped tokens as <unk>."""
    from fairseq.data import Dictionary, data_utils

    out, _ = botchan
    rc, log = prepare(require_data("text", "botchan.txt"), "--out", tmp_path / "v", "--vocab-size", 1000)
    assert rc == 0, log
    full, small = (out / "dict.txt").read_text().splitlines(), (tmp_path / "v" / "dict.txt").read_text().splitlines()
    assert len(full) > 4000 and len(small) == 1000 - 4 and small == full[:len(small)]
    df, ds = Dictionary.load(str(out / "dict.txt")), Dictionary.load(str(tmp_path / "v" / "dict.txt"))
    a = data_utils.load_indexed_dataset(str(out / "train"), df)
    b = data_utils.load_indexed_dataset(str(tmp_path / "v" / "train"), ds)
    assert len(a) == len(b)
    for i in range(0, len(a), 97):
        x, y = a[i].tolist(), b[i].tolist()
        assert y == [t if t < len(ds) else ds.unk() for t in x]
    for bad in (["--vocab-size", 3], ["--vocab-size", 100, "--srcdict", out / "dict.txt"]):
        rc, log = prepare(require_data("text", "botchan.txt"), "--out", tmp_path / "bad", *bad)
        assert rc == 2 and "--vocab-size" in log and not (tmp_path / "bad").exists()


def test_undecodable_bytes_name_file_and_line(tmp_path):
    bad = tmp_path / "bad.txt"
    bad.write_bytes(b"fine line\nsecond line\nbroken \xff\xfe here\n")
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("earlier result")
    rc, log = prepare(bad, "--out", out)
    assert rc == 2
    assert f"{bad}:3: undecodable bytes at column 8" in log
    assert (out / "keep.txt").read_text() == "earlier result" and not (out / "dict.txt").exists()


def test_empty_file_is_an_error(tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n\n")
    rc, log = prepare(empty, "--out", tmp_path / "out")
    assert rc == 2 and f"{empty}: no text" in log


def test_missing_bpe_files_are_named(tmp_path):
    rc, log = prepare(require_data("text", "botchan.txt"), "--out", tmp_path / "o",
                      "--bpe-encoder", tmp_path / "nope.json")
    assert rc == 2 and "nope.json" in log and "--bpe-encoder" in log


def test_cli_help_and_exit_code(tmp_path):
    script = str(PROJECT_ROOT / "scripts" / "prepare_text.py")
    p = subprocess.run([sys.executable, script, "--help"], capture_output=True, text=True)
    assert p.returncode == 0 and "--one-doc-per-line" in p.stdout and "--srcdict" in p.stdout
    p = subprocess.run([sys.executable, script, str(tmp_path / "missing.txt"), "--out", str(tmp_path / "o")],
                       capture_output=True, text=True)
    assert p.returncode == 2 and f"input text file {tmp_path / 'missing.txt'}: not found" in p.stderr
    assert "Traceback" not in p.stderr
