import subprocess
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py

from helpers import PRETRAIN_CONFIGS, PROJECT_ROOT, hydra_train, require_data  # noqa: E402


@pytest.fixture(scope="session")
def tiny_pretrained(tmp_path_factory):
    """A tiny data2vec v1 text checkpoint pretrained (120 updates) on botchan.txt + SST-2 train
    sentences; returns (checkpoint path, its dict.txt)."""
    tmp = tmp_path_factory.mktemp("pretrained")
    sst = [r.split("\t")[0].strip() for r in
           require_data("glue", "SST-2", "train.tsv").read_text().splitlines()[1:4001]]
    corpus = tmp / "corpus.txt"
    corpus.write_text(require_data("text", "botchan.txt").read_text(encoding="utf-8-sig")
                      + "\n\n" + "\n\n".join(sst) + "\n")
    p = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "prepare_text.py"), str(corpus),
                        "--out", str(tmp / "bin"), "--workers", "2", "--quiet"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rc, log = hydra_train(PRETRAIN_CONFIGS, "tiny_text_v1", tmp / "run", f"task.data={tmp / 'bin'}")
    assert rc == 0, log[-3000:]
    return tmp / "run" / "ckpt" / "checkpoint_last.pt", tmp / "bin" / "dict.txt"


@pytest.fixture(scope="session")
def full_bpe_dict(tmp_path_factory):
    """A fairseq dict.txt holding every GPT-2 BPE id: binarizing with it loses nothing."""
    path = tmp_path_factory.mktemp("dict") / "dict.txt"
    path.write_text("".join(f"{i} 1\n" for i in range(50257)))
    return path
