"""Shared test helpers: bundled data, fairseq-hydra-train subprocess runs and their json logs."""
import contextlib
import importlib.util
import io
import os
import subprocess
import sys
from pathlib import Path

from d2v_ext.launch import FINETUNE_CONFIGS, PRETRAIN_CONFIGS, hydra_train_command, tiny_override  # noqa: F401
from d2v_ext.logs import records
from d2v_ext.paths import PROJECT_ROOT, shared_data_dir

DATA = shared_data_dir()


def require_data(*parts) -> Path:
    p = DATA.joinpath(*parts)
    assert p.exists(), f"bundled data missing: {p} (set D2V_EXT_DATA to the shared/data folder)"
    return p


def flat(cfg, prefix=""):
    """A nested config dict as {'a.b.c': value}."""
    out = {}
    for k, v in cfg.items():
        if isinstance(v, dict):
            out.update(flat(v, f"{prefix}{k}."))
        else:
            out[f"{prefix}{k}"] = v
    return out


def composed_recipe(config_dir, name, *overrides):
    """A recipe as hydra composes it, flattened (recipes are `@package _group_`: fairseq's schema puts
    that at the root)."""
    from hydra import compose, initialize_config_dir
    from omegaconf import OmegaConf

    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        c = OmegaConf.to_container(compose(name, overrides=list(overrides)))
    return flat(OmegaConf.to_container(OmegaConf.merge(c.pop("_group_", {}), c)))


def differing(cfgs):
    """The keys whose values are not the same in every config."""
    keys = set().union(*cfgs)
    return {k for k in keys if len({str(c.get(k)) for c in cfgs}) > 1}


def hydra_train(config_dir, config_name, run_dir, *overrides, timeout=600, env=None):
    """Run fairseq-hydra-train with the plugin; return (returncode, combined log text)."""
    run_dir = Path(run_dir)
    cmd = hydra_train_command(config_dir, config_name, *overrides, run_dir=run_dir, save_dir=run_dir / "ckpt")
    env = dict(os.environ, PYTHONUNBUFFERED="1", OMP_NUM_THREADS="1", **(env or {}))
    run_dir.mkdir(parents=True, exist_ok=True)
    p = subprocess.run(cmd, cwd=run_dir, env=env, capture_output=True, text=True, timeout=timeout)
    out = p.stdout + p.stderr
    (run_dir / "console.log").write_text(out)
    return p.returncode, out


def json_records(log_text, tag="train_inner"):
    """The json dicts fairseq logged under ``[tag]`` (log_format: json), values as floats."""
    return records(log_text.splitlines(), tag)


def run_python(code, skip_fixes=None, timeout=300, env=None):
    """Run ``code`` in a fresh interpreter (optionally with compat fixes skipped, extra ``env``)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1", **(env or {}))
    if skip_fixes:
        env["D2V_EXT_COMPAT_SKIP"] = ",".join(skip_fixes)
    p = subprocess.run([sys.executable, "-c", code], cwd=PROJECT_ROOT, env=env,
                       capture_output=True, text=True, timeout=timeout)
    return p.returncode, p.stdout + p.stderr


def run_script(name, *default_args):
    """Call scripts/<name>'s main(argv) in this process (no interpreter start-up per call);
    returns a function(*args) -> (exit code, stdout + stderr)."""
    spec = importlib.util.spec_from_file_location(name[:-3], PROJECT_ROOT / "scripts" / name)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)

    def call(*args):
        out = io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                rc = module.main([*default_args, *map(str, args)])
            except SystemExit as e:
                rc = e.code if isinstance(e.code, int) else (0 if e.code is None else 2)
                if isinstance(e.code, str):
                    print(e.code)
        return rc or 0, out.getvalue()

    return call


def pretrain_tiny_text(tmp, corpus_text):
    """prepare_text.py on ``corpus_text``, then text_v1 +tiny=text_v1 (120 updates) on it, under ``tmp``;
    returns (checkpoint path, its dict.txt)."""
    corpus = Path(tmp) / "corpus.txt"
    corpus.write_text(corpus_text, encoding="utf-8")
    p = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "prepare_text.py"), str(corpus),
                        "--out", str(Path(tmp) / "bin"), "--workers", "2", "--quiet"], capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    rc, log = hydra_train(PRETRAIN_CONFIGS, "text_v1", Path(tmp) / "run", "+tiny=text_v1", f"task.data={Path(tmp) / 'bin'}")
    assert rc == 0, log[-3000:]
    return Path(tmp) / "run" / "ckpt" / "checkpoint_last.pt", Path(tmp) / "bin" / "dict.txt"


def prepare_botchan(out):
    """botchan.txt through prepare_text.py (GPT-2 BPE, fairseq binarized) into ``out``."""
    p = subprocess.run([sys.executable, str(PROJECT_ROOT / "scripts" / "prepare_text.py"),
                        str(require_data("text", "botchan.txt")), "--out", str(out), "--workers", "1", "--quiet"],
                       capture_output=True, text=True)
    assert p.returncode == 0, p.stderr
    return out


def squad_overrides(dict_file, model_path, *extra):
    """fairseq-hydra-train overrides: tiny SQuAD fine-tuning (dev set minus XQuAD paragraphs), XQuAD en valid."""
    squad, xquad_en = require_data("squad"), require_data("xquad", "xquad.en.json")
    return ("+tiny=squad", f"task.data={squad}", "task.train_file=dev-v1.1.json", f"task.valid_file={xquad_en}",
            f"task.exclude_paragraphs_of={xquad_en}", f"task.dict_file={dict_file}", f"model.model_path={model_path}",
            *extra)


def untrained_vision_checkpoint(ckpt, out, seed=0):
    """An untrained copy of a vision pretraining checkpoint (scripts/untrained_checkpoint.py's function):
    the floor a frozen-feature evaluation must be compared with."""
    import torch

    from d2v_ext.checkpoint.untrained import untrained_state

    torch.save(untrained_state(ckpt, seed), out)
    return out


def cifar_tree(root, classes, per_split):
    """An ImageFolder tree of the first ``per_split[split]`` real CIFAR-10 images of each class."""
    import shutil

    cifar = require_data("images", "cifar10")
    for split, n in per_split.items():
        for c in classes:
            (root / split / c).mkdir(parents=True)
            for f in sorted((cifar / split / c).iterdir())[:n]:
                shutil.copy(f, root / split / c / f.name)
    return root


def sklearn_knn_top1(train_x, train_y, val_x, val_y, k=20, temperature=0.07):
    """DINO's weighted k-NN vote recomputed with scikit-learn (cosine distance d = 1 - similarity,
    neighbour weight exp((1 - d) / T)): top-1 in %."""
    import numpy as np
    from sklearn.neighbors import KNeighborsClassifier

    clf = KNeighborsClassifier(n_neighbors=k, metric="cosine", algorithm="brute",
                               weights=lambda d: np.exp((1 - d) / temperature))
    pred = clf.fit(np.asarray(train_x), np.asarray(train_y)).predict(np.asarray(val_x))
    return 100.0 * float((pred == np.asarray(val_y)).mean())


def prepare_sst2(out, dictionary, max_train):
    """GLUE SST-2 (bundled train and official dev) prepared with ``dictionary`` into ``out``."""
    rc, log = run_script("prepare_glue.py", "--workers", "1")(
        "--task", "sst_2", "--input", require_data("glue", "SST-2"), "--dict", dictionary, "--out", out,
        "--max-train", max_train)
    assert rc == 0, log
    return out
