"""GLUE metrics as the data2vec paper reports them (Table 4), implemented from their definitions.

CoLA: Matthews correlation; MRPC, QQP: mean of accuracy and F1 (positive class "1"); STS-B: mean
of Pearson and Spearman correlation; all others: accuracy. Values are percentages, like the paper.
The tests check each against scikit-learn / scipy on the same predictions.
"""
import numpy as np

from ..data.glue_tasks import TASKS

METRIC_OF_TASK = {name: t.metric for name, t in TASKS.items()}
METRIC_LABEL = {"accuracy": "acc.", "mcc": "Matthews corr.", "acc_and_f1": "mean(acc., F1)",
                "pearson_and_spearman": "mean(Pearson, Spearman)"}


def accuracy(preds, labels):
    preds, labels = np.asarray(preds), np.asarray(labels)
    return float((preds == labels).mean())


def f1_binary(preds, labels, positive=1):
    preds, labels = np.asarray(preds) == positive, np.asarray(labels) == positive
    tp = np.sum(preds & labels)
    denom = preds.sum() + labels.sum()
    return float(2 * tp / denom) if denom else 0.0


def matthews_corr(preds, labels):
    """Multi-class MCC (Gorodkin 2004) from the confusion matrix; 0 when undefined."""
    classes = np.union1d(preds, labels)
    c = np.array([[np.sum((np.asarray(labels) == a) & (np.asarray(preds) == b)) for b in classes]
                  for a in classes], dtype=np.float64)
    t, p, n = c.sum(1), c.sum(0), c.sum()
    cov_tp = np.trace(c) * n - t @ p
    denom = np.sqrt((n * n - p @ p) * (n * n - t @ t))
    return float(cov_tp / denom) if denom else 0.0


def pearson(x, y):
    x, y = np.asarray(x, np.float64), np.asarray(y, np.float64)
    x, y = x - x.mean(), y - y.mean()
    return float((x @ y) / np.sqrt((x @ x) * (y @ y)))


def average_ranks(x):
    """Ranks 1..n with ties given the mean of their positions (as Spearman's rho requires)."""
    x = np.asarray(x)
    order = np.argsort(x, kind="mergesort")
    ranks = np.empty(len(x), np.float64)
    sorted_x = x[order]
    i = 0
    while i < len(x):
        j = i
        while j + 1 < len(x) and sorted_x[j + 1] == sorted_x[i]:
            j += 1
        ranks[order[i:j + 1]] = (i + j) / 2 + 1
        i = j + 1
    return ranks


def spearman(x, y):
    return pearson(average_ranks(x), average_ranks(y))


def task_metric(task, preds, labels):
    """The paper's metric for ``task`` (x100) plus its components, e.g. {"acc_and_f1": 85.1, ...}."""
    name = METRIC_OF_TASK[task]
    if name == "mcc":
        parts = {"mcc": matthews_corr(preds, labels)}
    elif name == "acc_and_f1":
        acc, f1 = accuracy(preds, labels), f1_binary(preds, labels)
        parts = {"acc_and_f1": (acc + f1) / 2, "accuracy": acc, "f1": f1}
    elif name == "pearson_and_spearman":
        p, s = pearson(preds, labels), spearman(preds, labels)
        parts = {"pearson_and_spearman": (p + s) / 2, "pearson": p, "spearman": s}
    else:
        parts = {"accuracy": accuracy(preds, labels)}
    return name, {k: 100 * v for k, v in parts.items()}
