"""Fix: upstream's image fine-tuning tasks fail on a malformed ImageFolder tree with a bare
``AssertionError`` (train/ and val/ with different class folders: ``image_classification``) or not
at all until the labels silently disagree (``mae_image_classification`` never compares them), and
an empty class folder shifts every later label. ``load_dataset`` now compares the split's class
folders with train/'s and refuses empty ones first, with a message naming the folders
(scripts/prepare_imagenet.py checks the images themselves, before training)."""
import os
from pathlib import Path

from ..errors import DataError, MissingInputError
from .signature import install_wrapper

TASKS = ("fairseq.examples.data2vec.tasks.image_classification.ImageClassificationTask",
         "fairseq.examples.data2vec.tasks.mae_image_classification.MaeImageClassificationTask")


def class_folders(folder):
    """Sorted class folder names of one split; an empty one is an error."""
    if not folder.is_dir():
        raise MissingInputError(f"{folder}: split folder not found (expected <task.data>/<split>/<class>/<images>)")
    names = sorted(e.name for e in os.scandir(folder) if e.is_dir())
    for name in names:
        with os.scandir(folder / name) as it:
            if next(it, None) is None:
                raise DataError(f"{folder / name}: empty class folder; remove it or add its images "
                                "(every later class would get the wrong label)")
    return names


def check_split(root, split):
    """``root/split`` has the same class folders as ``root/train``."""
    root = Path(root)
    this = class_folders(root / split)
    if split != "train" and (root / "train").is_dir():
        train = class_folders(root / "train")
        if this != train:
            only = lambda a, b: ", ".join(sorted(set(a) - set(b))[:5]) or "none"  # noqa: E731
            raise DataError(f"{root}: {split}/ and train/ have different class folders (only in train: "
                            f"{only(train, this)}; only in {split}: {only(this, train)}); expected the same classes")


def image_tasks_check_their_tree():
    """image_classification and mae_image_classification check the split's class folders first."""
    import importlib

    for path in TASKS:
        module, name = path.rsplit(".", 1)
        task = getattr(importlib.import_module(module), name)

        def wrap(original, v1=name == "ImageClassificationTask"):
            def load_dataset(self, split, task_cfg=None, **kwargs):
                root = Path(self.cfg.data)
                if not v1 or (root / split).exists():  # v1 falls back to task.data itself without the split
                    check_split(root, split)
                return original(self, split, task_cfg, **kwargs)

            return load_dataset

        install_wrapper(task, "load_dataset", "self, split, task_cfg=None, **kwargs", wrap, "tree_checked")
