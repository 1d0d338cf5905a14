"""The compat fixes behind safe loading, exact resume and clear errors: what each makes work, and
(in a fresh interpreter with that fix left out) that the failure it fixes comes back."""
import pytest

import d2v_ext  # noqa: F401  (applies every fix)
from d2v_ext import compat
from helpers import require_data, run_python

PRELUDE = "import sys; sys.path.insert(0, 'tests'); import d2v_ext\n"


# ---- safe_checkpoint_loading -----------------------------------------------------------------------
POISON = PRELUDE + """
import os, sys, torch
import fairseq.checkpoint_utils as cu
marker = sys.argv[1] if len(sys.argv) > 1 else {marker!r}

class Payload:
    def __reduce__(self):
        return (os.makedirs, (marker,))

torch.save({{"model": {{}}, "cfg": {{"model": {{"_name": "x"}}}}, "extra": Payload()}}, marker + ".pt")
{undo}
try:
    cu.load_checkpoint_to_cpu(marker + ".pt")
    print("LOADED")
except Exception as e:
    print("REFUSED", type(e).__name__, str(e)[:300])
print("PAYLOAD_RAN" if os.path.exists(marker) else "PAYLOAD_DID_NOT_RUN")
"""


def test_fairseq_checkpoint_loads_refuse_a_payload_even_when_torch_is_told_to_allow_it(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    rc, out = run_python(POISON.format(marker=str(tmp_path / "ran"), undo=""))
    assert "REFUSED UnsafeCheckpointError" in out and "needs os.makedirs" in out, out[-2000:]
    assert "PAYLOAD_DID_NOT_RUN" in out


def test_without_safe_loading_the_payload_runs(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD", "1")
    undo = "cu.torch = torch  # what fairseq's checkpoint_utils has without the fix"
    rc, out = run_python(POISON.format(marker=str(tmp_path / "ran"), undo=undo))
    assert "PAYLOAD_RAN" in out, out[-2000:]  # (the fake state then fails fairseq's upgrade: no matter)


def test_safe_loading_cannot_be_skipped(monkeypatch):
    monkeypatch.setenv("D2V_EXT_COMPAT_SKIP", "safe_checkpoint_loading")
    with pytest.raises(ValueError, match="unknown or unskippable.*safe_checkpoint_loading is always applied"):
        compat.apply_all()


# ---- checkpoint_mismatch_explained ------------------------------------------------------------------
def test_size_mismatch_is_explained_as_a_dictionary_problem():
    from types import SimpleNamespace

    from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextModel

    from builders import tiny_dictionary, tiny_text_v1_cfg, tiny_text_v1_model
    from d2v_ext.compat.checkpoint_mismatch import explain_mismatch

    a = tiny_text_v1_model()
    bigger = Data2VecTextModel.build_model(tiny_text_v1_cfg(), SimpleNamespace(
        source_dictionary=tiny_dictionary("the a of and to in is it x y z".split()), cfg=SimpleNamespace(data="")))
    with pytest.raises(RuntimeError) as e:
        bigger.load_state_dict(a.state_dict())
    msg = explain_mismatch("ckpt.pt", str(e.value))
    assert msg.startswith("ckpt.pt does not fit the model built here: encoder.sentence_encoder.embed_tokens.weight: "
                          f"[{len(a.encoder.dictionary)}, 32] in the checkpoint, [{len(bigger.encoder.dictionary)}, 32]")
    assert f"has {len(a.encoder.dictionary)} rows but this task's dictionary has {len(bigger.encoder.dictionary)}" in msg


# ---- task_data_checked --------------------------------------------------------------------------------
NO_DICT = PRELUDE + """
from omegaconf import OmegaConf
from fairseq import tasks
from fairseq.tasks.masked_lm import MaskedLMConfig
cfg = OmegaConf.merge(OmegaConf.structured(MaskedLMConfig), {{"_name": "masked_lm", "data": {data!r}}})
try:
    tasks.setup_task(cfg)
except Exception as e:
    print("ERROR", type(e).__name__, e)
"""


def test_task_data_without_dict_is_named(tmp_path):
    rc, out = run_python(NO_DICT.format(data=str(tmp_path)))
    assert f"ERROR MissingInputError task.data={tmp_path}: no dict.txt in {tmp_path}; expected the output folder " \
           "of scripts/prepare_text.py" in out, out[-2000:]
    rc, out = run_python(NO_DICT.format(data=str(tmp_path / "nope")))
    assert f"task.data={tmp_path / 'nope'}: folder not found" in out


def test_without_task_data_check_fairseq_fails_with_a_bare_file_error(tmp_path):
    rc, out = run_python(NO_DICT.format(data=str(tmp_path)), skip_fixes=["task_data_checked"])
    assert "ERROR FileNotFoundError" in out and "MissingInputError" not in out, out[-2000:]


# ---- rng_seeded_per_update ---------------------------------------------------------------------------
PER_UPDATE = PRELUDE + """
import random, numpy as np
from types import SimpleNamespace
from fairseq.trainer import Trainer
t = SimpleNamespace(cfg=SimpleNamespace(common=SimpleNamespace(seed=3)), get_num_updates=lambda: 7)
draws = []
for junk in (0, 5):
    [random.random() for _ in range(junk)], np.random.rand(junk)  # what ran before this update differs
    Trainer._set_seed(t)
    draws.append((random.random(), float(np.random.rand())))
print("SAME" if draws[0] == draws[1] else "DIFFERENT", draws)
"""


def test_python_and_numpy_generators_follow_the_update_seed():
    rc, out = run_python(PER_UPDATE)
    assert rc == 0 and "SAME" in out, out[-2000:]


def test_without_per_update_seeds_the_draws_depend_on_history():
    rc, out = run_python(PER_UPDATE, skip_fixes=["rng_seeded_per_update"])
    assert rc == 0 and "DIFFERENT" in out, out[-2000:]


# ---- no_prefetch_thread_without_workers --------------------------------------------------------------
PREFETCH = PRELUDE + """
import numpy as np
from fairseq.data import FairseqDataset
from fairseq.tasks import FairseqTask

class Eight(FairseqDataset):
    def __getitem__(self, i): return i
    def __len__(self): return 8
    def num_tokens(self, i): return 1
    def size(self, i): return 1
    def collater(self, samples): return samples
    def ordered_indices(self): return np.arange(8)

ds = Eight()
itr = FairseqTask(None).get_batch_iterator(ds, max_sentences=2, num_workers=0, data_buffer_size=10,
                                           disable_iterator_cache=True)
print("BUFFER", itr.buffer_size)
"""


def test_no_prefetch_thread_without_workers():
    rc, out = run_python(PREFETCH)
    assert rc == 0 and "BUFFER 0" in out, out[-2000:]


def test_without_the_prefetch_fix_a_thread_prepares_batches():
    rc, out = run_python(PREFETCH, skip_fixes=["no_prefetch_thread_without_workers"])
    assert rc == 0 and "BUFFER 10" in out, out[-2000:]


# ---- upstream_image_samples_seeded -------------------------------------------------------------------
SAMPLES = PRELUDE + """
import importlib, random, numpy as np, torch
from omegaconf import OmegaConf
module = importlib.import_module("fairseq.examples.data2vec.tasks.{task}")
Config, Task = (getattr(module, n) for n in {names!r})
cfg = OmegaConf.merge(OmegaConf.structured(Config), {{"data": {root!r}, "input_size": 32}})
task = Task.setup_task(cfg)
task.load_dataset("train")
ds = task.dataset("train")
task.get_batch_iterator(ds, max_sentences=4, seed=5)  # as the trainer does: stamps common.seed
ds.set_epoch(2)
first = ds[3]["img"]
torch.rand(7); random.random(); np.random.rand(3)     # other code draws in between
again = ds[3]["img"]
state = torch.random.get_rng_state()
ds[4]
print("SAME" if torch.equal(first, again) else "DIFFERENT", "RESTORED" if torch.equal(state, torch.random.get_rng_state()) else "CHANGED")
"""


IMAGE_TASKS = pytest.mark.parametrize("task, names", [
    ("image_pretraining", ("ImagePretrainingConfig", "ImagePretrainingTask")),  # v1 (ImageDataset)
    ("mae_image_classification", ("MaeImageClassificationConfig", "MaeImageClassificationTask")),  # 2.0/MAE fine-tuning
], ids=["v1_pretraining", "mae_finetuning"])


@IMAGE_TASKS
def test_image_samples_do_not_depend_on_what_ran_before(task, names):
    rc, out = run_python(SAMPLES.format(task=task, names=names, root=str(require_data("images", "cifar10"))))
    assert rc == 0 and "SAME RESTORED" in out, out[-2000:]


@IMAGE_TASKS
def test_without_sample_seeds_crops_depend_on_the_global_generators(task, names):
    rc, out = run_python(SAMPLES.format(task=task, names=names, root=str(require_data("images", "cifar10"))),
                         skip_fixes=["upstream_image_samples_seeded"])
    assert rc == 0 and "DIFFERENT" in out, out[-2000:]


# ---- data2vec2_teacher_step_kept_on_resume -----------------------------------------------------------
D2V2_RESUME = PRELUDE + """
import torch
from builders import tiny_text_v2_model
m = tiny_text_v2_model(); m.train()
m.set_num_updates(5)                      # what the trainer calls when it loads a checkpoint of update 5
before = {k: v.clone() for k, v in m.ema.fp32_params.items()}
with torch.no_grad():
    for p in m.blocks.parameters(): p.add_(1.0)   # the student of update 5 differs from the teacher
m.set_num_updates(5)                      # what update 6 calls first: the pending EMA step of update 5
moved = any(not torch.equal(before[k], v) for k, v in m.ema.fp32_params.items())
print("STEPPED" if moved else "NOT_STEPPED", "decay=%.6f" % m.ema.get_decay())
"""


def test_resumed_data2vec2_takes_the_pending_teacher_step():
    rc, out = run_python(D2V2_RESUME)
    assert rc == 0 and "STEPPED decay=0.999450" in out, out[-2000:]  # get_annealed_rate(0.999, 0.9999, 5, 10)


def test_without_the_d2v2_fix_the_step_is_lost():
    rc, out = run_python(D2V2_RESUME, skip_fixes=["data2vec2_teacher_step_kept_on_resume"])
    assert rc == 0 and "NOT_STEPPED decay=0.999000" in out, out[-2000:]


# ---- atomic_checkpoint_copies ------------------------------------------------------------------------
CRASHING_COPY = PRELUDE + """
import shutil
from fairseq.file_io import PathManager
src, dst = {src!r}, {dst!r}

def dies_halfway(a, b, **kwargs):  # a copy killed midway: half the bytes written, then the process ends
    data = open(a, "rb").read()
    open(b, "wb").write(data[: len(data) // 2])
    raise KeyboardInterrupt

shutil.copyfile = dies_halfway
try:
    PathManager.copy(src, dst, overwrite=True)
except KeyboardInterrupt:
    pass
print("DST_BYTES", len(open(dst, "rb").read()))
"""


def test_an_interrupted_copy_keeps_the_old_checkpoint_last(tmp_path):
    (tmp_path / "new.pt").write_bytes(b"n" * 10000)
    (tmp_path / "checkpoint_last.pt").write_bytes(b"o" * 6000)
    code = CRASHING_COPY.format(src=str(tmp_path / "new.pt"), dst=str(tmp_path / "checkpoint_last.pt"))
    rc, out = run_python(code)
    assert "DST_BYTES 6000" in out, out[-2000:]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["checkpoint_last.pt", "new.pt"]  # no temp file left
    from fairseq.file_io import PathManager

    assert PathManager.copy(str(tmp_path / "new.pt"), str(tmp_path / "checkpoint_last.pt"), overwrite=True)
    assert (tmp_path / "checkpoint_last.pt").read_bytes() == b"n" * 10000


def test_without_atomic_copies_an_interrupted_copy_truncates_it(tmp_path):
    (tmp_path / "new.pt").write_bytes(b"n" * 10000)
    (tmp_path / "checkpoint_last.pt").write_bytes(b"o" * 6000)
    code = CRASHING_COPY.format(src=str(tmp_path / "new.pt"), dst=str(tmp_path / "checkpoint_last.pt"))
    rc, out = run_python(code, skip_fixes=["atomic_checkpoint_copies"])
    assert "DST_BYTES 5000" in out, out[-2000:]


# ---- signature checks --------------------------------------------------------------------------------
def test_expect_signature_names_what_changed():
    from d2v_ext.compat.signature import UpstreamChangedError, expect_signature

    def forward(self, src_tokens, target_tokens=None, *, new_flag=True):
        pass

    assert expect_signature(forward, "self, src_tokens, target_tokens=None, new_flag=True") is forward
    with pytest.raises(UpstreamChangedError, match=r"changed: its parameters are \(self, src_tokens, "
                                                   r"target_tokens=None, new_flag=True\); the fix was written for"):
        expect_signature(forward, "self, src_tokens, target_tokens=None")


DRIFT = PRELUDE + """
from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextEncoder
from d2v_ext.compat.text_teacher_input import text_teacher_sees_full_sequence
def forward(self, src_tokens, target_tokens=None, padding_mask=None, **unused):  # upstream grew a parameter
    pass
Data2VecTextEncoder.forward = forward
try:
    text_teacher_sees_full_sequence()
    print("WRAPPED")
except ImportError as e:
    print("REFUSED", e)
"""


def test_a_fix_refuses_to_wrap_a_changed_upstream_function():
    rc, out = run_python(DRIFT, skip_fixes=["text_teacher_sees_full_sequence"])
    assert rc == 0 and "REFUSED d2v_ext compat: upstream" in out and "padding_mask=None" in out, out[-2000:]


def test_every_fix_is_applied_once():
    names = [f.__name__ for f in compat.apply_all()]
    assert len(names) == len(set(names)) == len(compat.FIXES) + len(compat.ALWAYS)
