import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).parent))  # tests/helpers.py

from helpers import pretrain_tiny_text, require_data  # noqa: E402


@pytest.fixture(scope="session")
def tiny_pretrained(tmp_path_factory):
    """A tiny data2vec v1 text checkpoint pretrained (120 updates) on botchan.txt + SST-2 train
    sentences; returns (checkpoint path, its dict.txt)."""
    tmp = tmp_path_factory.mktemp("pretrained")
    sst = [r.split("\t")[0].strip() for r in
           require_data("glue", "SST-2", "train.tsv").read_text().splitlines()[1:4001]]
    return pretrain_tiny_text(tmp, require_data("text", "botchan.txt").read_text(encoding="utf-8-sig")
                              + "\n\n" + "\n\n".join(sst) + "\n")


@pytest.fixture(scope="session")
def full_bpe_dict(tmp_path_factory):
    """A fairseq dict.txt holding every GPT-2 BPE id: binarizing with it loses nothing."""
    path = tmp_path_factory.mktemp("dict") / "dict.txt"
    path.write_text("".join(f"{i} 1\n" for i in range(50257)))
    return path
