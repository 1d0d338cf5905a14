"""The study's vision units on an ImageFolder tree: pretraining per method -> fine-tuning top-1,
k-NN and linear probe (mean pooling) of the frozen backbone.

Per method (pretraining recipe, fine-tuning recipe, extra fine-tuning overrides). The supervised ViT
is imagenet_v2 from random init (data2vec 2.0's architecture); its frozen features are its fine-tuned
ones. The untrained row is the frozen-feature floor: an untrained copy of data2vec 2.0's architecture.
"""
import json
from pathlib import Path

from ..launch import FINETUNE_CONFIGS, PRETRAIN_CONFIGS, hydra_train_command, tiny_override
from .text import train_log_curve
from .units import once, run_command, script

METHODS = {
    "data2vec": ("vision_v1", "imagenet_v1", ()),
    "data2vec2": ("image_v2", "imagenet_v2", ()),
    "mae": ("mae", "imagenet_mae", ()),
    "dino": ("image_dino_dino", "imagenet_v1", ()),
    "supervised": (None, "imagenet_v2", ("model.no_pretrained_weights=true",)),
    "untrained": (None, None, ()),
}
TINY_FINETUNE = {"imagenet_v1": "imagenet_v1", "imagenet_v2": "imagenet_v2", "imagenet_mae": "imagenet_v2"}


class Vision:
    def __init__(self, spec, out: Path, progress):
        self.spec, self.b, self.out, self.progress = spec, spec.budget, out / "vision", progress
        self.data = str(Path(spec.vision.source).resolve())
        self.tiny = self.b["tiny_recipes"]

    def pretrain(self, recipe, seed):
        seed = self.spec.vision.pretrain_seed(seed)
        unit = self.out / "pretrain" / f"{recipe}-s{seed}"

        def make():
            ov = [tiny_override(recipe)] if self.tiny else []
            ov += [f"task.data={self.data}", f"common.seed={seed}"]
            if self.b["vision_pretrain_updates"]:
                ov.append(f"optimization.max_update={self.b['vision_pretrain_updates']}")
            run_command(hydra_train_command(PRETRAIN_CONFIGS, recipe, *ov, run_dir=unit, save_dir=unit / "ckpt"), unit)
            return {"checkpoint": str(unit / "ckpt" / "checkpoint_last.pt"), "recipe": recipe,
                    "loss_curve": train_log_curve(unit)}
        return once(unit, make, self.progress)

    def untrained(self, seed):
        unit = self.out / "pretrain" / f"untrained-s{seed}"

        def make():
            base = self.pretrain("image_v2", seed)["checkpoint"]   # only its config is used
            script("untrained_checkpoint.py", base, "--out", unit / "untrained.pt", "--seed", seed,
                   unit=unit, log_name="console.log")
            return {"checkpoint": str(unit / "untrained.pt")}
        return once(unit, make, self.progress)

    def finetuned(self, method, seed):
        """The fine-tuned classifier and its top-1 on val (eval_image.py)."""
        pre, ft, extra = METHODS[method]
        unit = self.out / "cifar_finetune" / f"{method}-s{seed}"

        def make():
            backbone = self.pretrain(pre, seed)["checkpoint"] if pre else self.untrained(seed)["checkpoint"]
            ov = [f"+tiny={TINY_FINETUNE[ft]}"] if self.tiny else []
            ov += [f"task.data={self.data}", f"model.model_path={backbone}", f"common.seed={seed}", *extra]
            if self.b["vision_finetune_updates"]:
                ov.append(f"optimization.max_update={self.b['vision_finetune_updates']}")
            run_command(hydra_train_command(FINETUNE_CONFIGS, ft, *ov, run_dir=unit, save_dir=unit / "ckpt"), unit)
            ckpt = unit / "ckpt" / "checkpoint_last.pt"
            script("eval_image.py", ckpt, "--out", unit / "eval.json", unit=unit, log_name="eval.log")
            return {"metric": "top1", "value": json.loads((unit / "eval.json").read_text())["top1"],
                    "checkpoint": str(ckpt)}
        return once(unit, make, self.progress, leaf=True)

    def frozen(self, task, method, seed):
        """k-NN or linear-probe top-1 of the frozen backbone (mean pooling)."""
        unit = self.out / task / f"{method}-s{seed}"

        def make():
            pre = METHODS[method][0]
            if pre:
                backbone = self.pretrain(pre, seed)["checkpoint"]
            elif method == "supervised":
                backbone = self.finetuned(method, seed)["checkpoint"]
            else:
                backbone = self.untrained(seed)["checkpoint"]
            name = "knn_eval.py" if task == "cifar_knn" else "linear_probe.py"
            script(name, backbone, "--data", self.data, "--pool", "mean", "--out", unit / "eval.json",
                   unit=unit, log_name="eval.log")
            return {"metric": "top1", "value": json.loads((unit / "eval.json").read_text())["top1"]}
        return once(unit, make, self.progress, leaf=True)

    def leaves(self):
        v = self.spec.vision
        return sum(len(v.methods) - (t == "cifar_finetune" and "untrained" in v.methods) for t in v.tasks) * len(self.spec.seeds)

    def run(self):
        v, res = self.spec.vision, {}
        classes = sorted(p.name for p in (Path(self.data) / "val").iterdir() if p.is_dir())
        for method in v.methods:
            if METHODS[method][0]:
                for seed in dict.fromkeys(map(v.pretrain_seed, self.spec.seeds)):
                    self.pretrain(METHODS[method][0], seed)
        for task in v.tasks:
            for method in v.methods:
                if task == "cifar_finetune" and not METHODS[method][1]:
                    continue  # the untrained backbone is a frozen-feature floor only
                for seed in self.spec.seeds:
                    r = self.finetuned(method, seed) if task == "cifar_finetune" else self.frozen(task, method, seed)
                    res.setdefault(task, {}).setdefault(method, {})[seed] = r
        floors = {t: ("chance", 100.0 / len(classes)) for t in v.tasks}
        pre = {m: self.pretrain(METHODS[m][0], v.pretrain_seeds[0])["loss_curve"] for m in v.methods if METHODS[m][0]}
        return {"tasks": res, "floors": floors, "pretraining": pre}
