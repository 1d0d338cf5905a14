"""Answers, EM/F1 and oracle EM/F1 of a fine-tuned ``data2vec_text_qa`` checkpoint on SQuAD-format files."""
import time
from collections import defaultdict

import numpy as np
import torch

from ..checkpoint import load_checked
from .qa_decode import best_span, oracle_span
from .squad_metric import squad_scores


def load_qa_checkpoint(checkpoint, overrides=None, cpu=True):
    """(model, task) from a QA fine-tuning checkpoint; clear error for any other kind of checkpoint."""
    from fairseq import checkpoint_utils

    state = load_checked(checkpoint, "QA fine-tuning", models=("data2vec_text_qa",),
                         hint=" (config/finetuning/squad.yaml)", arg_overrides=overrides or {})
    models, _, task = checkpoint_utils.load_model_ensemble_and_task([str(checkpoint)], state=state)
    model = models[0].eval()
    if not cpu and torch.cuda.is_available():
        model = model.cuda()
    return model, task


@torch.no_grad()
def window_logits(model, features, pad_idx, batch_size=64):
    """[(start_logits, end_logits)] per feature, as numpy arrays over that feature's tokens."""
    from ..data.qa_features import context_mask

    device = next(model.parameters()).device
    order = np.argsort([len(f.tokens) for f in features], kind="stable")
    out = [None] * len(features)
    for b in range(0, len(order), batch_size):
        idx = order[b:b + batch_size]
        n = max(len(features[i].tokens) for i in idx)
        src = torch.full((len(idx), n), pad_idx, dtype=torch.long)
        mask = torch.zeros((len(idx), n), dtype=torch.bool)
        for r, i in enumerate(idx):
            src[r, :len(features[i].tokens)] = torch.from_numpy(features[i].tokens)
            mask[r, :len(features[i].tokens)] = torch.from_numpy(context_mask(features[i]))
        res = model(src.to(device), mask.to(device))
        s, e = res["start_logits"].cpu().numpy(), res["end_logits"].cpu().numpy()
        for r, i in enumerate(idx):
            k = len(features[i].tokens)
            out[i] = (s[r, :k], e[r, :k])
    return out


def evaluate_examples(tokenized, features, logits=None, n_best=20, max_answer_len=30, oracle=True):
    """Scores for one file. Without ``logits`` only the oracle is computed; ``oracle=False`` leaves
    it out (its fields are then None). Returns (result dict, {id: predicted answer})."""
    by_ex = defaultdict(list)
    for j, f in enumerate(features):
        by_ex[f.example_index].append(j)
    preds, oracle_f1, oracle_em = {}, 0.0, 0.0
    for i, te in enumerate(tokenized):
        feats = [features[j] for j in by_ex[i]]
        if logits is not None:
            preds[te.example.qid], _ = best_span(te, feats, [logits[j] for j in by_ex[i]], n_best, max_answer_len)
        if oracle:
            _, f1, em = oracle_span(te, feats, max_answer_len)
            oracle_f1 += f1
            oracle_em += em
    n = max(len(tokenized), 1)
    refs = {te.example.qid: te.example.answer_texts for te in tokenized}
    res = {"questions": len(tokenized), "windows": len(features),
           "oracle_exact_match": 100 * oracle_em / n if oracle else None,
           "oracle_f1": 100 * oracle_f1 / n if oracle else None}
    if logits is not None:
        s = squad_scores(preds, refs)
        res.update(exact_match=s["exact_match"], f1=s["f1"])
    return res, preds


def predict_file(model, task, path, batch_size=64, n_best=20, max_answer_len=30, max_questions=0, oracle=True):
    """Predictions and scores for one file (its first ``max_questions`` questions if given)."""
    t0 = time.time()
    tokenized, features, stats = task.featurize_file(str(path), limit=max_questions)
    logits = window_logits(model, features, task.source_dictionary.pad(), batch_size)
    res, preds = evaluate_examples(tokenized, features, logits, n_best, max_answer_len, oracle)
    res["skipped"] = sum(stats.skipped.values())
    res["realigned"] = stats.realigned
    res["seconds"] = round(time.time() - t0, 1)
    return res, preds, tokenized
