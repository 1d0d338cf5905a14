#!/usr/bin/env python
"""The data2vec paper's GLUE protocol in one command: for every task, fine-tune with each lr in
{1,2,3,4}e-5 and five seeds (a hydra multirun per task), then write the report.

Locally the jobs run one after another. On a SLURM cluster, `--launcher submitit_slurm` (needs
`pip install hydra-submitit-launcher`) hands every task's grid to hydra's submitit launcher and
the tasks are submitted in parallel; pass cluster settings as extra overrides after `--`.

Examples:
  python scripts/glue_sweep.py --data-root data-bin/glue --restore-file data2vec_base_text.pt --out sweeps/glue
  python scripts/glue_sweep.py ... --launcher submitit_slurm -- hydra.launcher.partition=learnfair hydra.launcher.gpus_per_node=1
  python scripts/glue_sweep.py ... --tasks sst_2 --lrs 1e-4 --seeds 1,2 -- +tiny=glue     (tiny CPU check)
"""
import os
import shlex
import subprocess
import sys

from d2v_ext import cli
from d2v_ext.data.glue_tasks import GLUE_TASKS
from d2v_ext.launch import FINETUNE_CONFIGS, hydra_train_command
from d2v_ext.paths import PROJECT_ROOT


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--data-root", required=True, help="folder with one prepare_glue.py output per task")
    p.add_argument("--restore-file", default=None,
                   help="data2vec v1 text checkpoint (omit for the random-init control)")
    p.add_argument("--model-path", default=None, help="data2vec 2.0 text checkpoint (model=data2vec2_text)")
    p.add_argument("--tasks", default=",".join(GLUE_TASKS), help="comma-separated config names (default: all 8)")
    p.add_argument("--task-data", action="append", default=[], metavar="TASK=DIR",
                   help="data folder of a task if not <data-root>/<task> (e.g. nli3=data-bin/vitaminc)")
    p.add_argument("--lrs", default="1e-5,2e-5,3e-5,4e-5", help="learning rates (paper: 1,2,3,4 x 1e-5)")
    p.add_argument("--seeds", default="1,2,3,4,5", help="seeds (paper: five runs)")
    p.add_argument("--out", required=True, help="sweep folder: <out>/<task>/<job>/ and <out>/report.md")
    p.add_argument("--launcher", default=None, help="hydra launcher, e.g. submitit_slurm")
    p.add_argument("--dry-run", action="store_true", help="print the commands only")
    p.add_argument("overrides", nargs="*", help="extra hydra overrides (after --)")
    return p.parse_args(argv)


def task_command(args, task):
    data = dict(t.split("=", 1) for t in args.task_data).get(task, os.path.join(args.data_root, task))
    lrs = ",".join(f"[{lr}]" for lr in args.lrs.split(","))
    cmd = hydra_train_command(FINETUNE_CONFIGS, task, f"task.data={os.path.abspath(data)}", f"optimization.lr={lrs}",
                              f"common.seed={args.seeds}", f"hydra.sweep.dir={os.path.abspath(os.path.join(args.out, task))}",
                              "hydra.sweep.subdir=${hydra.job.num}", multirun=True)
    if args.model_path:
        cmd += ["model=data2vec2_text", f"model.model_path={os.path.abspath(args.model_path)}"]
    else:
        restore = os.path.abspath(args.restore_file) if args.restore_file else "checkpoint_last.pt"
        cmd += [f"checkpoint.restore_file={restore}"]
    if args.launcher:
        cmd += [f"hydra/launcher={args.launcher}"]
    return cmd + list(args.overrides)


@cli.script("glue_sweep.py")
def main(argv=None):
    args = parse_args(argv)
    from d2v_ext.errors import ConfigError, MissingInputError

    tasks = args.tasks.split(",")
    unknown = [t for t in tasks if not (FINETUNE_CONFIGS / f"{t}.yaml").is_file()]
    if unknown:
        raise ConfigError(f"--tasks: no recipe config/finetuning/<task>.yaml for {', '.join(unknown)}")
    for f in (args.restore_file, args.model_path):
        if f and not os.path.isfile(f):
            raise MissingInputError(f"checkpoint {f}: not found")
    cli.check_output_dir(args.out, "--out")
    n = len(args.lrs.split(",")) * len(args.seeds.split(","))
    cmds = [task_command(args, t) for t in tasks]
    print(f"glue_sweep.py: {len(tasks)} task(s) x {n} runs = {len(tasks) * n} fine-tuning runs -> {args.out}")
    for c in cmds:
        print("  " + shlex.join(c))
    if args.dry_run:
        return 0
    os.makedirs(args.out, exist_ok=True)
    logs = [open(os.path.join(args.out, f"{t}.log"), "w") for t in tasks]
    if args.launcher:  # cluster: submit every task's grid at once, wait for all
        procs = [subprocess.Popen(c, cwd=args.out, stdout=l, stderr=subprocess.STDOUT) for c, l in zip(cmds, logs)]
        failed = [t for t, p in zip(tasks, procs) if p.wait() != 0]
    else:
        failed = []
        for i, (t, c, l) in enumerate(zip(tasks, cmds, logs), 1):
            print(f"[{i}/{len(tasks)}] {t}: {n} runs (log: {l.name})", flush=True)
            if subprocess.call(c, cwd=args.out, stdout=l, stderr=subprocess.STDOUT) != 0:
                failed.append(t)
    if failed:
        sys.exit(f"glue_sweep.py: task(s) {failed} failed; see {args.out}/<task>.log")
    report = [sys.executable, str(PROJECT_ROOT / "scripts" / "report.py"), args.out,
              "--out", os.path.join(args.out, "report.md"), "--json", os.path.join(args.out, "runs.json")]
    return subprocess.call(report)


if __name__ == "__main__":
    sys.exit(main())
