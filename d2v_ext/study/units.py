"""Resumable units of a study, and the progress line each one prints.

A unit is a folder. It is finished when its ``result.json`` exists (written atomically, last), and a
finished unit is never recomputed. A training unit that crashed or was killed is rerun with the same
command in the same folder: fairseq resumes from ``ckpt/checkpoint_last.pt``.
"""
import json
import os
import subprocess
import sys
import time
from pathlib import Path

from .. import cli
from ..errors import D2vExtError
from ..paths import PROJECT_ROOT

SCRIPTS = PROJECT_ROOT / "scripts"


def _clock(s):
    s = int(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


class Progress:
    """Counts the study's leaf results (one per task x method x seed) and prints one line per unit
    run with its time, the elapsed time and an ETA (mean time per leaf computed so far this call)."""

    def __init__(self, total, out=None):
        self.total, self.done, self.computed, self.start, self.out = total, 0, 0, time.time(), out

    def leaf(self, recomputed):
        self.done += 1
        self.computed += recomputed

    def line(self, name, seconds, reused=False):
        el = time.time() - self.start
        left = self.total - self.done
        eta = _clock(el / self.computed * left) if self.computed else "?"
        what = "reused" if reused else f"{seconds:.0f}s"
        print(f"[study] {self.done}/{self.total} {name}: {what} (elapsed {_clock(el)}, ETA {eta})",
              file=self.out or sys.stdout, flush=True)


def read_result(unit):
    p = Path(unit) / "result.json"
    return json.loads(p.read_text()) if p.is_file() else None


def write_result(unit, result):
    cli.write_atomic(Path(unit) / "result.json", json.dumps(result, indent=1))
    return result


def run_command(cmd, unit, log_name="console.log", cwd=None):
    """Run ``cmd`` with its output in ``unit/log_name``; a failure names the command and the log."""
    unit = Path(unit)
    unit.mkdir(parents=True, exist_ok=True)
    with open(unit / log_name, "a") as log:
        log.write(f"\n# {' '.join(map(str, cmd))}\n")
        log.flush()
        rc = subprocess.run([str(c) for c in cmd], cwd=cwd or unit, stdout=log, stderr=subprocess.STDOUT,
                            env=dict(os.environ, PYTHONUNBUFFERED="1")).returncode
    if rc != 0:
        tail = (unit / log_name).read_text(errors="replace").splitlines()[-15:]
        raise D2vExtError(f"study: {unit} failed (exit {rc}); log {unit / log_name}:\n  " + "\n  ".join(tail))


def script(name, *args, unit, log_name):
    run_command([sys.executable, SCRIPTS / name, *args], unit, log_name)


def once(unit, compute, progress=None, leaf=False):
    """``compute()`` (a dict) into ``unit/result.json`` unless it is there; returns the result.
    A leaf (one task x method x seed result) counts towards the progress total; every unit that
    runs prints a line, and a reused leaf prints one too."""
    unit = Path(unit)
    res, t0 = read_result(unit), time.time()
    fresh = res is None
    if fresh:
        unit.mkdir(parents=True, exist_ok=True)
        res = write_result(unit, compute())
    if progress is not None:
        if leaf:
            progress.leaf(fresh)
        if fresh or leaf:
            name = "/".join(unit.parts[-3:])
            progress.line(name, time.time() - t0, reused=not fresh)
    return res
