"""The study spec: a small YAML file, read and fully checked before anything runs.

    preset: tiny                  # tiny | small | paper (d2v_ext/study/presets.py)
    seeds: [1, 2, 3]              # fine-tuning / probe seeds
    data: null                    # bundled data folder (default $D2V_EXT_DATA or ../shared/data)
    text:
      corpus: null                # pretraining text files (default: the demo corpus, see text.py)
      checkpoints: {data2vec: /ckpt/d2v.pt}   # optional: weights used instead of pretraining here
      dict: /ckpt/dict.txt        # the dictionary of text.checkpoints (required with them)
      pretrain_seeds: [1]         # optional (default: seeds); a seed not listed uses the first's model
      methods: [data2vec, data2vec2, mlm, random]
      tasks: [sst2_few, sst2_many, nli3, squad_xquad]
    vision:
      images: null                # ImageFolder root with train/ and val/ (default <data>/images/cifar10)
      methods: [data2vec, data2vec2, mae, dino, supervised, untrained]
      tasks: [cifar_finetune, cifar_knn, cifar_probe]
    budget_curve:                 # optional: downstream score against pretraining updates
      methods: [data2vec, mlm]
      task: sst2_few
      updates: [100, 300, 600]
    budget: {glue_updates: 100}   # optional: override single values of the preset

Every problem is a :class:`ConfigError` naming the spec file and the field.
"""
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from ..errors import ConfigError, MissingInputError
from ..paths import shared_data_dir
from .presets import PRESETS

# method -> pretraining recipe of config/pretraining (None: no pretraining)
TEXT_METHODS = {"data2vec": "text_v1", "data2vec2": "text_v2", "mlm": "text_mlm", "random": None}
VISION_METHODS = {"data2vec": "vision_v1", "data2vec2": "image_v2", "mae": "mae", "dino": "image_dino_dino",
                  "supervised": None, "untrained": None}
TEXT_TASKS = ("sst2_few", "sst2_many", "nli3", "squad_xquad")
VISION_TASKS = ("cifar_finetune", "cifar_knn", "cifar_probe")
TOP_KEYS = {"name", "preset", "seeds", "data", "text", "vision", "budget_curve", "budget"}
MODALITY_KEYS = {"text": {"corpus", "methods", "tasks", "pretrain_seeds", "checkpoints", "dict"},
                 "vision": {"images", "methods", "tasks", "pretrain_seeds", "checkpoints"}}
# the bundled files each task reads, relative to the data folder
TASK_DATA = {"sst2_few": ("glue/SST-2/train.tsv", "glue/SST-2/dev.tsv"),
             "sst2_many": ("glue/SST-2/train.tsv", "glue/SST-2/dev.tsv"),
             "nli3": ("glue/VitaminC/train.tsv", "glue/VitaminC/dev.tsv"),
             "squad_xquad": ("squad/dev-v1.1.json", "xquad/xquad.en.json")}
DEFAULT_CORPUS = ("text/botchan.txt", "squad/dev-v1.1.json", "xquad/xquad.en.json", "glue/SST-2/train.tsv",
                  "glue/VitaminC/train.tsv")


@dataclass
class Modality:
    methods: list
    tasks: list
    pretrain_seeds: list
    source: Path = None   # vision: the ImageFolder root
    corpus: list = None   # text: pretraining files (None: the demo corpus)
    checkpoints: dict = field(default_factory=dict)  # method -> given pretrained checkpoint (not pretrained here)
    dict: Path = None     # text: the given checkpoints' dictionary

    def pretrain_seed(self, seed):
        """The pretraining run a fine-tuning seed starts from: its own seed, or the first listed."""
        return seed if seed in self.pretrain_seeds else self.pretrain_seeds[0]


@dataclass
class Spec:
    path: Path
    preset: str
    budget: dict
    seeds: list
    data: Path
    text: Modality = None
    vision: Modality = None
    curve: dict = field(default_factory=dict)
    name: str = "study"


def _err(path, key, msg):
    return ConfigError(f"{path}: {key}: {msg}")


def _seeds(path, key, v):
    if not isinstance(v, list) or not v or not all(isinstance(s, int) and not isinstance(s, bool) for s in v):
        raise _err(path, key, f"expected a non-empty list of integers, got {v!r}")
    if len(set(v)) != len(v):
        raise _err(path, key, f"repeated seeds in {v}")
    return v


def _names(path, key, v, known):
    if not isinstance(v, list) or not v:
        raise _err(path, key, f"expected a non-empty list, some of {list(known)}; got {v!r}")
    bad = [m for m in v if m not in known]
    if bad:
        raise _err(path, key, f"unknown {bad}; expected some of {list(known)}")
    return list(dict.fromkeys(v))


def _modality(path, name, node, methods, tasks, seeds):
    if not isinstance(node, dict):
        raise _err(path, name, f"expected a mapping with {sorted(MODALITY_KEYS[name])}, got {node!r}")
    extra = set(node) - MODALITY_KEYS[name]
    if extra:
        raise _err(path, f"{name}.{sorted(extra)[0]}", f"unknown key; expected {sorted(MODALITY_KEYS[name])}")
    for k in ("methods", "tasks"):
        if k not in node:
            raise _err(path, f"{name}.{k}", "missing")
    return Modality(_names(path, f"{name}.methods", node["methods"], methods),
                    _names(path, f"{name}.tasks", node["tasks"], tasks),
                    _seeds(path, f"{name}.pretrain_seeds", node.get("pretrain_seeds", seeds)))


def _need(path, key, p, what):
    if not Path(p).exists():
        raise MissingInputError(f"{path}: {key}: {p} does not exist ({what})")


def load_spec(path) -> Spec:
    """Read and check a study spec (see the module docstring); nothing is run or written."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"{path}: study spec not found")
    try:
        raw = yaml.safe_load(path.read_text())
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise ConfigError(f"{path}{f':{mark.line + 1}' if mark else ''}: not valid YAML ({getattr(e, 'problem', e)})") from None
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping with keys {sorted(TOP_KEYS)}, got {type(raw).__name__}")
    extra = set(raw) - TOP_KEYS
    if extra:
        raise _err(path, sorted(extra)[0], f"unknown key; expected some of {sorted(TOP_KEYS)}")
    preset = raw.get("preset", "tiny")
    if preset not in PRESETS:
        raise _err(path, "preset", f"unknown {preset!r}; expected one of {list(PRESETS)}")
    budget = dict(PRESETS[preset])
    over = raw.get("budget") or {}
    if not isinstance(over, dict):
        raise _err(path, "budget", f"expected a mapping of preset values, got {over!r}")
    for k, v in over.items():
        if k not in budget:
            raise _err(path, f"budget.{k}", f"unknown; expected some of {sorted(budget)}")
        if v is not None and not isinstance(v, (int, float)):
            raise _err(path, f"budget.{k}", f"expected a number or null, got {v!r}")
    budget.update(over)
    seeds = _seeds(path, "seeds", raw.get("seeds", [1, 2, 3]))
    data = Path(raw.get("data") or shared_data_dir())
    spec = Spec(path, preset, budget, seeds, data, name=str(raw.get("name", path.stem)))
    if "text" not in raw and "vision" not in raw:
        raise ConfigError(f"{path}: neither text: nor vision: given; nothing to run")
    if "text" in raw:
        spec.text = _modality(path, "text", raw["text"], TEXT_METHODS, TEXT_TASKS, seeds)
        corpus = raw["text"].get("corpus")
        if corpus is not None:
            if isinstance(corpus, str):
                corpus = [corpus]
            for i, c in enumerate(corpus):
                _need(path, f"text.corpus[{i}]", c, "a pretraining text file")
            spec.text.corpus = [Path(c) for c in corpus]
        else:
            for f in DEFAULT_CORPUS:
                _need(path, "data", data / f, "the demo corpus; set data: or text.corpus:")
        for t in spec.text.tasks:
            for f in TASK_DATA[t]:
                _need(path, "data", data / f, f"needed by task {t}")
    if "vision" in raw:
        spec.vision = _modality(path, "vision", raw["vision"], VISION_METHODS, VISION_TASKS, seeds)
        spec.vision.source = Path(raw["vision"].get("images") or data / "images" / "cifar10")
        for split in ("train", "val"):
            _need(path, "vision.images", spec.vision.source / split, "an ImageFolder root with train/ and val/")
    for name, methods in (("text", TEXT_METHODS), ("vision", VISION_METHODS)):
        m = getattr(spec, name)
        if m is not None:
            m.checkpoints = _checkpoints(path, name, raw[name].get("checkpoints"), m.methods, methods)
    if spec.text is not None:
        d = raw["text"].get("dict")
        if spec.text.checkpoints and not d:
            raise _err(path, "text.dict", "missing: text.checkpoints need the dictionary they were trained with "
                                          "(fairseq's dict.txt)")
        if d:
            _need(path, "text.dict", d, "the checkpoints' dictionary (dict.txt)")
            spec.text.dict = Path(d)
    if raw.get("budget_curve") is not None:
        spec.curve = _curve(path, raw["budget_curve"], spec)
        given = [m for m in spec.curve["methods"] if m in spec.text.checkpoints]
        if given:
            raise _err(path, "budget_curve.methods", f"{given}: a given checkpoint has no pretraining run to take "
                                                     "checkpoints from; leave it out of text.checkpoints or the curve")
    return spec


def _checkpoints(path, name, node, methods, known):
    """``{method: checkpoint}``: released or earlier weights used instead of pretraining here."""
    if node is None:
        return {}
    if not isinstance(node, dict):
        raise _err(path, f"{name}.checkpoints", f"expected a mapping method: checkpoint file, got {node!r}")
    out = {}
    for m, ckpt in node.items():
        if m not in methods or not known.get(m):
            raise _err(path, f"{name}.checkpoints.{m}", f"expected one of the pretrained methods of {name}.methods "
                                                        f"{[x for x in methods if known.get(x)]}")
        _need(path, f"{name}.checkpoints.{m}", ckpt, "a pretraining checkpoint")
        out[m] = Path(ckpt).resolve()
    return out


def _curve(path, node, spec):
    if not isinstance(node, dict) or set(node) - {"methods", "task", "updates"}:
        raise _err(path, "budget_curve", "expected a mapping with methods, task, updates")
    if spec.text is None:
        raise _err(path, "budget_curve", "needs text: (the curve fine-tunes text checkpoints)")
    methods = _names(path, "budget_curve.methods", node.get("methods"),
                     [m for m in spec.text.methods if TEXT_METHODS[m]])
    task = node.get("task")
    if task not in ("sst2_few", "sst2_many", "nli3"):
        raise _err(path, "budget_curve.task", f"expected one of sst2_few, sst2_many, nli3; got {task!r}")
    if task not in spec.text.tasks:
        raise _err(path, "budget_curve.task", f"{task} is not in text.tasks")
    ups, every, total = node.get("updates"), spec.budget["text_save_every"], spec.budget["text_pretrain_updates"]
    if not isinstance(ups, list) or not ups or not all(isinstance(u, int) and u > 0 for u in ups):
        raise _err(path, "budget_curve.updates", f"expected a list of positive integers, got {ups!r}")
    if not every or not total:
        raise _err(path, "budget_curve", f"preset {spec.preset} has no fixed pretraining budget; set "
                                         "budget.text_pretrain_updates and budget.text_save_every")
    bad = [u for u in ups if u % every or u > total]
    if bad:
        raise _err(path, "budget_curve.updates", f"{bad}: each must be a multiple of text_save_every={every} "
                                                 f"and at most text_pretrain_updates={total}")
    return {"methods": methods, "task": task, "updates": sorted(set(ups))}
