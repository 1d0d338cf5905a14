#!/usr/bin/env python
"""Paper-style report from fine-tuning runs: a Markdown table beside the data2vec paper's numbers.

GLUE: finds every sentence_prediction run under the given folders (single runs or hydra multirun
trees), takes each run's best dev metric, picks ONE learning rate for all tasks (best mean, the
paper's protocol) per initialisation, and reports per task mean ± std over seeds.

Examples:
  python scripts/report.py multirun/2026-11-24 --out report.md
  python scripts/report.py runs/demo/finetune --name runs/demo/pretrain/ckpt/checkpoint_last.pt="tiny data2vec"
"""
import json
import sys

from d2v_ext import cli
from d2v_ext.errors import ConfigError, DataError
from d2v_ext.evaluation.glue_report import collect, sweep_table, table


def parse_args(argv=None):
    p = cli.parser(__doc__)
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


@cli.script("report.py")
def main(argv=None):
    args = parse_args(argv)
    bad = [n for n in args.name if "=" not in n]
    if bad:
        raise ConfigError(f"--name {bad[0]!r}: expected INIT=LABEL (a restore_file / model_path, then its label)")
    names = dict(n.split("=", 1) for n in args.name)
    cli.check_output_file(args.out, "--out")
    cli.check_output_file(args.json, "--json")
    runs = collect(args.runs)
    if not runs:
        raise DataError(f"{', '.join(args.runs)}: no GLUE fine-tuning runs (folders with .hydra/ and valid metrics)")
    md = render(runs, names)
    print(md)
    if args.out:
        cli.write_atomic(args.out, md)
    if args.json:
        cli.write_atomic(args.json, json.dumps([{**r.__dict__, "path": str(r.path)} for r in runs], indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
