"""Caption metrics: pycocoevalcap on a small case checked by hand, its BLEU-4 against sacrebleu on the
same tokens, SPICE reported unavailable (never 0) without its Stanford models, and the fallback
without Java (METEOR / PTB unavailable with the reason, the rest on a simple tokenisation)."""
import math

import pytest

from d2v_ext.evaluation import caption_metrics
from d2v_ext.evaluation.caption_metrics import sacrebleu_bleu, score

REFS = {1: ["A cat sits on the mat.", "There is a cat on the mat."], 2: ["A dog runs in the park."]}
HYPS = {1: "a cat sits on the mat", 2: "a dog in the park"}


def test_hand_checked_case_and_sacrebleu_agreement():
    m, unavailable, gts, res = score(REFS, HYPS)
    # by hand: 11 hypothesis tokens, closest reference lengths 6 + 6 = 12 -> brevity penalty exp(1 - 12/11);
    # matched n-grams 11/11, 8/9, 5/7, 3/5 (image 2 loses every n-gram through "dog in")
    bp = math.exp(1 - 12 / 11)
    precisions = [11 / 11, 8 / 9, 5 / 7, 3 / 5]
    for n in range(1, 5):
        want = 100 * bp * math.exp(sum(math.log(p) for p in precisions[:n]) / n)
        assert m[f"BLEU-{n}"] == pytest.approx(want, abs=1e-4), n
    assert gts[1] == ["a cat sits on the mat", "there is a cat on the mat"]  # PTB: lowercased, "." removed
    assert 0 < m["METEOR"] < 100 and 0 < m["ROUGE-L"] <= 100 and m["CIDEr-D"] > 0
    assert sacrebleu_bleu(gts, {k: v[0] for k, v in res.items()}) == pytest.approx(m["BLEU-4"], abs=1e-4)
    perfect, *_ = score(REFS, {1: "a cat sits on the mat", 2: "a dog runs in the park"})
    assert perfect["BLEU-4"] == pytest.approx(100, abs=1e-3) and perfect["CIDEr-D"] > m["CIDEr-D"]
    assert "SPICE" in unavailable and "SPICE" not in m and "Stanford CoreNLP" in unavailable["SPICE"]


def test_without_java(monkeypatch):
    monkeypatch.setattr(caption_metrics.shutil, "which", lambda name: None)
    m, unavailable, gts, _ = score(REFS, HYPS)
    assert "no java on PATH" in unavailable["METEOR"] and "PTB tokenizer" in unavailable and "METEOR" not in m
    assert gts[1] == ["a cat sits on the mat", "there is a cat on the mat"] and m["BLEU-1"] == pytest.approx(
        100 * math.exp(1 - 12 / 11), abs=1e-4)


def test_images_must_match():
    with pytest.raises(ValueError, match="cover different images"):
        score(REFS, {1: "a cat"})
