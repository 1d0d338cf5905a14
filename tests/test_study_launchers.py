"""scripts/study.py --launcher / --jobs: the hydra launcher configs compose; a small study gives the
same numbers run locally (forked, 1 at a time), through hydra's basic launcher (subprocesses, 2 at
a time), and on "SLURM"
through hydra's submitit launcher, where a stand-in for sbatch/srun/sacct (tests/fake_slurm) runs
the jobs on this machine and keeps the job specs (#SBATCH lines) it was given."""
import json
import os
import re
import subprocess
import sys
from pathlib import Path

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
         "--slurm", "mem_gb=4", "--slurm", "additional_parameters={mail-type: END}",
         "--slurm", "setup=['export FAKE_SETUP=ran here']"]


def run_study(tmp, name, *args, env=None):
    spec = tmp / "spec.yaml"
    spec.write_text(SPEC.format(corpus=require_data("text", "botchan.txt")))
    out = tmp / name
    cmd = [sys.executable, PROJECT_ROOT / "scripts" / "study.py", spec, "--out", out, *args]
    p = subprocess.run([str(c) for c in cmd], capture_output=True, text=True, timeout=900,
                       env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **(env or {})))
    fake = (env or {}).get("FAKE_SLURM_DIR")
    jobs = "".join(f"\n== {f}\n{f.read_text()[-1000:]}" for f in sorted(Path(fake).glob("*.log"))) if fake else ""
    assert p.returncode == 0, (p.stdout + p.stderr)[-5000:] + jobs  # + what the fake jobs' bash printed
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
    assert cmd[1] == "-m"  # hydra takes --cfg instead of -m; the composition is the same
    p = subprocess.run(cmd[:1] + cmd[2:] + ["--cfg", "hydra"], capture_output=True, text=True, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    cfg = OmegaConf.create(p.stdout[p.stdout.index("hydra:"):])
    launcher = cfg.hydra.launcher
    assert launcher._target_ == "hydra_plugins.hydra_submitit_launcher.submitit_launcher.SlurmLauncher"
    assert (launcher.partition, launcher.timeout_min, launcher.cpus_per_task, launcher.mem_gb) == ("dev", 30, 1, 4)
    assert dict(launcher.additional_parameters) == {"mail-type": "END"}
    assert list(launcher.setup)[1:] == ["export FAKE_SETUP=ran here"] and "slurm_boot" in launcher.setup[0]
    assert launcher.submitit_folder == str(unit / "slurm" / "%j")
    assert (cfg.hydra.sweep.dir, cfg.hydra.sweep.subdir) == (str(unit), ".")
    assert "hydra/launcher=submitit_slurm" in cmd


@pytest.fixture(scope="module")
def local(tmp_path_factory):
    return run_study(tmp_path_factory.mktemp("local"), "out")


def test_slurm_jobs_unpickle_upstream_classes_only_with_the_boot_folder(tmp_path):
    """What a SLURM job meets first: unpickling hydra's state, which names data2vec 2.0's classes.
    A fresh interpreter cannot load them ("No module named 'examples'") unless the study's job setup
    puts slurm_boot (its sitecustomize installs the plugin's alias) on PYTHONPATH."""
    import pickle

    import d2v_ext  # noqa: F401
    from d2v_ext.study.launchers import BOOT, Slurm
    from fairseq.examples.data2vec.tasks.multimodal import MultimodalPretrainingConfig

    blob = tmp_path / "state.pkl"
    blob.write_bytes(pickle.dumps(MultimodalPretrainingConfig))
    load = [sys.executable, "-c", f"import pickle; print(pickle.loads(open({str(blob)!r}, 'rb').read()).__name__)"]
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    bare = subprocess.run(load, capture_output=True, text=True, env=env, cwd=tmp_path)
    assert bare.returncode != 0 and "No module named 'examples'" in bare.stderr, bare.stderr[-2000:]
    booted = subprocess.run(load, capture_output=True, text=True, env=dict(env, PYTHONPATH=str(BOOT)), cwd=tmp_path)
    assert booted.returncode == 0 and booted.stdout.strip() == "MultimodalPretrainingConfig", booted.stderr[-2000:]
    assert str(BOOT) in Slurm({}).params["setup"][0]


def test_a_forked_command_is_the_process_a_subprocess_would_be(tmp_path):
    """forked.run: the command's argv, working folder, environment (the server's is not leaked),
    log (stdout and stderr, appended) and exit status; what it cannot fork it declines (None)."""
    from d2v_ext.study import forked

    script = tmp_path / "probe.py"
    script.write_text("import os, sys\nprint('argv', sys.argv[1:])\nprint('cwd', os.getcwd())\n"
                      "print('env', os.environ.get('PROBE'), os.environ.get('HOME_SENTINEL'))\n"
                      "import multiprocessing as mp\nprint('start', mp.get_start_method())\n"
                      "print('err', file=sys.stderr)\nsys.exit(3)\n")
    work, log = tmp_path / "work", tmp_path / "work" / "log.txt"
    work.mkdir()
    log.write_text("# before\n")
    os.environ["HOME_SENTINEL"] = "leaked"
    try:
        rc = forked.run([sys.executable, script, "a b", "--x"], work, log, {"PROBE": "1", "PATH": os.environ["PATH"]})
    finally:
        del os.environ["HOME_SENTINEL"]
    text = log.read_text()
    assert rc == 3, text
    assert text.startswith("# before\n")
    assert "argv ['a b', '--x']" in text and f"cwd {work}" in text and "env 1 None" in text and "err" in text
    fresh = subprocess.run([sys.executable, "-c", "import multiprocessing as m; print(m.get_start_method())"],
                           capture_output=True, text=True).stdout.strip()
    assert f"start {fresh}" in text  # a fresh interpreter's default, not the server's
    assert forked.run(["bash", "-c", "true"], work, log, {}) is None


@pytest.mark.e2e
def test_the_basic_launcher_two_at_a_time_without_the_fork_server_gives_the_same_numbers(local, tmp_path):
    """hydra's basic launcher, two units at a time, every command a plain subprocess: the numbers of
    the one-at-a-time, forked local run; a unit two others need is computed once."""
    _, ref, _ = local
    out, report, log = run_study(tmp_path, "out", "--launcher", "basic", "--jobs", "2",
                                 env={"D2V_EXT_NO_FORKSERVER": "1"})
    assert values(report) == values(ref)
    assert "(basic launcher, 2 at a time)" in log
    assert log.count("text/pretrain/data2vec-s1: ") == 1  # needed by both tasks, computed once
    console = (out / "text" / "sst2_few" / "random-s1" / "console.log").read_text()
    assert " -m " in console and "hydra/launcher=basic" in console
    assert (out / "text" / "sst2_few" / "random-s1" / "multirun.yaml").is_file()


@pytest.mark.e2e
def test_slurm_jobs_carry_the_specs_and_give_the_same_numbers(local, tmp_path):
    """Every training unit is one SLURM job from hydra's submitit launcher, every script one submitit
    job, each with the --slurm values as #SBATCH lines; the numbers equal the local run's."""
    _, ref, _ = local
    fake = tmp_path / "slurm-state"
    env = {"PATH": f"{FAKE_SLURM}{os.pathsep}{os.environ['PATH']}", "FAKE_SLURM_DIR": str(fake)}
    out, report, log = run_study(tmp_path, "out", "--launcher", "slurm", *SLURM, env=env)
    assert values(report) == values(ref)
    specs = sorted(fake.glob("*.sbatch"))
    # training: pretraining, SST-2, SQuAD; scripts: corpus, SST-2 data, eval_qa
    assert len(specs) == 6, [s.name for s in specs]
    hydra_jobs = 0
    for s in specs:
        text = s.read_text()
        for line in ("#SBATCH --partition=dev", "#SBATCH --time=30", "#SBATCH --cpus-per-task=1",
                     "#SBATCH --mem=4GB", "#SBATCH --mail-type=END", "export FAKE_SETUP=ran here"):
            assert line in text, (s, text)
        assert re.search(r"srun .* -u -m submitit\.core\._submit ", text), text
        hydra_jobs += "#SBATCH --job-name=hydra_train" in text  # hydra's launcher names a job by hydra's
    assert hydra_jobs == 3                                         # job name; the scripts by their unit
    for unit in ("pretrain/data2vec-s1", "sst2_few/random-s1", "squad_xquad/random-s1"):
        folder = out / "text" / unit
        assert list((folder / "slurm").glob("*/*_0_result.pkl")), folder
        assert (folder / "hydra_train.log").is_file() and (folder / "ckpt" / "checkpoint_last.pt").is_file()
    eval_log = (out / "text" / "squad_xquad" / "random-s1" / "eval.log").read_text()
    assert re.search(r"# SLURM job \d+", eval_log)
    assert all(s.read_text().strip() == "COMPLETED" for s in fake.glob("*.state"))
