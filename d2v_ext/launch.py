"""The one builder of ``fairseq-hydra-train`` command lines with the plugin (demo, sweeps, tests)."""
import sys
from pathlib import Path

from .paths import PROJECT_ROOT

PLUGIN_DIR = PROJECT_ROOT / "d2v_ext"
PRETRAIN_CONFIGS = PROJECT_ROOT / "config" / "pretraining"
FINETUNE_CONFIGS = PROJECT_ROOT / "config" / "finetuning"


def hydra_train_command(config_dir, config_name, *overrides, run_dir=None, save_dir=None, multirun=False):
    """argv for ``fairseq-hydra-train`` (the one beside this interpreter) with ``common.user_dir`` set.

    ``run_dir`` sets ``hydra.run.dir``; ``save_dir`` sets ``checkpoint.save_dir``;
    ``multirun`` adds ``-m`` (a hydra sweep; comma-separated overrides become the grid)."""
    cmd = [str(Path(sys.executable).parent / "fairseq-hydra-train")] + (["-m"] if multirun else [])
    cmd += ["--config-dir", str(config_dir), "--config-name", config_name, f"common.user_dir={PLUGIN_DIR}"]
    if run_dir is not None:
        cmd.append(f"hydra.run.dir={run_dir}")
    if save_dir is not None:
        cmd.append(f"checkpoint.save_dir={save_dir}")
    return cmd + [str(o) for o in overrides]


# The tiny CPU version of each pretraining recipe: config/pretraining/tiny/<name>.yaml, used as +tiny=<name>.
TINY = {"text_v1": "text_v1", "text_v2": "text_v2", "vision_v1": "vision_v1", "image_v2": "image_v2",
        "image_dino_data2vec": "image_dino", "image_dino_dino": "image_dino", "image_dino_both": "image_dino",
        "text_dino": "text_dino", "mae": "mae", "text_mlm": "text_mlm"}


def tiny_override(recipe):
    """``+tiny=<name>`` for a pretraining recipe of config/pretraining."""
    return f"+tiny={TINY[recipe]}"


COMPOSITE_OPTIMIZER = ("text_v2", "image_v2")  # data2vec 2.0 recipes: per-group lr schedulers
DINO = ("image_dino_data2vec", "image_dino_dino", "image_dino_both", "text_dino")


def pinned_schedule(recipe, total, warmup):
    """Overrides that fix every schedule of ``recipe`` to ``total`` updates, whatever
    ``optimization.max_update`` is: cosine lr with ``warmup`` warm-up updates, the EMA anneal, and
    (DINO) a teacher-temperature warm-up over 3/4 of ``total``. A run stopped early and resumed then
    follows the same schedules as one that runs to ``total`` at once."""
    group = "optimizer.groups.default.lr_scheduler" if recipe in COMPOSITE_OPTIMIZER else "lr_scheduler"
    out = [f"{group}.warmup_updates={warmup}", f"++{group}.lr_period_updates={total}",
           f"++model.ema_anneal_end_step={total}"]
    if recipe in DINO:
        out += ["model.dino_warmup_teacher_temp=0.03", "model.dino_teacher_temp=0.04",
                f"model.dino_warmup_teacher_temp_updates={3 * total // 4}"]
    return out
