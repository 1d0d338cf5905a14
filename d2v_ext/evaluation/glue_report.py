"""Collect GLUE fine-tuning runs (hydra run folders) and aggregate them the paper's way:
per task and initialisation, mean and std over seeds at one learning rate chosen for all tasks."""
import statistics
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from omegaconf import OmegaConf

from ..errors import DataError
from ..logs import iter_records
from .glue_metrics import METRIC_LABEL, METRIC_OF_TASK
from .paper_numbers import GLUE_DISPLAY, GLUE_TABLE4

RANDOM_INIT = "random init"


@dataclass
class Run:
    path: Path
    task: str        # config name: cola, sst_2, ..., nli3
    data: str
    init: str        # restore_file / model_path, or RANDOM_INIT
    lr: float
    seed: int
    metric: str
    best: float      # best valid metric over the run (fairseq's best-checkpoint rule)
    best_mm: float = None  # MNLI mismatched (valid1) at the same validation


def _best(records, metric):
    key = f"valid_{metric}"
    vals = [(float(r[key]), r) for r in records if key in r]
    return max(vals, key=lambda v: v[0]) if vals else (None, None)


def _load_yaml(path):
    try:
        return OmegaConf.load(path)
    except FileNotFoundError:
        return None
    except Exception as e:  # yaml's ScannerError / ParserError, omegaconf's errors
        where = getattr(getattr(e, "problem_mark", None), "line", None)
        line = f":{where + 1}" if where is not None else ""
        raise DataError(f"{path}{line}: not valid yaml ({str(e).splitlines()[0]}); expected the config hydra "
                        "wrote for the run") from None


def load_run(run_dir):
    """One hydra run folder (with .hydra/ and hydra_train.log) -> Run, or None if not GLUE."""
    run_dir = Path(run_dir)
    cfg, hydra = (_load_yaml(run_dir / ".hydra" / f) for f in ("config.yaml", "hydra.yaml"))
    if cfg is None or hydra is None or cfg.get("task", {}).get("_name") != "sentence_prediction":
        return None
    log = run_dir / "hydra_train.log"
    records = defaultdict(list)  # subset tag -> json records
    lines = log.read_text(encoding="utf-8", errors="replace").splitlines() if log.is_file() else []
    for tag, rec in iter_records(lines, str(log)):
        if tag.startswith("valid"):
            records[tag].append(rec)
    metric = cfg.checkpoint.best_checkpoint_metric
    best, rec = _best(records.get("valid", []), metric)
    if best is None:
        return None
    best_mm = None
    if "valid1" in records:  # MNLI: mismatched at the validation where matched was best
        same = [r for r in records["valid1"] if r.get("valid1_num_updates") == rec.get("valid_num_updates")]
        best_mm = float(same[0][f"valid1_{metric}"]) if same else None
    model = cfg.model
    if model.get("_name") == "data2vec_text_classification":
        init = str(model.model_path)
    else:
        rf = cfg.checkpoint.restore_file
        init = RANDOM_INIT if rf == "checkpoint_last.pt" else str(rf)
    return Run(run_dir, hydra.hydra.job.config_name, str(cfg.task.data), init,
               float(cfg.optimization.lr[0]), int(cfg.common.seed), metric, best, best_mm)


def collect(paths):
    """Every GLUE run folder at or below the given paths (hydra multirun trees included)."""
    runs = []
    for p in map(Path, paths):
        dirs = [p] if (p / ".hydra").is_dir() else [d.parent for d in p.rglob(".hydra")]
        runs += [r for r in map(load_run, sorted(dirs)) if r is not None]
    return runs


def mean_std(xs):
    return statistics.mean(xs), (statistics.stdev(xs) if len(xs) > 1 else 0.0)


def choose_lr(runs):
    """The paper's rule: one lr for all tasks; the one with the best mean over tasks."""
    by_lr = defaultdict(lambda: defaultdict(list))
    for r in runs:
        by_lr[r.lr][r.task].append(r.best)
    tasks = {r.task for r in runs}
    full = {lr: t for lr, t in by_lr.items() if set(t) == tasks}
    pool = full or by_lr
    return max(pool, key=lambda lr: statistics.mean(statistics.mean(v) for v in pool[lr].values()))


def task_label(task, data):
    name = GLUE_DISPLAY.get(task, task)
    return f"{Path(data).name} ({name})" if task == "nli3" else name


def majority_class(data, split="valid"):
    """Accuracy of always predicting the most frequent dev label (classification tasks), in %."""
    from collections import Counter

    from fairseq.data import Dictionary, data_utils

    label_dir = Path(data) / "label"
    if not (label_dir / "dict.txt").is_file():
        return None  # regression task, or data not available
    ds = data_utils.load_indexed_dataset(str(label_dir / split), Dictionary.load(str(label_dir / "dict.txt")))
    if ds is None or len(ds) == 0:
        return None
    counts = Counter(ds[i][0].item() for i in range(len(ds)))
    return 100 * max(counts.values()) / len(ds)


def init_label(init, names):
    return names.get(init, "pretrained" if init != RANDOM_INIT else init)


def task_order(task_data):
    """GLUE tasks in the paper's column order, other sets (nli3) after them."""
    order = list(GLUE_TABLE4["data2vec"])
    task, data = task_data
    return (order.index(task) if task in order else len(order), task, data)


def table(runs, names=None):
    """Markdown: rows = tasks, columns = initialisations (mean ± std over seeds at the chosen lr)."""
    names = names or {}
    inits = sorted({r.init for r in runs}, key=lambda i: (i == RANDOM_INIT, i))
    chosen = {i: choose_lr([r for r in runs if r.init == i]) for i in inits}
    cols = [init_label(i, names) for i in inits]
    lines = ["| task | metric | " + " | ".join(cols) + " | majority class | data2vec paper (base) |",
             "|---|---|" + "---|" * len(cols) + "---|---|"]
    rows = []
    for task, data in sorted({(r.task, r.data) for r in runs}, key=task_order):
        for sub, attr in ((task, "best"), ("mnli_mm", "best_mm")) if task == "mnli" else ((task, "best"),):
            cells = []
            for i in inits:
                xs = [getattr(r, attr) for r in runs if (r.task, r.data, r.init, r.lr) == (task, data, i, chosen[i])
                      and getattr(r, attr) is not None]
                cells.append(_cell(xs))
            paper = GLUE_TABLE4["data2vec"].get(sub)
            label = task_label(sub, data) if sub != "mnli_mm" else GLUE_DISPLAY["mnli_mm"]
            metric = METRIC_LABEL[METRIC_OF_TASK.get(task, "accuracy")]
            majority = majority_class(data, "valid1" if sub == "mnli_mm" else "valid") \
                if METRIC_OF_TASK.get(task, "accuracy") == "accuracy" else None
            rows.append(f"| {label} | {metric} | " + " | ".join(cells)
                        + f" | {f'{majority:.1f}' if majority is not None else '—'} | {paper if paper else '—'} |")
    lr_note = "; ".join(f"{c}: lr {chosen[i]:g}" for c, i in zip(cols, inits))
    return "\n".join(lines + rows) + f"\n\nChosen learning rate (one for all tasks, best mean): {lr_note}.\n"


def _cell(xs):
    if not xs:
        return "—"
    m, s = mean_std(xs)
    return f"{m:.1f} ± {s:.1f} (n={len(xs)})" if len(xs) > 1 else f"{m:.1f}"


def sweep_table(runs, names=None):
    """Every (init, lr) cell: mean over seeds per task, to see the whole sweep."""
    tasks = [t for t, _ in sorted({(r.task, "") for r in runs}, key=task_order)]
    lines = ["| init | lr | " + " | ".join(GLUE_DISPLAY.get(t, t) for t in tasks) + " |",
             "|---|---|" + "---|" * len(tasks)]
    for init, lr in sorted({(r.init, r.lr) for r in runs}):
        cells = [_cell([r.best for r in runs if (r.init, r.lr, r.task) == (init, lr, t)]) for t in tasks]
        lines.append(f"| {init_label(init, names or {})} | {lr:g} | " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
