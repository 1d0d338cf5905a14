"""Distributed training on CPU (gloo), through fairseq-hydra-train with the plugin, on real data:
2 processes x batch B against 1 process x batch B with optimization.update_freq=[2] (the same 2B
examples per update, in the same order: fairseq gives rank r the batches r, r+2, ... of the epoch's
batch list, and update_freq=2 takes them in consecutive pairs). After N updates the student, the EMA
teacher, DINO's center and teacher head, the optimizer state and every logged value are equal,
and every rank holds the same teacher at every update (D2V_EXT_TEACHER_SYNC_CHECK=1). A 2-process
run stopped midway and resumed with 2 processes ends where the uninterrupted one does."""
import pytest

from d2v_ext.checkpoint.compare import checkpoint_differences
from d2v_ext.launch import pinned_schedule, tiny_override
from helpers import FINETUNE_CONFIGS, PRETRAIN_CONFIGS, hydra_train, json_records, require_data, run_script, squad_overrides

pytestmark = pytest.mark.e2e
N = 6
TIMING_KEYS = {"wall", "ups", "wps", "train_wall", "gb_free", "cuda_gb_free"}
# Upstream's compute_var all-reduces: under DDP these monitors are the std over the whole batch, with
# accumulation the mean of the two micro-batches' stds. They describe the batch; they do not train anything.
POOLED_MONITORS = {"target_var", "pred_var", "dino_target_var"}
TWO_PROCESSES = ("distributed_training.distributed_world_size=2", "common.cpu=true")
ACCUMULATE = ("optimization.update_freq=[2]",)
# Upstream v1 vision builds final_proj and never uses it. fairseq's legacy_ddp zero-fills the gradient of a
# parameter that got none, so under DDP Adam creates state for it and its weight decay shrinks it (by
# lr x wd x w per update); in one process its gradient stays None and Adam skips it. Nothing uses it.
UNUSED = {"vision_v1": ("final_proj.",), "image_dino_both": ("final_proj.",)}
# data2vec_dino runs the student encoder twice per forward (global crops, then local crops). Autograd adds
# each use's gradient into .grad as it comes, so one process accumulating two micro-batches sums four terms
# as ((g0a + g0b) + g1a) + g1b, while DDP all-reduces (g0a + g0b) + (g1a + g1b): float addition is not
# associative, so the two differ in the last bit of some weights (measured 1.2e-7 after 6 updates).
TOLERANCE = {"image_dino_both": 1e-6}
PRETRAINING = {"text_v1": (), "text_v2": (), "vision_v1": (), "image_v2": (), "image_dino_both": (),
               "text_dino": ("model.target=dino",)}  # target=dino: the frozen regression head gets no gradient


@pytest.fixture(scope="module")
def text_data(tmp_path_factory):
    out = tmp_path_factory.mktemp("ddp_text") / "bin"
    rc, log = run_script("prepare_text.py", "--workers", "1", "--quiet")(require_data("text", "botchan.txt"), "--out", out)
    assert rc == 0, log
    return out


def pretraining_args(recipe, text_data, total=N):
    data = text_data if recipe.startswith("text") else require_data("images", "cifar10")
    return (PRETRAIN_CONFIGS, recipe, tiny_override(recipe), f"task.data={data}", "common.log_interval=1",
            "dataset.validate_interval_updates=0", *pinned_schedule(recipe, total, 2), *PRETRAINING[recipe])


def train(config_dir, name, run_dir, *overrides, processes=1):
    env = {"D2V_EXT_TEACHER_SYNC_CHECK": "1"} if processes == 2 else {}
    rc, log = hydra_train(config_dir, name, run_dir, *overrides, *(TWO_PROCESSES if processes == 2 else ACCUMULATE),
                          env=env)
    assert rc == 0, log[-3000:]
    return log


def assert_same_run(log_a, log_b, ckpt_a, ckpt_b, n=N, teacher=True, pooled_monitors_differ=True, unused=(), tol=0.0,
                    optimizer_state=True):
    recs_a, recs_b = json_records(log_a), json_records(log_b)
    assert [r["num_updates"] for r in recs_a] == [r["num_updates"] for r in recs_b] == [float(u) for u in range(1, n + 1)]
    skip = TIMING_KEYS | (POOLED_MONITORS if pooled_monitors_differ else set())
    for a, b in zip(recs_a, recs_b):
        a, b = ({k: v for k, v in r.items() if k not in skip} for r in (a, b))
        assert a.keys() == b.keys()
        for k in a:  # logged values are rounded to 3 significant digits: a last-bit difference can flip one
            assert a[k] == b[k] or (tol and abs(a[k] - b[k]) <= 1e-3 * max(abs(a[k]), 1.0)), (k, a[k], b[k])
    diffs = checkpoint_differences(ckpt_a, ckpt_b)
    assert any(k.startswith("last_optimizer_state.") for k in diffs) == optimizer_state
    assert any("_ema" in k for k in diffs) == teacher
    if unused:
        unused_keys = [k for k in diffs if k.startswith(tuple(f"model.{u}" for u in unused))]
        missing_state = [k for k, v in diffs.items() if k.startswith("last_optimizer_state.") and v == float("inf")]
        assert unused_keys and all(diffs[k] < 1e-4 for k in unused_keys), {k: diffs[k] for k in unused_keys}
        assert len(missing_state) == 2 * len(unused_keys)  # exp_avg and exp_avg_sq of each unused tensor
        diffs = {k: v for k, v in diffs.items() if k not in unused_keys and k not in missing_state}
    worst = max(diffs.values())
    print(f"\nmax |2 processes - accumulated| over {len(diffs)} tensors: {worst:g}")
    assert worst <= tol, sorted(diffs.items(), key=lambda kv: -kv[1])[:5]
    return diffs


def teacher_sync_lines(log):
    return [line for line in log.splitlines() if "d2v_ext teacher sync @ update" in line]


@pytest.mark.parametrize("recipe", list(PRETRAINING))
def test_two_processes_equal_gradient_accumulation(recipe, text_data, tmp_path):
    cdir, name, *overrides = pretraining_args(recipe, text_data)
    overrides.append(f"optimization.max_update={N}")
    log2 = train(cdir, name, tmp_path / "ddp", *overrides, processes=2)
    assert "CPU distributed training: 2 processes, gloo" in log2
    log1 = train(cdir, name, tmp_path / "acc", *overrides)
    diffs = assert_same_run(log2, log1, tmp_path / "ddp" / "ckpt" / "checkpoint_last.pt",
                            tmp_path / "acc" / "ckpt" / "checkpoint_last.pt", unused=UNUSED.get(recipe, ()),
                            tol=TOLERANCE.get(recipe, 0.0))
    if recipe.startswith(("image_dino", "text_dino")):
        assert "model.dino.loss.center" in diffs and any("dino.teacher_head" in k for k in diffs)
    sync = teacher_sync_lines(log2)
    assert [int(line.split("@ update ")[1].split(":")[0]) for line in sync] == list(range(1, N + 1))
    assert all("2 ranks" in line for line in sync)


def test_glue_fine_tuning_two_processes(tiny_pretrained, tmp_path):
    ckpt, dictionary = tiny_pretrained
    sst = tmp_path / "sst_2"
    rc, log = run_script("prepare_glue.py", "--workers", "1")("--task", "sst_2", "--input", require_data("glue", "SST-2"),
                                                               "--dict", dictionary, "--out", sst, "--max-train", "600")
    assert rc == 0, log
    overrides = ("+tiny=glue", f"task.data={sst}", f"checkpoint.restore_file={ckpt}", f"optimization.max_update={N}",
                 "common.log_interval=1", "dataset.batch_size=16", "dataset.validate_interval_updates=0")
    log2 = train(FINETUNE_CONFIGS, "sst_2", tmp_path / "ddp", *overrides, processes=2)
    log1 = train(FINETUNE_CONFIGS, "sst_2", tmp_path / "acc", *overrides)
    assert f"Loaded checkpoint {ckpt}" in log2  # rank 0 read it, the other rank got it by broadcast_object
    assert_same_run(log2, log1, tmp_path / "ddp" / "ckpt" / "checkpoint_last.pt",
                    tmp_path / "acc" / "ckpt" / "checkpoint_last.pt", teacher=False,
                    optimizer_state=False)  # +tiny=glue saves no optimizer state


def test_squad_fine_tuning_two_processes(tiny_pretrained, tmp_path):
    ckpt, dictionary = tiny_pretrained
    overrides = (*squad_overrides(dictionary, ckpt, "task.max_train_examples=400", f"optimization.max_update={N}",
                                  "common.log_interval=1", "dataset.batch_size=16", "dataset.validate_interval_updates=0"),)
    log2 = train(FINETUNE_CONFIGS, "squad", tmp_path / "ddp", *overrides, processes=2)
    log1 = train(FINETUNE_CONFIGS, "squad", tmp_path / "acc", *overrides)
    assert_same_run(log2, log1, tmp_path / "ddp" / "ckpt" / "checkpoint_last.pt",
                    tmp_path / "acc" / "ckpt" / "checkpoint_last.pt", teacher=False)


@pytest.mark.parametrize("recipe", ["text_v1", "image_dino_both"])
def test_resume_under_two_processes(recipe, text_data, tmp_path):
    cdir, name, *overrides = pretraining_args(recipe, text_data)
    whole = train(cdir, name, tmp_path / "whole", *overrides, f"optimization.max_update={N}", processes=2)
    first = train(cdir, name, tmp_path / "split", *overrides, f"optimization.max_update={N // 2}", processes=2)
    second = train(cdir, name, tmp_path / "split", *overrides, f"optimization.max_update={N}",
                   f"hydra.run.dir={tmp_path / 'resumed'}", processes=2)
    assert f"@ {N // 2} updates" in second.split("begin training")[0]  # resumed, under 2 processes
    assert_same_run(whole, first + second, tmp_path / "whole" / "ckpt" / "checkpoint_last.pt",
                    tmp_path / "split" / "ckpt" / "checkpoint_last.pt", pooled_monitors_differ=False)  # exact


def torchrun(run_dir, *overrides, env=None):
    """fairseq-hydra-train under torchrun (2 processes on this machine): (returncode, output)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from d2v_ext.compat.cpu_distributed import free_port
    from d2v_ext.launch import hydra_train_command

    cmd = [str(Path(sys.executable).parent / "torchrun"), "--nproc_per_node", "2", "--master_port", str(free_port()),
           *hydra_train_command(PRETRAIN_CONFIGS, *overrides, run_dir=run_dir, save_dir=run_dir / "ckpt")]
    p = subprocess.run(cmd, capture_output=True, text=True, timeout=600,
                       env=dict(os.environ, OMP_NUM_THREADS="1", PYTHONUNBUFFERED="1", **(env or {})))
    return p.returncode, p.stdout + p.stderr


def test_torchrun_equals_fairseqs_own_spawn(text_data, tmp_path):
    _, name, *overrides = pretraining_args("text_v1", text_data)
    overrides.append("optimization.max_update=3")
    rc, log = torchrun(tmp_path / "torchrun", name, *overrides)
    assert rc == 0 and "2 processes, gloo, legacy_ddp, torchrun (env://)" in log, log[-3000:]
    spawn = train(PRETRAIN_CONFIGS, name, tmp_path / "spawn", *overrides, processes=2)
    assert_same_run(log, spawn, tmp_path / "torchrun" / "ckpt" / "checkpoint_last.pt",
                    tmp_path / "spawn" / "ckpt" / "checkpoint_last.pt", n=3, pooled_monitors_differ=False)


def test_without_the_cpu_fix_fairseq_needs_cuda(text_data, tmp_path):
    _, name, *overrides = pretraining_args("text_v1", text_data)
    skip = {"D2V_EXT_COMPAT_SKIP": "cpu_distributed_start"}
    rc, log = hydra_train(PRETRAIN_CONFIGS, name, tmp_path / "spawn", *overrides, "optimization.max_update=2",
                          *TWO_PROCESSES, env=skip)
    assert rc != 0 and "world size is 2 but have 0 available devices" in log, log[-2000:]
    # (and without distributed_world_size=2 fairseq ignores torchrun's WORLD_SIZE: each process trains alone)
    rc, log = torchrun(tmp_path / "torchrun", name, *overrides, "optimization.max_update=2",
                       "distributed_training.distributed_world_size=2", env=skip)
    assert rc != 0 and "ZeroDivisionError" in log, log[-2000:]


def test_without_per_micro_batch_seeds_dropout_depends_on_the_split(text_data, tmp_path):
    # text_v2's tiny recipe keeps upstream's dropout 0.1: fairseq's one seed per update gives both ranks the
    # same masks, accumulation draws fresh ones for its second micro-batch
    cdir, name, *overrides = pretraining_args("text_v2", text_data)
    overrides.append("optimization.max_update=2")
    skip = {"D2V_EXT_COMPAT_SKIP": "rng_seeded_per_micro_batch"}
    rc, log2 = hydra_train(cdir, name, tmp_path / "ddp", *overrides, *TWO_PROCESSES, env=skip)
    assert rc == 0, log2[-3000:]
    rc, log1 = hydra_train(cdir, name, tmp_path / "acc", *overrides, *ACCUMULATE, env=skip)
    assert rc == 0, log1[-3000:]
    diffs = checkpoint_differences(tmp_path / "ddp" / "ckpt" / "checkpoint_last.pt",
                                   tmp_path / "acc" / "ckpt" / "checkpoint_last.pt")
    assert max(diffs.values()) > 1e-6
