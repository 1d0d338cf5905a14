"""Fix: ``task.data`` pointing at the wrong folder fails deep inside fairseq with a traceback.

``masked_lm`` and ``sentence_prediction`` read ``dict.txt`` files under ``task.data`` with
``Dictionary.load``, which raises a bare ``FileNotFoundError`` from fairseq's internals; the image
tasks fail later, when a dataset is first read. ``tasks.setup_task`` now checks the folder first and
names the key, the path and what the folder should hold.
"""
import os

from ..errors import MissingInputError
from .signature import install_wrapper

TEXT = "the output folder of scripts/prepare_text.py (dict.txt, train.bin/.idx, valid.bin/.idx)"
GLUE = "the output folder of scripts/prepare_glue.py (input0/, input1/ for pairs, label/)"
IMAGE_TASKS = ("image_pretraining", "image_classification", "mae_image_pretraining", "mae_image_classification")


def missing_task_files(cfg):
    """A sentence saying what ``cfg.data`` lacks for ``cfg._name``, or None when it looks right."""
    name, data = cfg.get("_name"), cfg.get("data")
    if not data or not isinstance(data, str) or name not in ("masked_lm", "sentence_prediction", *IMAGE_TASKS):
        return None
    first = data.split(os.pathsep)[0]
    if not os.path.isdir(first):
        return f"task.data={data}: folder not found"
    need = {"masked_lm": ["dict.txt"],
            "sentence_prediction": ["input0/dict.txt"] + ([] if cfg.get("regression_target") else ["label/dict.txt"])}
    missing = [f for f in need.get(name, []) if not os.path.isfile(os.path.join(first, f))]
    if missing:
        return f"task.data={data}: no {', '.join(missing)} in {first}"
    return None


def task_data_checked():
    """Check ``task.data`` of fairseq's text and upstream's image tasks before the task is built."""
    import fairseq.tasks as tasks

    def wrap(original):
        def setup_task(cfg, **kwargs):
            problem = missing_task_files(cfg) if hasattr(cfg, "get") else None
            if problem:
                expected = {"masked_lm": TEXT, "sentence_prediction": GLUE}.get(
                    cfg.get("_name"), "an ImageFolder root (class folders, or train/ and val/ holding them)")
                raise MissingInputError(f"{problem}; expected {expected}")
            return original(cfg, **kwargs)

        return setup_task

    install_wrapper(tasks, "setup_task", "cfg, **kwargs", wrap, "task_data")
