"""QA features: question + a window of the context, with answer labels and character offsets.

Layout (RoBERTa/data2vec sentence pairs): ``<s> question </s> </s> context-window </s>``.
Contexts longer than the budget are covered by sliding windows: ``doc_stride`` is the number of
context tokens between the starts of consecutive windows (BERT's run_squad.py ``doc_stride``; the
defaults 384 / 128 / 64 are BERT's and RoBERTa's). A window that does not hold the whole answer
is labelled with the ``<s>`` position 0 for both start and end.
"""
from dataclasses import dataclass
from typing import List, Tuple

import numpy as np

from ..errors import ConfigError


@dataclass
class TokenizedExample:
    example: object              # squad_json.QAExample
    question_ids: List[int]
    context_ids: List[int]
    context_spans: List[Tuple[int, int]]  # character span of each context token

    def answer_token_span(self, text_start, text_end):
        """First and last context token overlapping the character span, or None."""
        toks = [i for i, (s, e) in enumerate(self.context_spans) if s < e and s < text_end and e > text_start]
        return (toks[0], toks[-1]) if toks else None


@dataclass
class QAFeature:
    example_index: int
    tokens: np.ndarray           # input ids
    context_offset: int          # input position of the window's first context token
    window: Tuple[int, int]      # [lo, hi) in context token indices
    start: int = 0               # answer label (input positions); 0 = not in this window
    end: int = 0


def tokenize_example(example, tokenizer, max_query_len, context_cache=None):
    q_ids, _ = tokenizer.tokenize(example.question)
    if context_cache is None or example.context not in context_cache:
        tok = tokenizer.tokenize(example.context)
        if context_cache is None:
            context_cache = {}
        context_cache[example.context] = tok
    c_ids, c_spans = context_cache[example.context]
    return TokenizedExample(example, q_ids[:max_query_len], c_ids, c_spans)


def featurize(examples, tokenizer, bos, eos, max_seq_len, doc_stride, max_query_len, progress=None):
    """(tokenized examples, features) for a list of QAExamples; contexts are tokenized once."""
    cache, tokenized, features = {}, [], []
    for i, ex in enumerate(examples):
        te = tokenize_example(ex, tokenizer, max_query_len, cache)
        tokenized.append(te)
        features.extend(build_features(te, i, bos, eos, max_seq_len, doc_stride))
        if progress is not None:
            progress(i + 1, len(examples))
    return tokenized, features


def windows(n_tokens, budget, doc_stride):
    """[lo, hi) windows covering ``n_tokens`` context tokens, ``doc_stride`` apart."""
    if budget <= 0:
        raise ConfigError(f"task.max_seq_len: no room for context: it leaves {budget} tokens after the question "
                          "(raise task.max_seq_len or lower task.max_query_len)")
    out, lo = [], 0
    while True:
        hi = min(lo + budget, n_tokens)
        out.append((lo, hi))
        if hi >= n_tokens:
            return out
        lo += min(doc_stride, budget)


def build_features(tokenized, example_index, bos, eos, max_seq_len, doc_stride, with_labels=True):
    """All window features of one tokenized example. Labels use the first reference answer."""
    q = tokenized.question_ids
    prefix = [bos, *q, eos, eos]
    budget = max_seq_len - len(prefix) - 1
    span = None
    if with_labels and tokenized.example.answers:
        text, start = tokenized.example.answers[0]
        span = tokenized.answer_token_span(start, start + len(text))
    feats = []
    for lo, hi in windows(len(tokenized.context_ids), budget, doc_stride):
        tokens = np.array(prefix + tokenized.context_ids[lo:hi] + [eos], dtype=np.int64)
        f = QAFeature(example_index, tokens, len(prefix), (lo, hi))
        if span is not None and lo <= span[0] and span[1] < hi:
            f.start, f.end = span[0] - lo + len(prefix), span[1] - lo + len(prefix)
        feats.append(f)
    return feats


def context_mask(feature):
    """Bool array over input positions: True where an answer may start/end (<s> and the window)."""
    m = np.zeros(len(feature.tokens), dtype=bool)
    m[0] = True
    m[feature.context_offset:feature.context_offset + feature.window[1] - feature.window[0]] = True
    return m
