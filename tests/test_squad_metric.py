"""The official SQuAD v1.1 metric: each normalisation rule by hand, and agreement with torchmetrics'
independent implementation on real answers (real SQuAD dev / XQuAD contexts)."""
import pytest

from d2v_ext.evaluation.squad_metric import exact_match_score, f1_score, normalize_answer, squad_scores
from helpers import require_data


@pytest.mark.parametrize("raw, normalized", [
    ("Denver Broncos", "denver broncos"),                  # lowercase
    ("Denver, Broncos!", "denver broncos"),                # punctuation removed
    ("Super Bowl 50's", "super bowl 50s"),                 # apostrophe is punctuation (removed, not a space)
    ("The Denver Broncos", "denver broncos"),              # article removed
    ("a cat and an owl", "cat and owl"),                   # a / an removed
    ("theater another atheist", "theater another atheist"),  # only whole words are articles
    ("  the   new\tyork\n ", "new york"),                  # whitespace collapsed
    ("THE (1990s) — era", "1990s — era"),                  # only ASCII punctuation is removed
    ("Die Stadt", "die stadt"),                            # German articles are not removed
])
def test_normalisation_rules(raw, normalized):
    assert normalize_answer(raw) == normalized


def test_em_and_f1_by_hand():
    assert exact_match_score("the Denver Broncos.", "Denver Broncos") == 1.0
    assert f1_score("Denver", "Denver Broncos") == pytest.approx(2 * 1 * 0.5 / 1.5)
    assert f1_score("Broncos Denver", "Denver Broncos") == 1.0          # bag of tokens
    assert f1_score("the the", "Denver") == 0.0                          # empty after normalisation
    assert f1_score("a a b", "a b b") == pytest.approx(2 / 3)            # articles go: [b] vs [b, b]
    s = squad_scores({"q1": "Denver", "q2": "nothing"},
                     {"q1": ["Carolina Panthers", "Denver Broncos"], "q2": ["x"], "q3": ["y"]})
    # q1: max over references (F1 2/3 with the second); q3 has no prediction and scores 0
    assert s["n"] == 3 and s["exact_match"] == 0.0
    assert s["f1"] == pytest.approx(100 * (2 / 3) / 3)


def _real_predictions():
    """Real answers of varied quality: first-words baselines (k=1..4), the gold answer's neighbourhood
    and the gold text itself, on XQuAD English and German (German keeps its articles)."""
    from d2v_ext.data.squad_json import read_squad_examples

    preds, refs = {}, {}
    for lang in ("en", "de"):
        examples, _ = read_squad_examples(require_data("xquad", f"xquad.{lang}.json"))
        for i, ex in enumerate(examples):
            text, start = ex.answers[0]
            variants = [" ".join(ex.context.split()[:1 + i % 4]),
                        ex.context[max(0, start - 12):start + len(text) + 5], text, ex.question]
            preds[ex.qid] = variants[i % 4]
            refs[ex.qid] = ex.answer_texts
    return preds, refs


def test_agrees_with_torchmetrics_on_real_answers():
    from torchmetrics.functional.text import squad

    preds, refs = _real_predictions()
    ours = squad_scores(preds, refs)
    theirs = squad([{"prediction_text": p, "id": q} for q, p in preds.items()],
                   [{"answers": {"answer_start": [0] * len(refs[q]), "text": refs[q]}, "id": q} for q in preds])
    assert 10 < ours["f1"] < 90  # a real mix of right, partial and wrong answers
    assert ours["exact_match"] == pytest.approx(float(theirs["exact_match"]), abs=1e-3)
    assert ours["f1"] == pytest.approx(float(theirs["f1"]), abs=1e-3)
