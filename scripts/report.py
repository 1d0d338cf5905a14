#!/usr/bin/env python
"""Paper-style report from fine-tuning runs: a Markdown table beside the data2vec paper's numbers.

GLUE: finds every sentence_prediction run under the given folders (single runs or hydra multirun
trees), takes each run's best dev metric, picks ONE learning rate for all tasks (best mean, the
paper's protocol) per initialisation, and reports per task mean ± std over seeds.

Examples:
  python scripts/report.py multirun/2026-11-24 --out report.md
  python scripts/report.py runs/demo/finetune --name runs/demo/pretrain/ckpt/checkpoint_last.pt="tiny data2vec"
"""
import argparse
import json
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), ".."))

from d2v_ext.evaluation.glue_report import collect, sweep_table, table  # noqa: E402


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("runs", nargs="+", help="run folders or folders containing them")
    p.add_argument("--name", action="append", default=[], metavar="INIT=LABEL",
                   help="column label for an initialisation (a restore_file / model_path)")
    p.add_argument("--out", help="write the Markdown report here")
    p.add_argument("--json", help="write every run's numbers here")
    return p.parse_args(argv)


def render(runs, names):
    return ("## GLUE dev (data2vec paper protocol: best dev metric per run; mean ± std over seeds "
            "at one lr for all tasks)\n\n" + table(runs, names)
            + "\n### Every learning rate (mean over seeds)\n\n" + sweep_table(runs, names))


def main(argv=None):
    args = parse_args(argv)
    names = dict(n.split("=", 1) for n in args.name)
    runs = collect(args.runs)
    if not runs:
        sys.exit(f"report.py: error: no GLUE fine-tuning runs (with .hydra/ and valid metrics) under {args.runs}")
    md = render(runs, names)
    print(md)
    if args.out:
        with open(args.out, "w") as f:
            f.write(md)
    if args.json:
        with open(args.json, "w") as f:
            json.dump([{**r.__dict__, "path": str(r.path)} for r in runs], f, indent=2)
    return md


if __name__ == "__main__":
    main()
