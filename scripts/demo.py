#!/usr/bin/env python
"""The main demo (``make demo``): the study at tiny scale on the bundled data, config/study/tiny.yaml.

Text: data2vec v1, data2vec 2.0, a RoBERTa-style MLM and random init, each pretrained on the same
real English text (botchan.txt, the SQuAD dev paragraphs not in XQuAD, the SST-2 and VitaminC
training sentences without labels) with the same encoder and budget, then fine-tuned the same way
on SST-2 with few and with many labels (GLUE dev), 3-way NLI (VitaminC) and SQuAD -> XQuAD
zero-shot (6 languages), 3 seeds each, plus a pretraining-budget curve. Vision: data2vec v1, 2.0,
MAE, DINO, a supervised ViT and an untrained backbone on CIFAR-10 (fine-tuning, k-NN, linear
probe), 3 seeds. It prints and writes report.md / report.json (mean ± std over seeds beside the
majority/chance floor and the published rows) and figures/*.png under --out.

It is ``scripts/study.py config/study/tiny.yaml --out runs/demo --jobs 2``: resumable (a rerun
reuses every finished unit), one progress line per unit with an ETA. About 25 minutes on 2 idle
cores (README, "What make demo does").

Example:  python scripts/demo.py --out runs/demo
"""
import os
import subprocess
import sys
from pathlib import Path

from d2v_ext import cli
from d2v_ext.errors import MissingInputError
from d2v_ext.paths import ENV_VAR, PROJECT_ROOT, shared_data_dir


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--out", default=str(PROJECT_ROOT / "runs" / "demo"), help="where everything is written")
    p.add_argument("--data", default=None, help=f"bundled data folder (default ${ENV_VAR} or ../shared/data)")
    p.add_argument("--spec", default=str(PROJECT_ROOT / "config" / "study" / "tiny.yaml"), help="the study spec")
    p.add_argument("--jobs", type=int, default=2, help="units run at once (default 2: one per core, 1 thread each)")
    p.add_argument("--check", action="store_true", help="check the spec and the data, print the plan and stop")
    return p.parse_args(argv)


@cli.script("demo.py")
def main(argv=None):
    args = parse_args(argv)
    data = Path(args.data) if args.data else shared_data_dir()
    if not (data / "text" / "botchan.txt").is_file():
        raise MissingInputError(f"{data}: bundled data not found (no text/botchan.txt); set {ENV_VAR} or --data "
                                "to the shared/data folder")
    env = dict(os.environ, **{ENV_VAR: str(data.resolve())})
    cmd = [sys.executable, str(PROJECT_ROOT / "scripts" / "study.py"), args.spec, "--out", args.out,
           "--jobs", str(args.jobs)] + (["--check"] if args.check else []) + (["--debug"] if args.debug else [])
    return subprocess.run(cmd, env=env).returncode


if __name__ == "__main__":
    sys.exit(main())
