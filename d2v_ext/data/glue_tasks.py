"""GLUE tasks as the official GLUE folders lay them out, plus MNLI-like 3-way NLI TSVs.

Each task names its sentence and label columns (by header name, or by index for header-less
CoLA), its label set (None: a float regression target), its dev files and the metric the data2vec
paper reports for it. Rows are validated; a bad row raises :class:`GlueRowError` naming file and
line, or is skipped and counted when the caller asks for that.
"""
from collections import Counter
from dataclasses import dataclass, field
from typing import Dict, Optional, Tuple, Union

from ..errors import DataError

Column = Union[str, int]


@dataclass(frozen=True)
class GlueTask:
    name: str
    folder: str                           # official GLUE folder name
    sentences: Tuple[Column, ...]         # one or two sentence columns
    label: Column
    labels: Optional[Tuple[str, ...]]     # None: regression (float label)
    metric: str                           # accuracy | mcc | acc_and_f1 | pearson_and_spearman
    header: bool = True
    n_columns: Optional[int] = None       # header-less files: expected column count
    dev: Dict[str, str] = field(default_factory=lambda: {"valid": "dev.tsv"})

    @property
    def num_classes(self):
        return 1 if self.labels is None else len(self.labels)


NLI3 = ("entailment", "neutral", "contradiction")
TASKS = {t.name: t for t in [
    GlueTask("cola", "CoLA", (3,), 1, ("0", "1"), "mcc", header=False, n_columns=4),
    GlueTask("sst_2", "SST-2", ("sentence",), "label", ("0", "1"), "accuracy"),
    GlueTask("mrpc", "MRPC", ("#1 String", "#2 String"), "Quality", ("0", "1"), "acc_and_f1"),
    GlueTask("qqp", "QQP", ("question1", "question2"), "is_duplicate", ("0", "1"), "acc_and_f1"),
    GlueTask("sts_b", "STS-B", ("sentence1", "sentence2"), "score", None, "pearson_and_spearman"),
    GlueTask("mnli", "MNLI", ("sentence1", "sentence2"), "gold_label", NLI3, "accuracy",
             dev={"valid": "dev_matched.tsv", "valid1": "dev_mismatched.tsv"}),
    GlueTask("qnli", "QNLI", ("question", "sentence"), "label", ("entailment", "not_entailment"), "accuracy"),
    GlueTask("rte", "RTE", ("sentence1", "sentence2"), "label", ("entailment", "not_entailment"), "accuracy"),
    # MNLI-like 3-way NLI with `index, sentence1, sentence2, label` (e.g. VitaminC, PresupNLI)
    GlueTask("nli3", "", ("sentence1", "sentence2"), "label", NLI3, "accuracy"),
]}
GLUE_TASKS = ("cola", "sst_2", "mrpc", "qqp", "sts_b", "mnli", "qnli", "rte")  # the 8 tasks of the paper's Table 4


class GlueRowError(DataError):
    """A malformed row or file; the message names file and line, ``kind`` is the short reason."""

    def __init__(self, path, lineno, kind, detail=""):
        super().__init__(f"{path}:{lineno}: {kind}{detail}")
        self.kind = kind


def read_rows(path, task: GlueTask, skip_bad=False, skipped: Counter = None):
    """Yield (sentences tuple, label string) for each valid row of a GLUE TSV file."""
    skipped = skipped if skipped is not None else Counter()
    with open(path, "rb") as f:
        raw = f.read()
    try:
        lines = raw.decode("utf-8").split("\n")
    except UnicodeDecodeError as e:
        raise GlueRowError(path, raw[:e.start].count(b"\n") + 1, "not UTF-8", f" (byte {e.start + 1})") from None
    if lines and lines[-1] == "":
        lines.pop()
    if not lines:
        raise GlueRowError(path, 0, "empty file")
    start, n_cols, idx = 0, task.n_columns, {}
    if task.header:
        header = lines[0].rstrip("\r").split("\t")
        missing = [c for c in (*task.sentences, task.label) if c not in header]
        if missing:
            raise GlueRowError(path, 1, "header lacks column(s)", f" {missing} for task {task.name}: {header}")
        idx, n_cols, start = {c: header.index(c) for c in (*task.sentences, task.label)}, len(header), 1
    col = lambda c: idx.get(c, c)  # noqa: E731  (names -> indices; header-less tasks use indices)
    for lineno, line in enumerate(lines[start:], start + 1):
        cells = line.rstrip("\r").split("\t")
        try:
            if len(cells) != n_cols:
                raise GlueRowError(path, lineno, "wrong column count", f": expected {n_cols} tab-separated, got {len(cells)}")
            sents = tuple(cells[col(c)].strip() for c in task.sentences)
            label = cells[col(task.label)].strip()
            if any(not s for s in sents):
                raise GlueRowError(path, lineno, "empty sentence")
            _check_label(label, task, path, lineno)
        except GlueRowError as e:
            if not skip_bad:
                raise
            skipped[e.kind] += 1
            continue
        yield sents, label


def _check_label(label, task, path, lineno):
    if task.labels is None:
        try:
            float(label)
        except ValueError:
            raise GlueRowError(path, lineno, "label is not a number",
                               f": {label!r} ({task.name} is a regression task)") from None
    elif label not in task.labels:
        raise GlueRowError(path, lineno, "unknown label", f" {label!r}; expected one of {list(task.labels)}")
