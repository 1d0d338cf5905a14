"""Span decoding across windows, and the oracle span, for extractive QA.

``best_span``: for each window take the ``n_best`` start and end logits inside the window's
context, keep pairs with start <= end and at most ``max_answer_len`` tokens, score start + end
logit; the best pair over all windows of a question is mapped back to the original characters
(``context[char_start(first token) : char_end(last token)]``).

``oracle_span``: the best answer a model could give by picking token spans: over every window
and every token span (at most ``max_answer_len`` tokens) whose first and last tokens overlap a
reference answer's characters, the one with the highest F1 (ties: EM) against the references.
Spans that do not touch a reference answer are not searched: they cannot reach EM and in
practice never beat an overlapping span on F1. The gap between the oracle and 100 is what
tokenisation (tokens that straddle answer boundaries) and windowing (answers cut by every
window, questions truncated) lose in a language.
"""
import numpy as np

from .squad_metric import exact_match_score, f1_score, max_over_references


def _span_text(tokenized, first, last):
    spans = tokenized.context_spans
    return tokenized.example.context[spans[first][0]:spans[last][1]]


def best_span(tokenized, features, logits, n_best=20, max_answer_len=30):
    """(answer text, score) for one question. ``logits``: [(start_logits, end_logits)] per feature."""
    best, best_score = "", -np.inf
    for f, (sl, el) in zip(features, logits):
        lo, hi = f.window
        off = f.context_offset
        n = hi - lo
        s_ctx, e_ctx = np.asarray(sl[off:off + n], dtype=np.float64), np.asarray(el[off:off + n], dtype=np.float64)
        starts = np.argsort(-s_ctx)[:n_best]
        ends = np.argsort(-e_ctx)[:n_best]
        for s in starts:
            for e in ends:
                if e < s or e - s + 1 > max_answer_len:
                    continue
                first, last = lo + s, lo + e
                if tokenized.context_spans[first][0] >= tokenized.context_spans[last][1]:
                    continue  # whitespace-only span
                score = s_ctx[s] + e_ctx[e]
                if score > best_score:
                    best, best_score = _span_text(tokenized, first, last), score
    return best, float(best_score)


def oracle_span(tokenized, features, max_answer_len=30):
    """(best text, its F1 in [0, 1], its EM) over token spans touching a reference answer."""
    refs = tokenized.example.answer_texts
    spans = tokenized.context_spans
    ranges = [(s, s + len(t)) for t, s in tokenized.example.answers]
    touching = [i for i, (s, e) in enumerate(spans) if s < e and any(s < b and e > a for a, b in ranges)]
    best = ("", 0.0, 0.0)
    seen = set()
    for f in features:
        lo, hi = f.window
        cand = [i for i in touching if lo <= i < hi]
        for x, first in enumerate(cand):
            for last in cand[x:]:
                if last - first + 1 > max_answer_len or (first, last) in seen:
                    continue
                seen.add((first, last))
                text = _span_text(tokenized, first, last)
                f1 = max_over_references(f1_score, text, refs)
                em = max_over_references(exact_match_score, text, refs)
                if (f1, em) > best[1:]:
                    best = (text, f1, em)
    return best
