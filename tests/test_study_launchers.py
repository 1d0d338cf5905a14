"""scripts/study.py --launcher / --jobs: the hydra launcher configs compose; a small study gives the
same numbers run locally (1 and 2 jobs at a time), through hydra's basic launcher, and on "SLURM"
through hydra's submitit launcher, where a stand-in for sbatch/srun/sacct (tests/fake_slurm) runs
the jobs on this machine and keeps the job specs (#SBATCH lines) it was given."""
import json
import os
import re
import subprocess
import sys

import pytest

from helpers import PROJECT_ROOT, require_data, run_script

study = run_script("study.py")
FAKE_SLURM = PROJECT_ROOT / "tests" / "fake_slurm"
SPEC = """name: launchers
preset: tiny
seeds: [1]
text:
  corpus: {corpus}
  methods: [random]
  tasks: [sst2_few, squad_xquad]
budget: {{text_pretrain_updates: 10, text_save_every: 10, sst2_few_train: 300, glue_updates: 30, glue_lr: 0.003,
          squad_updates: 10, squad_train_examples: 150}}
"""
SLURM = ["--slurm", "partition=dev", "--slurm", "timeout_min=30", "--slurm", "cpus_per_task=1",
         "--slurm", "mem_gb=4", "--slurm", "additional_parameters={mail-type: END}"]


def run_study(tmp, name, *args, env=None):
    spec = tmp / "spec.yaml"
    spec.write_text(SPEC.format(corpus=require_data("text", "botchan.txt")))
    out = tmp / name
    cmd = [sys.executable, PROJECT_ROOT / "scripts" / "study.py", spec, "--out", out, *args]
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **(env or {})))
    assert p.returncode == 0, (p.stdout + p.stderr)[-5000:]
    return out, json.loads((out / "report.json").read_text()), p.stdout


def values(report):
    return {task: {m: r["values"] for m, r in t["rows"].items()} for task, t in report["tables"].items()}


@pytest.mark.parametrize("args, expected", [
    (["--slurm", "partition=dev"], r"--slurm is for --launcher slurm, not local"),
    (["--launcher", "slurm", "--slurm", "partiton=dev"], r"--slurm 'partiton=dev': unknown key 'partiton'; expected one of \[.*'partition'"),
    (["--launcher", "slurm", "--slurm", "partition"], r"--slurm 'partition': expected KEY=VALUE"),
    (["--jobs", "0"], r"--jobs 0: expected a positive number"),
])
def test_bad_launcher_arguments_are_clear_errors(tmp_path, args, expected):
    spec = tmp_path / "spec.yaml"
    spec.write_text(SPEC.format(corpus=require_data("text", "botchan.txt")))
    rc, out = study(spec, "--out", tmp_path / "out", *args)
    assert rc == 2 and re.search(expected, out), out
    assert not (tmp_path / "out").exists()


def test_the_slurm_launcher_config_composes(tmp_path):
    """The multirun command a unit gets, with --cfg hydra: hydra composes the submitit launcher with
    the --slurm values (and the unit's submitit folder) over fairseq's config and the recipe."""
    from d2v_ext.launch import PRETRAIN_CONFIGS
    from d2v_ext.study.launchers import Slurm, parse_slurm
    from omegaconf import OmegaConf

    unit = tmp_path / "unit"
    cmd = Slurm(parse_slurm(SLURM[1::2])).multirun_command(PRETRAIN_CONFIGS, "text_v1", ["+tiny=text_v1"], unit)
    p = subprocess.run(cmd + ["--cfg", "hydra"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    cfg = OmegaConf.create(p.stdout[p.stdout.index("hydra:"):])
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (launcher.partition, launcher.timeout_min, launcher.cpus_per_task, launcher.mem_gb) == ("dev", 30, 1, 4)
    assert dict(launcher.additional_parameters) == {"mail-type": "END"}
    assert launcher.submitit_folder == str(unit / "slurm" / "%j")
    assert (cfg.hydra.sweep.dir, cfg.hydra.sweep.subdir) == (str(unit), ".")
    assert "hydra/launcher=submitit_slurm" in cmd and "-m" in cmd


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    return run_study(tmp_path_factory.mktemp("local"), "out")


@pytest.mark.e2e
def test_two_jobs_at_a_time_give_the_same_numbers(local, tmp_path):
    _, ref, _ = local
    out, report, log = run_study(tmp_path, "out", "--jobs", "2")
    assert values(report) == values(ref)
    assert "(local launcher, 2 at a time)" in log
    assert log.count("text/pretrain/data2vec-s1: ") == 1  # needed by both tasks, computed once


@pytest.mark.e2e
def test_the_basic_launcher_gives_the_same_numbers(local, tmp_path):
    _, ref, _ = local
    out, report, _ = run_study(tmp_path, "out", "--launcher", "basic")
    assert values(report) == values(ref)
    console = (out / "text" / "sst2_few" / "random-s1" / "console.log").read_text()
    assert " -m " in console and "hydra/launcher=basic" in console
    assert (out / "text" / "sst2_few" / "random-s1" / "multirun.yaml").is_file()


@pytest.mark.e2e
def test_slurm_jobs_carry_the_specs_and_give_the_same_numbers(local, tmp_path):
    """Every training unit is one sbatch array job from hydra's submitit launcher, every script one
    submitit job, each with the --slurm values as #SBATCH lines; the numbers equal the local run's."""
    _, ref, _ = local
    fake = tmp_path / "slurm-state"
    env = {"PATH": f"{FAKE_SLURM}{os.pathsep}{os.environ['PATH']}", "FAKE_SLURM_DIR": str(fake)}
    out, report, log = run_study(tmp_path, "out", "--launcher", "slurm", *SLURM, env=env)
    assert values(report) == values(ref)
    specs = sorted(fake.glob("*.sbatch"))
    # training: pretraining, SST-2, SQuAD; scripts: corpus, SST-2 data, eval_qa
    assert len(specs) == 6, [s.name for s in specs]
    arrays = 0
    for s in specs:
        text = s.read_text()
        for line in ("#SBATCH --partition=dev", "#SBATCH --time=30", "#SBATCH --cpus-per-task=1",
                     "#SBATCH --mem=4GB", "#SBATCH --mail-type=END"):
            assert line in text, (s, text)
        assert re.search(r"srun .* -u -m submitit\.core\._submit ", text), text
        arrays += "#SBATCH --array=0-0%1" in text  # hydra's launcher submits a (one-job) array
    assert arrays == 3
    for unit in ("pretrain/data2vec-s1", "sst2_few/random-s1", "squad_xquad/random-s1"):
        folder = out / "text" / unit
        assert list((folder / "slurm").glob("*_0/*_0_result.pkl")), folder
        assert (folder / "hydra_train.log").is_file() and (folder / "ckpt" / "checkpoint_last.pt").is_file()
    eval_log = (out / "text" / "squad_xquad" / "random-s1" / "eval.log").read_text()
    assert re.search(r"# SLURM job \d+", eval_log)
    assert all(s.read_text().strip() == "COMPLETED" for s in fake.glob("*.state"))
