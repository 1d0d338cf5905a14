"""The study's text units: corpus -> pretraining per method -> GLUE-style fine-tuning and SQuAD -> XQuAD.

Every method fine-tunes through the same recipe (config/finetuning/sst_2, nli3, squad): data2vec v1
and the MLM baseline start from ``checkpoint.finetune_from_model`` (so a killed fine-tuning resumes
from its own checkpoint_last.pt), data2vec 2.0 from ``model.model_path``, random init from nothing
(data2vec v1's architecture).
"""
import json
from pathlib import Path

from ..evaluation.glue_report import load_run
from ..launch import FINETUNE_CONFIGS, PRETRAIN_CONFIGS, tiny_override
from ..logs import iter_records
from .sizes import FINETUNE, size_overrides
from .spec import TEXT_METHODS

XQUAD_LANGS = ("en", "de", "es", "ru", "zh", "ar")
GLUE = {"sst2_few": ("sst_2", "SST-2", "sst2_few_train"), "sst2_many": ("sst_2", "SST-2", "sst2_many_train"),
        "nli3": ("nli3", "VitaminC", "nli3_train")}


def demo_corpus(data: Path, out: Path):
    """Real English text, one document per paragraph/sentence; labels and dev sets unused: botchan.txt,
    the SQuAD dev paragraphs not in XQuAD (XQuAD stays unseen), SST-2 and VitaminC training text."""
    from ..data.squad_json import exclude_paragraphs, question_ids, read_squad_examples

    examples, _ = read_squad_examples(data / "squad" / "dev-v1.1.json")
    kept, _ = exclude_paragraphs(examples, question_ids(data / "xquad" / "xquad.en.json"))
    docs = list(dict.fromkeys(e.context for e in kept))
    docs += [r.split("\t")[0].strip() for r in (data / "glue" / "SST-2" / "train.tsv").read_text().splitlines()[1:]]
    for r in (data / "glue" / "VitaminC" / "train.tsv").read_text().splitlines()[1:]:
        docs += r.split("\t")[1:3]
    corpus = out / "pretrain_corpus.txt"
    corpus.write_text((data / "text" / "botchan.txt").read_text(encoding="utf-8-sig") + "\n\n"
                      + "\n\n".join(docs) + "\n")
    return corpus


def train_log_curve(run_dir, key="loss"):
    """[[num_updates, value], ...] of the train_inner records of ``run_dir/hydra_train.log``."""
    log = Path(run_dir) / "hydra_train.log"
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    return [[int(float(r["num_updates"])), float(r[key])] for _, r in iter_records(lines, str(log), {"train_inner"})
            if key in r and "num_updates" in r]


class Text:
    def __init__(self, spec, out: Path, runner):
        self.spec, self.b, self.out, self.runner = spec, spec.budget, out / "text", runner
        self.tiny = self.b["tiny_recipes"]

    # --- shared inputs -------------------------------------------------------------------------
    def corpus(self):
        """The pretraining data and its dictionary. With ``text.dict`` (released weights), the corpus is
        binarized with that dictionary; if every pretrained method has ``text.checkpoints``, there is
        nothing to pretrain and only the dictionary is used."""
        unit, t = self.out / "corpus", self.spec.text
        if t.dict and all(m in t.checkpoints for m in t.methods if TEXT_METHODS[m]):
            return {"bin": None, "dict": str(t.dict)}

        def make():
            unit.mkdir(parents=True, exist_ok=True)
            if self.spec.text.corpus:
                text = unit / "pretrain_corpus.txt"
                text.write_text("\n\n".join(Path(c).read_text(encoding="utf-8-sig") for c in self.spec.text.corpus))
            else:
                text = demo_corpus(self.spec.data, unit)
            vocab = ["--vocab-size", self.b["text_vocab"]] if self.b["text_vocab"] else []
            if t.dict:  # the released checkpoints' dictionary, as it is
                vocab = ["--srcdict", t.dict]
            self.runner.script("prepare_text.py", text, "--out", unit / "bin", "--workers", "2", "--quiet", *vocab,
                               unit=unit, log_name="prepare.log")
            return {"bin": str(unit / "bin"), "dict": str(unit / "bin" / "dict.txt")}
        return self.runner.once(unit, make)

    def glue_data(self, task):
        name, folder, size_key = GLUE[task]
        unit = self.out / "data" / task

        def make():
            extra = ["--max-train", self.b[size_key]] if self.b[size_key] else []
            self.runner.script("prepare_glue.py", "--task", name, "--input", self.spec.data / "glue" / folder, "--dict",
                   self.corpus()["dict"], "--out", unit / "bin", "--workers", "2", *extra, unit=unit, log_name="prepare.log")
            labels = [r.split("\t")[-1].strip() for r in (self.spec.data / "glue" / folder / "dev.tsv").read_text().splitlines()[1:] if r]
            return {"bin": str(unit / "bin"), "majority": 100.0 * max(map(labels.count, set(labels))) / len(labels)}
        return self.runner.once(unit, make)

    # --- pretraining ---------------------------------------------------------------------------
    def pretrain(self, method, seed):
        """The method's pretraining run (or its ``text.checkpoints`` entry: nothing to run)."""
        recipe, seed = TEXT_METHODS[method], self.spec.text.pretrain_seed(seed)
        if method in self.spec.text.checkpoints:
            return {"checkpoint": str(self.spec.text.checkpoints[method]), "recipe": recipe, "loss_curve": [],
                    "given": True}
        unit = self.out / "pretrain" / f"{method}-s{seed}"
        curve = self.spec.curve and method in self.spec.curve["methods"]

        def make():
            ups, every = self.b["text_pretrain_updates"], self.b["text_save_every"]
            ov = [tiny_override(recipe)] if self.tiny else []
            ov += [f"task.data={self.corpus()['bin']}", f"common.seed={seed}", "common.log_interval=10"]
            if ups:
                ov.append(f"optimization.max_update={ups}")
                if recipe != "text_mlm":
                    ov.append(f"model.ema_anneal_end_step={ups}")
            if every:
                ov += [f"checkpoint.save_interval_updates={every}", f"dataset.validate_interval_updates={every}"]
            if curve:
                ov.append("checkpoint.keep_interval_updates=-1")   # every budget-curve point stays
            ov += size_overrides(self.b, recipe)
            if recipe == "text_v1":  # the demo's measured fix: layer-normalised targets collapse at this scale
                ov += ["model.instance_norm_target_layer=true", "model.layer_norm_target_layer=false"]
            self.runner.train(PRETRAIN_CONFIGS, recipe, *ov, unit=unit)
            return {"checkpoint": str(unit / "ckpt" / "checkpoint_last.pt"), "recipe": recipe,
                    "loss_curve": train_log_curve(unit)}
        return self.runner.once(unit, make)

    def checkpoint_at(self, method, seed, updates):
        """The pretraining checkpoint of ``method`` after ``updates`` updates (a budget-curve point)."""
        ckpt_dir = Path(self.pretrain(method, seed)["checkpoint"]).parent
        found = sorted(ckpt_dir.glob(f"checkpoint_*_{updates}.pt"))
        if not found:
            from ..errors import MissingInputError
            raise MissingInputError(f"{ckpt_dir}: no checkpoint_*_{updates}.pt (budget_curve.updates needs "
                                    "checkpoints kept every text_save_every updates)")
        return found[0]

    # --- fine-tuning ---------------------------------------------------------------------------
    def init_overrides(self, method, seed, ckpt=None):
        """Where the weights come from. restore_file is always the run's own checkpoint_last.pt and
        nothing is reset, so a killed run resumes where it stopped (the GLUE recipes reset the
        optimizer, meters and data loader because they restore the pretrained file directly, and the
        tiny recipe saves no optimizer state, without which fairseq restarts at update 0)."""
        resume = ["checkpoint.restore_file=checkpoint_last.pt", "checkpoint.reset_optimizer=false",
                  "checkpoint.reset_dataloader=false", "checkpoint.reset_meters=false",
                  "checkpoint.no_save_optimizer_state=false"]  # fairseq restores num_updates from it
        size = size_overrides(self.b, FINETUNE.get(method), pretraining=False)
        if method == "random":
            return size + resume
        ckpt = ckpt or self.pretrain(method, seed)["checkpoint"]
        if method == "data2vec2":
            return ["model=data2vec2_text", f"model.model_path={ckpt}"] + resume
        model = ["model=roberta_tiny" if self.tiny else "model=roberta_base"] if method == "mlm" else []
        return model + size + resume + [f"checkpoint.finetune_from_model={ckpt}"]

    def glue(self, task, method, seed, unit=None, ckpt=None):
        """Best dev accuracy of one fine-tuning run (the paper's protocol: best validation)."""
        unit = unit or self.out / task / f"{method}-s{seed}"

        def make():
            data, ups = self.glue_data(task), self.b["glue_updates"]
            ov = ["+tiny=glue"] if self.tiny else []
            ov += [f"task.data={data['bin']}", f"common.seed={seed}", "dataset.validate_interval=1000",
                   "checkpoint.save_interval=1000", "optimization.max_epoch=1000"]
            if ups:
                every = max(1, ups // 5)
                ov += [f"optimization.max_update={ups}", f"lr_scheduler.warmup_updates={max(1, ups * 6 // 100)}",
                       f"dataset.validate_interval_updates={every}", f"checkpoint.save_interval_updates={every}"]
            if self.b["glue_lr"]:
                ov.append(f"optimization.lr=[{self.b['glue_lr']}]")
            ov += self.init_overrides(method, seed, ckpt)
            self.runner.train(FINETUNE_CONFIGS, GLUE[task][0], *ov, unit=unit)
            run = load_run(unit)
            return {"metric": "accuracy", "value": run.best, "log": str(unit / "hydra_train.log")}
        return self.runner.once(unit, make, leaf=True)

    def squad_xquad(self, method, seed):
        """SQuAD (the dev paragraphs not in XQuAD) fine-tuning, then zero-shot XQuAD in 6 languages."""
        unit, data = self.out / "squad_xquad" / f"{method}-s{seed}", self.spec.data
        xquad = [data / "xquad" / f"xquad.{lang}.json" for lang in XQUAD_LANGS]

        def make():
            arch = "data2vec" if method == "random" else method
            ov = ["+tiny=squad"] if self.tiny else []
            ov += [f"task.data={data / 'squad'}", "task.train_file=dev-v1.1.json", f"task.valid_file={xquad[0]}",
                   f"task.exclude_paragraphs_of={xquad[0]}", f"task.dict_file={self.corpus()['dict']}",
                   f"model.model_path={self.pretrain(arch, seed)['checkpoint']}", f"common.seed={seed}",
                   f"model.no_pretrained_weights={str(method == 'random').lower()}"]
            if self.b["squad_updates"]:
                ov.append(f"optimization.max_update={self.b['squad_updates']}")
            if self.b["squad_train_examples"]:
                ov.append(f"task.max_train_examples={self.b['squad_train_examples']}")
            self.runner.train(FINETUNE_CONFIGS, "squad", *ov, unit=unit)
            subset = ["--max-questions", self.b["xquad_questions"]] if self.b["xquad_questions"] else []
            self.runner.script("eval_qa.py", unit / "ckpt" / "checkpoint_last.pt", *xquad, "--out", unit / "xquad",
                               "--no-oracle", *subset,
                   unit=unit, log_name="eval.log")
            res = json.loads((unit / "xquad" / "results.json").read_text())
            return {"metric": "f1", "value": res["average"]["f1"], "exact_match": res["average"]["exact_match"],
                    "questions_per_language": res["files"][0]["questions"],
                    "baseline_f1": res["average"]["baseline_f1"],
                    "per_language": {r["name"]: r["f1"] for r in res["files"]}}
        return self.runner.once(unit, make, leaf=True)

    # --- the whole modality --------------------------------------------------------------------
    def leaves(self):
        n = len(self.spec.text.tasks) * len(self.spec.text.methods) * len(self.spec.seeds)
        if self.spec.curve:
            n += len(self.spec.curve["methods"]) * len(self.spec.curve["updates"]) * len(self.spec.seeds)
        return n

    def curve_point(self, task, method, updates, seed):
        """The budget curve's fine-tuning from the pretraining checkpoint kept at ``updates``; at the
        end of pretraining that is the task's own run (the same checkpoint), reused."""
        t = self.spec.text
        if updates == self.b["text_pretrain_updates"] and task in t.tasks and method in t.methods:
            return self.glue(task, method, seed)
        return self.glue(task, method, seed, unit=self.out / "curve" / f"{method}-u{updates}-s{seed}",
                         ckpt=self.checkpoint_at(method, seed, updates))

    def jobs(self):
        """[(key, fn)]: the pretraining runs first, then every leaf result (task x method x seed, and the
        budget curve's points); :meth:`assemble` reads their results back by key."""
        t, work = self.spec.text, []
        for method in t.methods:
            if TEXT_METHODS[method]:
                for seed in dict.fromkeys(map(t.pretrain_seed, self.spec.seeds)):
                    work.append((("pretrain", method, seed), lambda m=method, s=seed: self.pretrain(m, s)))
        for task in t.tasks:
            for method in t.methods:
                for seed in self.spec.seeds:
                    fn = self.squad_xquad if task == "squad_xquad" else lambda m, s, task=task: self.glue(task, m, s)
                    work.append(((task, method, seed), lambda fn=fn, m=method, s=seed: fn(m, s)))
        if self.spec.curve:
            task = self.spec.curve["task"]
            for method in self.spec.curve["methods"]:
                for u in self.spec.curve["updates"]:
                    for seed in self.spec.seeds:
                        work.append((("curve", method, u, seed), lambda m=method, u=u, s=seed: self.curve_point(task, m, u, s)))
        return [(("text",) + k, fn) for k, fn in work]

    def assemble(self, done):
        """{"tasks": {task: {method: {seed: result}}}, "floors", "pretraining", "curve"} from ``done``
        (the results of :meth:`jobs` by key)."""
        t, res, floors = self.spec.text, {}, {}
        for task in t.tasks:
            for method in t.methods:
                for seed in self.spec.seeds:
                    r = res.setdefault(task, {}).setdefault(method, {})[seed] = done[("text", task, method, seed)]
                    if task == "squad_xquad":
                        floors[task] = ("first-3-words baseline F1", r["baseline_f1"])
            if task in GLUE:
                floors[task] = ("majority class", self.glue_data(task)["majority"])
        pre = {m: done[("text", "pretrain", m, t.pretrain_seed(self.spec.seeds[0]))]["loss_curve"]
               for m in t.methods if TEXT_METHODS[m]}
        curve = {}
        if self.spec.curve:
            task = self.spec.curve["task"]
            points = {m: {u: {s: done[("text", "curve", m, u, s)] for s in self.spec.seeds}
                          for u in self.spec.curve["updates"]} for m in self.spec.curve["methods"]}
            curve = {"task": task, "points": points,
                     "zero": {s: res[task]["random"][s] for s in self.spec.seeds} if "random" in res.get(task, {}) else None}
        return {"tasks": res, "floors": floors, "pretraining": pre, "curve": curve}
