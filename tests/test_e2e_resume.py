"""Exact resume, for every pretraining recipe (tiny, through fairseq-hydra-train, real data):
16 updates in one run against 8 updates, stop, resume, 8 more. The split falls in the middle of
every schedule (cosine lr after a 4-update warm-up, the EMA anneal over all 16 updates, DINO's
teacher-temperature warm-up over 12). On CPU the final student, EMA teacher, DINO center and
teacher head and the optimizer state must be bit-identical, and every logged value (loss, lr,
ema_decay, teacher_temp, the monitors) equal at every update."""

import pytest

from d2v_ext.checkpoint.compare import checkpoint_differences
from d2v_ext.launch import pinned_schedule, tiny_override
from helpers import PRETRAIN_CONFIGS, hydra_train, json_records, prepare_botchan, require_data

pytestmark = pytest.mark.e2e
TOTAL, SPLIT = 16, 8
RECIPES = {"text_v1": "text", "text_v2": "text", "vision_v1": "images", "image_v2": "images",
           "image_dino_data2vec": "images", "image_dino_dino": "images", "image_dino_both": "images",
           "text_dino": "text"}
WITH_DINO = {"image_dino_dino", "image_dino_both", "text_dino"}  # a DINO head, center and teacher temperature
TIMING_KEYS = {"wall", "ups", "wps", "train_wall", "gb_free", "cuda_gb_free", "wpb", "bsz"}


@pytest.fixture(scope="module")
def text_data(tmp_path_factory):
    return prepare_botchan(tmp_path_factory.mktemp("resume_text") / "bin")


def train(recipe, data, run_dir, max_update, hydra_dir=None):
    overrides = [tiny_override(recipe), f"task.data={data}", "common.log_interval=1", "dataset.validate_interval_updates=0",
                 f"checkpoint.save_interval_updates={SPLIT}", *pinned_schedule(recipe, TOTAL, 4),
                 f"optimization.max_update={max_update}"]
    if hydra_dir:
        overrides.append(f"hydra.run.dir={hydra_dir}")
    rc, log = hydra_train(PRETRAIN_CONFIGS, recipe, run_dir, *overrides)
    assert rc == 0, log[-3000:]
    return json_records(log)


@pytest.mark.parametrize("recipe", list(RECIPES))
def test_split_run_equals_one_run(recipe, text_data, tmp_path):
    data = text_data if RECIPES[recipe] == "text" else require_data("images", "cifar10")
    whole = train(recipe, data, tmp_path / "whole", TOTAL)
    first = train(recipe, data, tmp_path / "split", SPLIT)
    second = train(recipe, data, tmp_path / "split", TOTAL, hydra_dir=tmp_path / "resumed")
    assert [r["num_updates"] for r in first + second] == [float(u) for u in range(1, TOTAL + 1)]
    for i, (a, b) in enumerate(zip(whole, first + second), 1):
        keys = {k for k in a if k not in TIMING_KEYS}
        assert keys == {k for k in b if k not in TIMING_KEYS}, i
        assert {k: a[k] for k in keys} == {k: b[k] for k in keys}, f"update {i}"
    logged = set(whole[0])
    assert "ema_decay" in logged and ("teacher_temp" in logged) == (recipe in WITH_DINO)
    diffs = checkpoint_differences(tmp_path / "whole" / "ckpt" / "checkpoint_last.pt",
                                   tmp_path / "split" / "ckpt" / "checkpoint_last.pt")
    teacher = [k for k in diffs if "_ema" in k]
    assert teacher and any(k.startswith("last_optimizer_state.") for k in diffs)
    if recipe in WITH_DINO:
        assert "model.dino.loss.center" in diffs and any("dino.teacher_head" in k for k in diffs)
    assert max(diffs.values()) == 0.0, sorted(diffs.items(), key=lambda kv: -kv[1])[:5]


def test_restarting_a_finished_run_changes_nothing(text_data, tmp_path):
    from d2v_ext.checkpoint import load_state

    overrides = [tiny_override("text_v1"), f"task.data={text_data}", "optimization.max_update=4"]
    rc, log = hydra_train(PRETRAIN_CONFIGS, "text_v1", tmp_path / "run", *overrides)
    assert rc == 0, log[-3000:]
    ckpt = tmp_path / "run" / "ckpt" / "checkpoint_last.pt"
    done = ckpt.read_bytes()
    rc, log = hydra_train(PRETRAIN_CONFIGS, "text_v1", tmp_path / "run", *overrides, f"hydra.run.dir={tmp_path / 'again'}")
    assert rc == 0 and "at update 4 >= max_update 4: nothing to train" in log and ckpt.read_bytes() == done
    rc, log = hydra_train(PRETRAIN_CONFIGS, "text_v1", tmp_path / "run", *overrides, f"hydra.run.dir={tmp_path / 'old'}",
                          env={"D2V_EXT_COMPAT_SKIP": "finished_run_trains_no_further"})
    assert rc == 0 and load_state(ckpt)["optimizer_history"][-1]["num_updates"] == 5  # fairseq: one update more
