"""The study's vision units on an ImageFolder tree: pretraining per method -> fine-tuning top-1,
k-NN and linear probe (mean pooling) of the frozen backbone.

Per method (pretraining recipe, fine-tuning recipe, extra fine-tuning overrides). The supervised ViT
is imagenet_v2 from random init (data2vec 2.0's architecture); its frozen features are its fine-tuned
ones. The untrained row is the frozen-feature floor: an untrained copy of data2vec 2.0's architecture.
"""
import json
from pathlib import Path

from ..launch import FINETUNE_CONFIGS, PRETRAIN_CONFIGS, tiny_override
from .text import train_log_curve

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
    def __init__(self, spec, out: Path, runner):
        self.spec, self.b, self.out, self.runner = spec, spec.budget, out / "vision", runner
        self.data = str(Path(spec.vision.source).resolve())
        self.tiny = self.b["tiny_recipes"]

    def pretrain(self, recipe, seed):
        """The recipe's pretraining run (or its method's ``vision.checkpoints`` entry: nothing to run)."""
        method = next(m for m, r in METHODS.items() if r[0] == recipe)
        if method in self.spec.vision.checkpoints:
            return {"checkpoint": str(self.spec.vision.checkpoints[method]), "recipe": recipe, "loss_curve": [],
                    "given": True}
        seed = self.spec.vision.pretrain_seed(seed)
        unit = self.out / "pretrain" / f"{recipe}-s{seed}"

        def make():
            ov = [tiny_override(recipe)] if self.tiny else []
            ov += [f"task.data={self.data}", f"common.seed={seed}"]
            if self.b["vision_pretrain_updates"]:
                ov.append(f"optimization.max_update={self.b['vision_pretrain_updates']}")
            self.runner.train(PRETRAIN_CONFIGS, recipe, *ov, unit=unit)
            return {"checkpoint": str(unit / "ckpt" / "checkpoint_last.pt"), "recipe": recipe,
                    "loss_curve": train_log_curve(unit)}
        return self.runner.once(unit, make)

    def untrained(self, seed):
        unit = self.out / "pretrain" / f"untrained-s{seed}"

        def make():
            base = self.pretrain("image_v2", seed)["checkpoint"]   # only its config is used
            self.runner.script("untrained_checkpoint.py", base, "--out", unit / "untrained.pt", "--seed", seed,
                   unit=unit, log_name="console.log")
            return {"checkpoint": str(unit / "untrained.pt")}
        return self.runner.once(unit, make)

    def finetuned(self, method, seed, leaf=True):
        """The fine-tuned classifier and its top-1 on val (eval_image.py); ``leaf=False`` when it is
        only the backbone of a frozen-feature evaluation (the supervised ViT's)."""
        pre, ft, extra = METHODS[method]
        unit = self.out / "cifar_finetune" / f"{method}-s{seed}"

        def make():
            backbone = self.pretrain(pre, seed)["checkpoint"] if pre else self.untrained(seed)["checkpoint"]
            ov = [f"+tiny={TINY_FINETUNE[ft]}"] if self.tiny else []
            ov += [f"task.data={self.data}", f"model.model_path={backbone}", f"common.seed={seed}", *extra]
            if self.b["vision_finetune_updates"]:
                ov.append(f"optimization.max_update={self.b['vision_finetune_updates']}")
            self.runner.train(FINETUNE_CONFIGS, ft, *ov, unit=unit)
            ckpt = unit / "ckpt" / "checkpoint_last.pt"
            self.runner.script("eval_image.py", ckpt, "--out", unit / "eval.json", unit=unit, log_name="eval.log")
            return {"metric": "top1", "value": json.loads((unit / "eval.json").read_text())["top1"],
                    "checkpoint": str(ckpt)}
        return self.runner.once(unit, make, leaf=leaf)

    def frozen(self, task, method, seed):
        """k-NN or linear-probe top-1 of the frozen backbone (mean pooling)."""
        unit = self.out / task / f"{method}-s{seed}"

        def make():
            pre = METHODS[method][0]
            if pre:
                backbone = self.pretrain(pre, seed)["checkpoint"]
            elif method == "supervised":
                backbone = self.finetuned(method, seed, leaf=False)["checkpoint"]
            else:
                backbone = self.untrained(seed)["checkpoint"]
            name = "knn_eval.py" if task == "cifar_knn" else "linear_probe.py"
            self.runner.script(name, backbone, "--data", self.data, "--pool", "mean", "--out", unit / "eval.json",
                   unit=unit, log_name="eval.log")
            return {"metric": "top1", "value": json.loads((unit / "eval.json").read_text())["top1"]}
        return self.runner.once(unit, make, leaf=True)

    def leaves(self):
        v = self.spec.vision
        return sum(len(v.methods) - (t == "cifar_finetune" and "untrained" in v.methods) for t in v.tasks) * len(self.spec.seeds)

    def jobs(self):
        """[(key, fn)]: the pretraining runs first, then every leaf result (task x method x seed)."""
        v, work = self.spec.vision, []
        for method in v.methods:
            if METHODS[method][0]:
                for seed in dict.fromkeys(map(v.pretrain_seed, self.spec.seeds)):
                    work.append((("pretrain", method, seed), lambda m=method, s=seed: self.pretrain(METHODS[m][0], s)))
        for task in v.tasks:
            for method in v.methods:
                if task == "cifar_finetune" and not METHODS[method][1]:
                    continue  # the untrained backbone is a frozen-feature floor only
                for seed in self.spec.seeds:
                    fn = self.finetuned if task == "cifar_finetune" else lambda m, s, task=task: self.frozen(task, m, s)
                    work.append(((task, method, seed), lambda fn=fn, m=method, s=seed: fn(m, s)))
        return [(("vision",) + k, fn) for k, fn in work]

    def assemble(self, done):
        """{"tasks": {task: {method: {seed: result}}}, "floors", "pretraining"} from ``done``."""
        v, res = self.spec.vision, {}
        classes = sorted(p.name for p in (Path(self.data) / "val").iterdir() if p.is_dir())
        for (modality, task, method, *rest), r in done.items():
            if modality == "vision" and task in v.tasks:
                res.setdefault(task, {}).setdefault(method, {})[rest[0]] = r
        res = {t: {m: res[t][m] for m in v.methods if m in res[t]} for t in v.tasks if t in res}
        floors = {t: ("chance", 100.0 / len(classes)) for t in v.tasks}
        pre = {m: done[("vision", "pretrain", m, v.pretrain_seed(self.spec.seeds[0]))]["loss_curve"]
               for m in v.methods if METHODS[m][0]}
        return {"tasks": res, "floors": floors, "pretraining": pre}
