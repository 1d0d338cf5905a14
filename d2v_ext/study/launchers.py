"""Where a study unit's commands run (``scripts/study.py --launcher``).

``local``  every command is a subprocess here (the default); with ``--jobs N`` each gets
           ``cores / N`` torch threads so that N runs share the machine without oversubscribing it.
``basic``  ``fairseq-hydra-train`` runs as a hydra multirun with hydra's basic launcher (the same
           command line as ``slurm`` with the launcher swapped: what the tests run locally).
``slurm``  ``fairseq-hydra-train`` runs as a hydra multirun with hydra's submitit launcher
           (``hydra/launcher=submitit_slurm``, from the hydra-submitit-launcher package): one SLURM
           job per unit, its ``#SBATCH`` lines from ``--slurm KEY=VALUE`` (any field of the
           launcher's config: partition, gpus_per_node, cpus_per_task, mem_gb, timeout_min, ...).
           The evaluation scripts of a unit (eval_qa.py, eval_image.py, knn_eval.py, ...) go to
           SLURM through submitit directly, with the same parameters. Run study.py itself on a login
           node (it only waits), e.g. under tmux, with ``--jobs`` as the number of jobs in flight.

In every case a unit's output folder is the unit's folder: ``hydra.run.dir`` (local) or
``hydra.sweep.dir`` with ``hydra.sweep.subdir=.`` (basic, slurm), so the logs, checkpoints and
results are in the same place whichever launcher ran them, and a study can move between them.
"""
import os
import subprocess
from pathlib import Path

import yaml

from ..errors import ConfigError, D2vExtError
from ..launch import hydra_train_command
from . import forked

LAUNCHERS = ("local", "basic", "slurm")
BOOT = Path(__file__).resolve().parent / "slurm_boot"


def _tail(path, n=15):
    return "\n  ".join(Path(path).read_text(errors="replace").splitlines()[-n:])


def run_logged(cmd, unit, log_name="console.log", env=None):
    """Run ``cmd`` in ``unit`` with its output appended to ``unit/log_name`` (forked from the preloaded
    server where it can be, forked.py; else a subprocess); a failure names the command's unit, exit
    status and log, with the log's last lines."""
    unit.mkdir(parents=True, exist_ok=True)
    env = dict(env or os.environ, PYTHONUNBUFFERED="1")
    with open(unit / log_name, "a") as log:
        log.write(f"\n# {' '.join(map(str, cmd))}\n")
        log.flush()
        rc = forked.run(cmd, unit, unit / log_name, env)
        if rc is None:
            rc = subprocess.run([str(c) for c in cmd], cwd=unit, stdout=log, stderr=subprocess.STDOUT, env=env).returncode
    if rc != 0:
        raise D2vExtError(f"study: {unit} failed (exit {rc}); log {unit / log_name}:\n  {_tail(unit / log_name)}")


class Local:
    """Subprocesses on this machine; ``threads`` torch threads each (None: torch's default)."""
    name = "local"

    def __init__(self, threads=None):
        self.threads = threads

    def env(self):
        env = dict(os.environ)
        if self.threads and "OMP_NUM_THREADS" not in env:  # a thread count the user set wins
            env.update(OMP_NUM_THREADS=str(self.threads), MKL_NUM_THREADS=str(self.threads))
        return env

    def train(self, config_dir, config_name, overrides, unit):
        cmd = hydra_train_command(config_dir, config_name, *overrides, run_dir=unit, save_dir=unit / "ckpt")
        run_logged(cmd, unit, env=self.env())

    def command(self, cmd, unit, log_name):
        run_logged(cmd, unit, log_name, env=self.env())


class Basic(Local):
    """fairseq-hydra-train as a one-job hydra multirun in the unit's folder, with ``hydra_launcher``."""
    name = "basic"
    hydra_launcher = "basic"

    def launcher_overrides(self, unit):
        return []

    def multirun_command(self, config_dir, config_name, overrides, unit):
        return hydra_train_command(config_dir, config_name, *overrides, save_dir=unit / "ckpt", multirun=True) + [
            f"hydra/launcher={self.hydra_launcher}", f"hydra.sweep.dir={unit}", "hydra.sweep.subdir=.",
            *self.launcher_overrides(unit)]

    def train(self, config_dir, config_name, overrides, unit):
        run_logged(self.multirun_command(config_dir, config_name, overrides, unit), unit, env=self.env())


def slurm_fields():
    """The fields of hydra's submitit_slurm launcher config, with their defaults."""
    from dataclasses import MISSING, fields

    from hydra_plugins.hydra_submitit_launcher.config import SlurmQueueConf

    return {f.name: f.default_factory() if f.default is MISSING else f.default
            for f in fields(SlurmQueueConf) if f.name != "_target_"}


def parse_slurm(items, flag="--slurm"):
    """``["partition=learnfair", "gpus_per_node=1"]`` -> a dict, each key checked against the
    launcher's config and each value read as YAML (numbers, booleans, lists, mappings)."""
    known, out = slurm_fields(), {}
    for item in items or []:
        key, eq, value = str(item).partition("=")
        if not eq or not key:
            raise ConfigError(f"{flag} {item!r}: expected KEY=VALUE, e.g. partition=learnfair")
        if key not in known or key == "submitit_folder":
            raise ConfigError(f"{flag} {item!r}: unknown key {key!r}; expected one of "
                              f"{sorted(k for k in known if k != 'submitit_folder')}")
        try:
            out[key] = yaml.safe_load(value)
        except yaml.YAMLError as e:
            raise ConfigError(f"{flag} {item!r}: the value is not valid YAML ({e})") from None
    return out


def _hydra_value(v):
    """A value as a hydra command-line override value (strings quoted unless plain)."""
    if isinstance(v, str):
        return v if v and all(c.isalnum() or c in "-_./:@%" for c in v) else "'" + v.replace("\\", "\\\\").replace("'", "\\'") + "'"
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(_hydra_value(x) for x in v) + "]"
    if v is None:
        return "null"
    return str(v).lower() if isinstance(v, bool) else str(v)


def _launcher_override(key, value):
    """``hydra.launcher.<key>=<value>`` overrides; a mapping (additional_parameters) key by key,
    added to the launcher's (struct) mapping with ``+``."""
    if isinstance(value, dict):
        return [f"+hydra.launcher.{key}.{k}={_hydra_value(v)}" for k, v in value.items()]
    return [f"hydra.launcher.{key}={_hydra_value(value)}"]


class Slurm(Basic):
    """One SLURM job per unit: hydra's submitit launcher for training, submitit for scripts."""
    name = "slurm"
    hydra_launcher = "submitit_slurm"

    def __init__(self, params=None):
        super().__init__(threads=None)
        self.params = dict(params or {})
        # first of the job's setup lines: slurm_boot/sitecustomize.py installs the plugin's `examples`
        # alias before submitit unpickles the job (see there)
        # (no ${...}: hydra would read it as an interpolation)
        boot = f'if [ -z "$PYTHONPATH" ]; then export PYTHONPATH={BOOT}; else export PYTHONPATH={BOOT}:$PYTHONPATH; fi'
        self.params["setup"] = [boot] + list(self.params.get("setup") or [])

    def launcher_overrides(self, unit):
        return [f"hydra.launcher.submitit_folder={unit / 'slurm' / '%j'}"] + [
            o for k, v in self.params.items() for o in _launcher_override(k, v)]

    def executor(self, unit):
        """A submitit executor with the parameters hydra's launcher would give the same unit."""
        import submitit
        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
        from omegaconf import OmegaConf

        base = set(OmegaConf.structured(BaseQueueConf).keys())
        params = dict(slurm_fields(), name=unit.name)
        params.update(self.params)
        params = {k: v for k, v in params.items() if v is not None and k != "submitit_folder"}
        ex = submitit.AutoExecutor(folder=unit / "slurm" / "%j", cluster="slurm",
                                   slurm_max_num_timeout=params.pop("max_num_timeout", 0))
        ex.update_parameters(**{k if k in base else f"slurm_{k}": v for k, v in params.items()})
        return ex

    def command(self, cmd, unit, log_name):
        import submitit

        unit.mkdir(parents=True, exist_ok=True)
        job = self.executor(unit).submit(submitit.helpers.CommandFunction([str(c) for c in cmd], cwd=str(unit)))
        with open(unit / log_name, "a") as log:
            log.write(f"\n# {' '.join(map(str, cmd))}\n# SLURM job {job.job_id}: {job.paths.stdout}\n")
        try:
            out = job.result()
        except Exception as e:  # submitit's FailedJobError carries the job's stderr
            with open(unit / log_name, "a") as log:
                log.write(str(e) + "\n")
            raise D2vExtError(f"study: {unit} failed (SLURM job {job.job_id}); log {unit / log_name}:\n  "
                              f"{_tail(unit / log_name)}") from None
        with open(unit / log_name, "a") as log:
            log.write(out or "")


def make_launcher(name, jobs=1, slurm=None, cores=None):
    """The launcher of ``--launcher name``; local ones share the cores among ``jobs`` runs."""
    if name not in LAUNCHERS:
        raise ConfigError(f"--launcher {name!r}: expected one of {list(LAUNCHERS)}")
    if slurm and name != "slurm":
        raise ConfigError(f"--slurm is for --launcher slurm, not {name}")
    if name == "slurm":
        return Slurm(slurm)
    threads = max(1, (cores or os.cpu_count() or 1) // jobs) if jobs > 1 else None
    return (Basic if name == "basic" else Local)(threads)
