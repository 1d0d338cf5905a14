#!/usr/bin/env python
"""Kill a tiny pretraining run with SIGKILL at random points, resume it, and compare the final
weights with an uninterrupted run (a check to run by hand, not a timed test).

One uninterrupted reference run of --updates updates, then --trials trials. A trial starts the same
run in a fresh folder, waits until fairseq logs "begin training", kills it with SIGKILL after a
random share of the reference run's training time (checkpoints are written every
--save-interval updates, so kills also land while a checkpoint is being written), then runs the same
command again, which resumes from checkpoint_last.pt, to the end. The final checkpoint is compared
tensor by tensor with the reference (student, EMA teacher, DINO center and teacher head, optimizer
state). Prints a Markdown table (one row per trial) and writes it with a JSON summary under --out.
Example:
  python scripts/kill_resume_check.py --recipe text_v1 --data data-bin/botchan --out runs/kill_text_v1
"""
import json
import os
import random
import selectors
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

from d2v_ext import cli
from d2v_ext.launch import PRETRAIN_CONFIGS, TINY, hydra_train_command, pinned_schedule, tiny_override


def parse_args(argv=None):
    p = cli.parser(__doc__)
    p.add_argument("--recipe", required=True, choices=sorted(TINY), help="pretraining recipe (its tiny version runs)")
    p.add_argument("--data", required=True, help="task.data: prepare_text.py output (text) or an ImageFolder root")
    p.add_argument("--out", required=True, help="work folder (reference run, trials, kill_resume.md/json)")
    p.add_argument("--updates", type=int, default=40, help="updates per run (default 40)")
    p.add_argument("--save-interval", type=int, default=2, help="checkpoint every N updates (default 2)")
    p.add_argument("--trials", type=int, default=20, help="kill-and-resume trials (default 20)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random kill times")
    return p.parse_args(argv)


def command(args, run_dir):
    return hydra_train_command(
        PRETRAIN_CONFIGS, args.recipe, tiny_override(args.recipe), f"task.data={Path(args.data).resolve()}",
        f"optimization.max_update={args.updates}", f"checkpoint.save_interval_updates={args.save_interval}",
        "checkpoint.keep_interval_updates=2", "common.log_interval=1", "dataset.validate_interval_updates=0",
        *pinned_schedule(args.recipe, args.updates, max(1, args.updates // 8)),
        run_dir=run_dir / "hydra", save_dir=run_dir / "ckpt")


def run_to_end(cmd, log_path):
    with open(log_path, "a") as log:
        rc = subprocess.call(cmd, stdout=log, stderr=subprocess.STDOUT, env=_env())
    if rc != 0:
        raise RuntimeError(f"run failed (exit {rc}); see {log_path}")


def _env():
    return dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1")


def start_and_kill(cmd, log_path, fraction, train_seconds):
    """Start ``cmd``; SIGKILL it ``fraction * train_seconds`` after "begin training". Returns
    (seconds after start when killed or None if it finished first, last update logged)."""
    t0 = time.time()
    with open(log_path, "a") as log:
        p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=_env())
        deadline, killed_at, last = None, None, 0
        sel = selectors.DefaultSelector()
        sel.register(p.stdout, selectors.EVENT_READ)
        while p.poll() is None:
            if deadline is not None and time.time() >= deadline:
                p.send_signal(signal.SIGKILL)
                killed_at = time.time() - t0
                break
            for _ in sel.select(timeout=0.01):
                line = p.stdout.readline()
                log.write(line)
                if "begin training" in line and deadline is None:
                    deadline = time.time() + fraction * train_seconds
                if '"num_updates": "' in line:
                    last = int(line.split('"num_updates": "')[1].split('"')[0])
        p.wait()
        rest = p.stdout.read()
        log.write(rest or "")
    return killed_at, last


def training_seconds(log_text):
    """Seconds between "begin training" and the end of the run, from the log's timestamps."""
    from datetime import datetime

    stamps = [(line, datetime.strptime(line[1:24], "%Y-%m-%d %H:%M:%S,%f")) for line in log_text.splitlines()
              if line.startswith("[20")]
    begin = next(t for line, t in stamps if "begin training" in line)
    return (stamps[-1][1] - begin).total_seconds()


@cli.script("kill_resume_check.py")
def main(argv=None):
    args = parse_args(argv)
    from d2v_ext.checkpoint.compare import checkpoint_differences

    out = cli.check_output_dir(args.out, "--out")
    out.mkdir(parents=True, exist_ok=True)
    rng = random.Random(args.seed)
    ref = out / "reference"
    shutil.rmtree(ref, ignore_errors=True)
    ref.mkdir()
    print(f"kill_resume_check.py: reference run of {args.recipe} ({args.updates} updates) ...", flush=True)
    t0 = time.time()
    run_to_end(command(args, ref), ref / "log.txt")
    train_s = training_seconds((ref / "log.txt").read_text())
    print(f"  done in {time.time() - t0:.0f} s ({train_s:.1f} s of training)", flush=True)
    rows = []
    for trial in range(1, args.trials + 1):
        d = out / f"trial_{trial:02d}"
        shutil.rmtree(d, ignore_errors=True)
        d.mkdir()
        fraction = rng.random()
        killed_at, last = start_and_kill(command(args, d), d / "log.txt", fraction, train_s)
        ckpt = d / "ckpt" / "checkpoint_last.pt"
        resumed_from = _saved_update(ckpt)
        run_to_end(command(args, d), d / "log.txt")
        diffs = checkpoint_differences(ref / "ckpt" / "checkpoint_last.pt", ckpt)
        worst = max(diffs.values())
        rows.append({"trial": trial, "kill_after_s": None if killed_at is None else round(killed_at, 2),
                     "last_logged_update": last, "resumed_from_update": resumed_from, "tensors": len(diffs),
                     "max_abs_diff": worst, "equal": worst == 0.0})
        r = rows[-1]
        print(f"  trial {trial:2d}: killed {'(finished first)' if killed_at is None else f'at {killed_at:5.1f} s'}, "
              f"last update {last:3d}, resumed from {resumed_from}, max |diff| {worst:g} over {len(diffs)} tensors",
              flush=True)
    table = ["| trial | killed after (s) | last logged update | resumed from update | max abs diff |",
             "|---|---|---|---|---|"] + [
        f"| {r['trial']} | {r['kill_after_s'] if r['kill_after_s'] is not None else 'finished'} | "
        f"{r['last_logged_update']} | {r['resumed_from_update']} | {r['max_abs_diff']:g} |" for r in rows]
    equal = sum(r["equal"] for r in rows)
    summary = f"{args.recipe}: {equal}/{len(rows)} killed-and-resumed runs equal the uninterrupted run bit for bit"
    md = f"## kill -9 and resume: {args.recipe}, {args.updates} updates\n\n" + "\n".join(table) + f"\n\n{summary}\n"
    print("\n" + md)
    cli.write_atomic(out / "kill_resume.md", md)
    cli.write_atomic(out / "kill_resume.json", json.dumps({"recipe": args.recipe, "updates": args.updates,
                                                          "trials": rows, "equal": equal}, indent=2))
    return 0 if equal == len(rows) else 1


def _saved_update(ckpt):
    """Update count stored in a checkpoint (None when the run was killed before its first one)."""
    if not ckpt.is_file():
        return None
    from d2v_ext.checkpoint import load_state
    from d2v_ext.errors import CheckpointError

    try:
        return load_state(ckpt)["optimizer_history"][-1]["num_updates"]
    except CheckpointError as e:  # the resume below then fails and says so
        return f"unreadable ({e})"


if __name__ == "__main__":
    sys.exit(main())
