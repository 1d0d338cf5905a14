"""The official SQuAD v1.1 metric (evaluate-v1.1.py), as XQuAD also uses it.

Normalisation exactly as the official script: lowercase, remove punctuation (``string.punctuation``),
remove the English articles a/an/the (whole words), collapse whitespace. F1 is over the
whitespace tokens of the normalised strings; EM and F1 take the max over the reference answers;
dataset scores are means over questions, in percent. A question with no prediction scores 0.
"""
import functools
import re
import string
from collections import Counter

_PUNCT = set(string.punctuation)
_ARTICLES = re.compile(r"\b(a|an|the)\b")


@functools.lru_cache(maxsize=1 << 16)  # pure; the QA oracle normalises the same references ~10^6 times
def normalize_answer(s):
    s = s.lower()
    s = "".join(ch for ch in s if ch not in _PUNCT)
    s = _ARTICLES.sub(" ", s)
    return " ".join(s.split())


def f1_score(prediction, ground_truth):
    pred, gold = normalize_answer(prediction).split(), normalize_answer(ground_truth).split()
    common = Counter(pred) & Counter(gold)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision, recall = same / len(pred), same / len(gold)
    return 2 * precision * recall / (precision + recall)


def exact_match_score(prediction, ground_truth):
    return float(normalize_answer(prediction) == normalize_answer(ground_truth))


def max_over_references(metric, prediction, references):
    return max(metric(prediction, r) for r in references)


def squad_scores(predictions, references):
    """``predictions`` {id: text}; ``references`` {id: [texts]} -> {'exact_match', 'f1', 'n'}.
    Every reference question counts; ids missing from ``predictions`` score 0 (as officially)."""
    em = f1 = 0.0
    for qid, refs in references.items():
        if qid in predictions:
            em += max_over_references(exact_match_score, predictions[qid], refs)
            f1 += max_over_references(f1_score, predictions[qid], refs)
    n = len(references)
    return {"exact_match": 100.0 * em / max(n, 1), "f1": 100.0 * f1 / max(n, 1), "n": n}
