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
import os
import sys

from d2v_ext import cli
from d2v_ext.errors import ConfigError, DataError
from d2v_ext.logs import read_records

DEFAULT_KEYS = ("loss", "loss_regression", "loss_dino", "teacher_entropy", "teacher_student_kl", "prototypes_used",
                "center_norm", "target_var", "pred_var", "ema_decay", "teacher_temp")


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("logs", nargs="+", help="fairseq logs with log_format=json")
    p.add_argument("--labels", nargs="+", help="one label per log (default: the log's folder name)")
    p.add_argument("--keys", nargs="+", default=list(DEFAULT_KEYS), help="metrics to plot (those present are drawn)")
    p.add_argument("--tag", default="train_inner", help="json record kind (default train_inner)")
    p.add_argument("--out", default="monitors.png", help="output PNG (default monitors.png)")
    return p.parse_args(argv)


@cli.script("plot_monitors.py")
def main(argv=None):
    args = parse_args(argv)
    cli.check_output_file(args.out, "--out")
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    labels = args.labels or [os.path.basename(os.path.dirname(os.path.abspath(p))) for p in args.logs]
    if len(labels) != len(args.logs):
        raise ConfigError(f"--labels: {len(labels)} labels for {len(args.logs)} logs; give one per log")
    runs = []
    for path in args.logs:
        recs = read_records(path, args.tag)
        if not recs:
            raise DataError(f"{path} has no [{args.tag}] json records (log_format: json?)")
        runs.append(recs)
    keys = [k for k in args.keys if any(isinstance(r.get(k), float) for recs in runs for r in recs)]
    cols = min(3, len(keys))
    rows = (len(keys) + cols - 1) // cols
    fig, axes = plt.subplots(rows, cols, figsize=(4.2 * cols, 3 * rows), squeeze=False)
    for ax, key in zip(axes.flat, keys):
        for label, recs in zip(labels, runs):
            pts = [(r["num_updates"], r[key]) for r in recs if isinstance(r.get(key), float) and "num_updates" in r]
            if pts:
                ax.plot(*zip(*pts), label=label, marker="." if len(pts) < 30 else None)
        ax.set_title(key)
        ax.set_xlabel("update")
        ax.grid(alpha=0.3)
    for ax in list(axes.flat)[len(keys):]:
        ax.axis("off")
    axes.flat[0].legend(fontsize=8)
    fig.tight_layout()
    tmp = f"{args.out}.tmp.png"
    fig.savefig(tmp, dpi=100)
    os.replace(tmp, args.out)  # an earlier figure is replaced whole or not at all
    print(f"wrote {args.out}: {len(keys)} panels ({', '.join(keys)}) for {len(runs)} run(s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
