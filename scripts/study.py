#!/usr/bin/env python
"""The study in one command: methods x downstream tasks x seeds at a scale preset, from a YAML spec.

Pretraining (each method's recipe of config/pretraining) -> fine-tuning and frozen-feature probes
(config/finetuning, knn_eval.py, linear_probe.py) -> evaluation (GLUE dev, XQuAD, CIFAR val) ->
report.md (one table per task: mean ± std over seeds, the majority/chance floor, the published rows),
report.json (the same numbers) and figures/ (per-task bars, pretraining curves, budget curve).

The spec format is in d2v_ext/study/spec.py and README ("The study"); config/study/ holds the demo's
spec (tiny.yaml) and the small and paper ones. The spec is checked completely before anything runs.
Resumable: a finished unit (its result.json) is never recomputed; a killed one reruns in its folder
and fairseq resumes from its checkpoint_last.pt. One line per unit: its time, the elapsed time, an ETA.

Examples:
  python scripts/study.py config/study/tiny.yaml --out runs/study       # the demo (~25 min, 2 cores)
  python scripts/study.py config/study/tiny.yaml --out runs/study --check   # only check the spec
"""
import json
import sys
import time
from pathlib import Path

from d2v_ext import cli
from d2v_ext.errors import ConfigError
from d2v_ext.paths import PROJECT_ROOT


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("spec", help="the study spec (YAML), e.g. config/study/tiny.yaml")
    p.add_argument("--out", default=str(PROJECT_ROOT / "runs" / "study"), help="work and report folder")
    p.add_argument("--check", action="store_true", help="check the spec, print the plan and stop")
    p.add_argument("--jobs", type=int, default=1,
                   help="units run at once (default 1). Locally each gets cores/jobs torch threads; on "
                        "SLURM it is the number of jobs in flight")
    p.add_argument("--launcher", default="local", choices=["local", "basic", "slurm"],
                   help="where training runs: local subprocesses (default), a hydra multirun with hydra's "
                        "basic launcher, or SLURM through hydra's submitit launcher (d2v_ext/study/launchers.py)")
    p.add_argument("--slurm", action="append", default=[], metavar="KEY=VALUE",
                   help="a field of hydra's submitit_slurm launcher config, repeatable: partition=..., "
                        "gpus_per_node=1, cpus_per_task=10, mem_gb=64, timeout_min=4320, account=..., ...")
    return p.parse_args(argv)


@cli.script("study.py")
def main(argv=None):
    from d2v_ext.study.figures import draw
    from d2v_ext.study.launchers import make_launcher, parse_slurm
    from d2v_ext.study.report import aggregate, markdown
    from d2v_ext.study.spec import load_spec
    from d2v_ext.study.text import Text
    from d2v_ext.study.units import Runner
    from d2v_ext.study.vision import Vision

    args = parse_args(argv)
    if args.jobs < 1:
        raise ConfigError(f"--jobs {args.jobs}: expected a positive number")
    launcher = make_launcher(args.launcher, args.jobs, parse_slurm(args.slurm))
    spec = load_spec(args.spec)
    out = Path(args.out).resolve()
    cli.check_output_dir(out)
    runner = Runner(launcher, args.jobs)
    parts = {k: cls(spec, out, runner) for k, cls in (("text", Text), ("vision", Vision)) if getattr(spec, k)}
    runner.total = sum(p.leaves() for p in parts.values())
    for k, p in parts.items():
        m = getattr(spec, k)
        print(f"[study] {k}: methods {', '.join(m.methods)}; tasks {', '.join(m.tasks)}; seeds "
              f"{', '.join(map(str, spec.seeds))} (pretraining seeds {', '.join(map(str, m.pretrain_seeds))})")
    print(f"[study] preset {spec.preset}: {runner.total} results to compute or reuse under {out} "
          f"({args.launcher} launcher, {args.jobs} at a time)", flush=True)
    if args.check:
        return 0
    t0 = time.time()
    done = runner.map([job for p in parts.values() for job in p.jobs()])
    results = {k: p.assemble(done) for k, p in parts.items()}
    agg = aggregate(results)
    md = markdown(agg, spec, (time.time() - t0) / 60)
    cli.write_atomic(out / "report.md", md)
    cli.write_atomic(out / "report.json", json.dumps(agg, indent=1))
    figs = draw(agg, out / "figures")
    print("\n" + md)
    print(f"[study] report: {out / 'report.md'}; figures: {', '.join(str(f) for f in figs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
