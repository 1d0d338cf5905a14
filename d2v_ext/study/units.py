"""Resumable units of a study, the progress line each one prints, and where their commands run.

A unit is a folder. It is finished when its ``result.json`` exists (written atomically, last), and a
finished unit is never recomputed. A training unit that crashed or was killed is rerun with the same
command in the same folder: fairseq resumes from ``ckpt/checkpoint_last.pt``.

:class:`Runner` runs the units, ``jobs`` at a time (a thread each; a unit needed by several, such as
a pretraining, is computed once while the others wait for it). Where a unit's commands run is the
launcher's choice (launchers.py): ``local`` subprocesses, hydra's ``basic`` launcher, or SLURM
through hydra's submitit launcher.
"""
import json
import sys
import threading
import time
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from pathlib import Path

from .. import cli
from ..paths import PROJECT_ROOT
from .launchers import Local

SCRIPTS = PROJECT_ROOT / "scripts"


def _clock(s):
    s = int(s)
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}" if s >= 3600 else f"{s // 60}:{s % 60:02d}"


def read_result(unit):
    p = Path(unit) / "result.json"
    return json.loads(p.read_text()) if p.is_file() else None


def write_result(unit, result):
    cli.write_atomic(Path(unit) / "result.json", json.dumps(result, indent=1))
    return result


class Runner:
    """Runs units: ``once`` (resumable, one computation per unit however many threads ask),
    ``train`` / ``script`` (through the launcher), ``map`` (``jobs`` at a time), and the progress
    lines: one per unit run, with its time, the elapsed time and an ETA (the mean time per leaf
    result computed so far this call, divided by the jobs running at once)."""

    def __init__(self, launcher=None, jobs=1, out=None):
        self.launcher, self.jobs, self.out = launcher or Local(), max(1, int(jobs)), out
        self.total = self.done = self.computed = 0
        self.start = time.time()
        self._lock, self._units = threading.Lock(), {}

    # --- progress ------------------------------------------------------------------------------
    def line(self, name, seconds, reused=False, leaf=False, fresh=False):
        with self._lock:
            if leaf:
                self.done += 1
                self.computed += fresh
            el = time.time() - self.start
            eta = _clock(el / self.computed * (self.total - self.done)) if self.computed else "?"
            what = "reused" if reused else f"{seconds:.0f}s"
            print(f"[study] {self.done}/{self.total} {name}: {what} (elapsed {_clock(el)}, ETA {eta})",
                  file=self.out or sys.stdout, flush=True)

    # --- units ---------------------------------------------------------------------------------
    def _unit_lock(self, unit):
        with self._lock:
            return self._units.setdefault(str(unit), threading.Lock())

    def once(self, unit, compute, leaf=False):
        """``compute()`` (a dict) into ``unit/result.json`` unless it is there; returns the result.
        A leaf (one task x method x seed result) counts towards the progress total; every unit that
        runs prints a line, and a reused leaf prints one too."""
        unit = Path(unit)
        with self._unit_lock(unit):
            res, t0 = read_result(unit), time.time()
            fresh = res is None
            if fresh:
                unit.mkdir(parents=True, exist_ok=True)
                res = write_result(unit, compute())
            if fresh or leaf:
                self.line("/".join(unit.parts[-3:]), time.time() - t0, reused=not fresh, leaf=leaf, fresh=fresh)
        return res

    def train(self, config_dir, config_name, *overrides, unit):
        """One ``fairseq-hydra-train`` run whose output folder is ``unit`` (checkpoints in unit/ckpt)."""
        self.launcher.train(config_dir, config_name, overrides, Path(unit))

    def script(self, name, *args, unit, log_name):
        """``scripts/<name> args`` with its output in ``unit/log_name``."""
        self.launcher.command([sys.executable, SCRIPTS / name, *args], Path(unit), log_name)

    def map(self, work):
        """Call every ``(key, fn)`` of ``work``, ``jobs`` at a time; ``{key: fn()}``. After a failure
        nothing new starts, the running calls finish, and the first error is raised."""
        if self.jobs == 1:
            return {k: fn() for k, fn in work}
        with ThreadPoolExecutor(self.jobs) as pool:
            futures = {pool.submit(fn): k for k, fn in work}
            finished, _ = wait(futures, return_when=FIRST_EXCEPTION)
            failed = [f for f in futures if f.done() and not f.cancelled() and f.exception()]
            if failed:
                for f in futures:
                    f.cancel()
                wait(futures)
                raise failed[0].exception()
            return {futures[f]: f.result() for f in futures}
