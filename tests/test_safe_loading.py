"""A poisoned real checkpoint and a bare malicious pickle, through every entry point that loads a
checkpoint (fairseq-hydra-train's restore_file, resume from checkpoint_last.pt, model.model_path of
our QA model and of upstream's classifier, and every eval script), with and without
TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1: the payload never runs, and the refusal names the file and the
global. The allow-list still loads what fairseq checkpoints contain (DictConfig cfg, Namespace args,
numpy scalars); trust_checkpoint.py converts a trusted file that needs more."""
import argparse
import enum
import os
import pickle

import numpy as np
import pytest
import torch
from omegaconf import OmegaConf

from d2v_ext.checkpoint import safe_torch_load
from d2v_ext.errors import UnsafeCheckpointError
from helpers import FINETUNE_CONFIGS, PRETRAIN_CONFIGS, hydra_train, require_data, run_script, squad_overrides

pytestmark = pytest.mark.e2e
FORCE = "TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD"


class Payload:
    """Unpickling this calls os.makedirs(marker): proof that code ran."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.makedirs, (self.marker,))


@pytest.fixture(scope="module")
def poisoned(tiny_pretrained, tmp_path_factory):
    """{kind: (file, marker)}: a real pretraining checkpoint with a payload inside, and a bare pickle."""
    ckpt, _ = tiny_pretrained
    tmp = tmp_path_factory.mktemp("poison")
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    state["extra_state"]["note"] = Payload(str(tmp / "ran_real"))
    torch.save(state, tmp / "real.pt")
    with open(tmp / "bare.pt", "wb") as f:
        pickle.dump({"model": {}, "cfg": None, "x": Payload(str(tmp / "ran_bare"))}, f)
    return {"real": (tmp / "real.pt", tmp / "ran_real"), "bare": (tmp / "bare.pt", tmp / "ran_bare")}


def refused(out, path):
    return f"{path}: refused to load" in out and "Traceback" not in out


SCRIPTS = {"eval_glue.py": lambda p, d: (p, "--data", d, "--task", "sst_2"),
           "eval_qa.py": lambda p, d: (p, require_data("xquad", "xquad.en.json")),
           "knn_eval.py": lambda p, d: (p, "--data", require_data("images", "cifar10")),
           "linear_probe.py": lambda p, d: (p, "--data", require_data("images", "cifar10")),
           "knn_eval_text.py": lambda p, d: (p, "--max-train", "10")}


@pytest.fixture(scope="module")
def sst2(tiny_pretrained, tmp_path_factory):
    _, dictionary = tiny_pretrained
    out = tmp_path_factory.mktemp("sst2") / "sst_2"
    rc, log = run_script("prepare_glue.py", "--workers", "1")("--task", "sst_2", "--input", require_data("glue", "SST-2"),
                                                               "--dict", dictionary, "--out", out, "--max-train", "200")
    assert rc == 0, log
    return out


@pytest.mark.parametrize("force", [False, True])
@pytest.mark.parametrize("script", list(SCRIPTS))
def test_eval_scripts_refuse_both_payloads(script, force, poisoned, sst2, monkeypatch):
    if force:
        monkeypatch.setenv(FORCE, "1")
    for kind, (path, marker) in poisoned.items():
        rc, out = run_script(script)(*SCRIPTS[script](path, sst2))
        assert rc == 2 and refused(out, path), (kind, out[-1500:])
        assert ("needs os.makedirs" in out) if kind == "real" else ("not a pickle the safe loader reads" in out)
        assert not marker.exists(), f"{script} ran the payload of the {kind} file"


def hydra_entry_points(poisoned_file, tiny_pretrained, sst2, tmp):
    """(name, config dir, config name, overrides, the file it loads) for each way fairseq-hydra-train
    loads a checkpoint."""
    _, dictionary = tiny_pretrained
    resume_dir = tmp / "resume_ckpt"
    resume_dir.mkdir(parents=True, exist_ok=True)
    (resume_dir / "checkpoint_last.pt").write_bytes(poisoned_file.read_bytes())
    return [
        ("restore_file", FINETUNE_CONFIGS, "sst_2", ["+tiny=glue", f"task.data={sst2}",
                                                    f"checkpoint.restore_file={poisoned_file}"], poisoned_file),
        ("resume", PRETRAIN_CONFIGS, "text_v1", ["+tiny=text_v1", f"task.data={dictionary.parent}",
                                                 f"checkpoint.save_dir={resume_dir}"], resume_dir / "checkpoint_last.pt"),
        ("model_path (data2vec_text_qa)", FINETUNE_CONFIGS, "squad", list(squad_overrides(dictionary, poisoned_file)),
         poisoned_file),
        ("model_path (upstream data2vec_text_classification)", FINETUNE_CONFIGS, "sst_2",
         ["+tiny=glue", "model=data2vec2_text", f"model.model_path={poisoned_file}", f"task.data={sst2}"],
         poisoned_file),
    ]


@pytest.mark.parametrize("kind", ["real", "bare"])
def test_fairseq_hydra_train_refuses_at_every_entry_point(kind, poisoned, tiny_pretrained, sst2, tmp_path):
    path, marker = poisoned[kind]
    for name, cdir, cname, overrides, loaded in hydra_entry_points(path, tiny_pretrained, sst2, tmp_path):
        rc, log = hydra_train(cdir, cname, tmp_path / name.split()[0], *overrides, env={FORCE: "1"})
        assert rc != 0 and refused(log, loaded), (name, log[-2500:])
        assert not marker.exists(), f"{name} ran the payload"


def test_without_the_override_too(poisoned, tiny_pretrained, sst2, tmp_path, monkeypatch):
    monkeypatch.delenv(FORCE, raising=False)
    path, marker = poisoned["real"]
    name, cdir, cname, overrides, _ = hydra_entry_points(path, tiny_pretrained, sst2, tmp_path)[0]
    rc, log = hydra_train(cdir, cname, tmp_path / "r", *overrides)
    assert rc != 0 and refused(log, path) and "needs os.makedirs" in log and not marker.exists()


def test_allow_list_loads_what_fairseq_checkpoints_hold(tiny_pretrained, tmp_path, monkeypatch):
    """An older-style checkpoint (cfg as a DictConfig, an args Namespace, numpy scalars in extra_state)
    loads through the safe loader and fine-tunes (what released checkpoints contain)."""
    ckpt, _ = tiny_pretrained
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    state["cfg"] = OmegaConf.create(state["cfg"])
    state["extra_state"].update(best=np.float64(1.25), seen=np.int64(7), flag=np.bool_(True),
                                legacy=argparse.Namespace(arch="data2vec_text", lr=[0.1]))
    torch.save(state, tmp_path / "old.pt")
    monkeypatch.setenv(FORCE, "1")
    back = safe_torch_load(str(tmp_path / "old.pt"))
    assert OmegaConf.is_config(back["cfg"]) and back["cfg"].model._name == "data2vec_text"
    assert back["extra_state"]["best"] == np.float64(1.25) and back["extra_state"]["legacy"].lr == [0.1]
    assert torch.equal(back["model"]["encoder.sentence_encoder.embed_tokens.weight"],
                       state["model"]["encoder.sentence_encoder.embed_tokens.weight"])


class Mode(enum.Enum):
    """An enum in a checkpoint: the kind of object a legacy checkpoint may hold and the allow-list refuses."""
    A = 1
    B = 2


def test_trust_checkpoint_converts_a_trusted_file(tiny_pretrained, tmp_path):
    from pathlib import PurePosixPath

    ckpt, _ = tiny_pretrained
    state = torch.load(ckpt, map_location="cpu", weights_only=False)
    state["extra_state"].update(where=PurePosixPath("/cluster/data"), table=np.arange(4),
                                mode=Mode.B)
    torch.save(state, tmp_path / "legacy.pt")
    with pytest.raises(UnsafeCheckpointError, match=r"legacy.pt: refused to load: its pickle needs"):
        safe_torch_load(str(tmp_path / "legacy.pt"))
    trust = run_script("trust_checkpoint.py")
    rc, out = trust(tmp_path / "legacy.pt", "--out", tmp_path / "safe.pt")
    assert rc == 2 and "--i-trust-this-file is required" in out and not (tmp_path / "safe.pt").exists()
    rc, out = trust(tmp_path / "legacy.pt", "--out", tmp_path / "legacy.pt", "--i-trust-this-file")
    assert rc == 2 and "is the input" in out
    rc, out = trust(tmp_path / "legacy.pt", "--out", tmp_path / "safe.pt", "--i-trust-this-file")
    assert rc == 0, out
    safe = safe_torch_load(str(tmp_path / "safe.pt"))
    assert safe["extra_state"]["where"] == "/cluster/data" and safe["extra_state"]["mode"] == 2
    assert torch.equal(safe["extra_state"]["table"], torch.arange(4))
    k = "encoder.sentence_encoder.layers.0.fc1.weight"
    assert torch.equal(safe["model"][k], state["model"][k])
