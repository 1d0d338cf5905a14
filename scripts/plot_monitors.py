#!/usr/bin/env python
"""Plot training curves and collapse monitors from fairseq json logs (PNG), several runs overlaid.

Reads the [train_inner] json records of each log (hydra_train.log or a console log) and draws one
panel per monitor against num_updates. How to read them (DINO / data2vec collapse):
  teacher_entropy     -> log K (uniform collapse: centring wins) or -> 0 (one-prototype collapse: sharpening wins)
  teacher_student_kl  -> 0 with entropy at log K: both sides uniform, nothing is learned
  prototypes_used     effective number of prototypes exp(H(mean teacher distribution)); small = few used
  center_norm         the center tracks the teacher's mean output; a runaway norm means drifting logits
  target_var          std of the teacher targets over the batch; -> 0 means the teacher collapsed
  ema_decay, teacher_temp  the schedules (x1000 for ema_decay, as upstream logs it)
Example:
  python scripts/plot_monitors.py runs/d2v/hydra_train.log runs/dino/hydra_train.log --labels data2vec dino --out m.png
"""
import argparse
import json
import os
import sys

DEFAULT_KEYS = ("loss", "loss_regression", "loss_dino", "teacher_entropy", "teacher_student_kl", "prototypes_used",
                "center_norm", "target_var", "pred_var", "ema_decay", "teacher_temp")


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("logs", nargs="+", help="fairseq logs with log_format=json")
    p.add_argument("--labels", nargs="+", help="one label per log (default: the log's folder name)")
    p.add_argument("--keys", nargs="+", default=list(DEFAULT_KEYS), help="metrics to plot (those present are drawn)")
    p.add_argument("--tag", default="train_inner", help="json record kind (default train_inner)")
    p.add_argument("--out", default="monitors.png", help="output PNG (default monitors.png)")
    return p.parse_args(argv)


def read_records(path, tag="train_inner"):
    """[{key: float}] of the log's json records of ``tag``; clear error naming the file and line."""
    recs = []
    with open(path, encoding="utf-8", errors="replace") as f:
        for lineno, line in enumerate(f, 1):
            marker = f"][{tag}][INFO] - {{"
            if marker not in line:
                continue
            try:
                d = json.loads(line.split(" - ", 1)[1])
            except json.JSONDecodeError as e:
                raise ValueError(f"{path}:{lineno}: malformed json record ({e.msg})") from None
            recs.append({k: float(v) for k, v in d.items() if _is_number(v)})
    return recs


def _is_number(v):
    try:
        float(v)
        return True
    except (TypeError, ValueError):
        return False


def main(argv=None):
    args = parse_args(argv)
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = args.labels or [os.path.basename(os.path.dirname(os.path.abspath(p))) for p in args.logs]
    if len(labels) != len(args.logs):
        sys.exit("plot_monitors.py: error: give one --labels entry per log")
    runs = []
    for path in args.logs:
        if not os.path.isfile(path):
            sys.exit(f"plot_monitors.py: error: log not found: {path}")
        recs = read_records(path, args.tag)
        if not recs:
            sys.exit(f"plot_monitors.py: error: {path} has no [{args.tag}] json records (log_format: json?)")
        runs.append(recs)
    keys = [k for k in args.keys if any(k in r for recs in runs for r in recs)]
    cols = min(3, len(keys))
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for label, recs in zip(labels, runs):
            pts = [(r["num_updates"], r[key]) for r in recs if key in r and "num_updates" in r]
            if pts:
                ax.plot(*zip(*pts), label=label, marker="." if len(pts) < 30 else None)
        ax.set_title(key)
        ax.set_xlabel("update")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(args.out, dpi=100)
    print(f"wrote {args.out}: {len(keys)} panels ({', '.join(keys)}) for {len(runs)} run(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
