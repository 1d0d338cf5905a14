"""The compat fixes behind multi-process training on CPU and gradient accumulation: what each makes
work and, in a fresh interpreter with that fix left out, that the failure comes back (the end-to-end
runs are in test_e2e_distributed.py)."""
import pytest
import torch

import d2v_ext  # noqa: F401  (applies every fix)
from helpers import run_python

PRELUDE = "import sys; sys.path.insert(0, 'tests'); import d2v_ext\n"


# ---- ema_steps_once_per_update ---------------------------------------------------------------------
EMA_TWICE = PRELUDE + """
import torch
from builders import tiny_text_v1_model, tiny_vision_v1_model
for name, build, teacher in (("text", tiny_text_v1_model, lambda m: m.encoder.ema),
                             ("vision", tiny_vision_v1_model, lambda m: m.ema)):
    m = build(); m.train(); m.set_num_updates(0)            # builds the teacher
    with torch.no_grad():
        for p in m.parameters(): p.add_(1.0)                # a student far from its teacher
    k = next(k for k in teacher(m).fp32_params if k.endswith(("fc1.weight", "norm1.weight")))  # not "version"
    before = teacher(m).fp32_params[k].clone()
    m.set_num_updates(1)                                    # first micro-batch of update 1: a step
    once = teacher(m).fp32_params[k].clone()
    m.set_num_updates(1)                                    # second micro-batch of the same update
    print(name, "STEPPED_ONCE" if torch.equal(once, teacher(m).fp32_params[k]) else "STEPPED_TWICE",
          "MOVED" if not torch.equal(before, once) else "NOT_MOVED")
"""


def test_the_teacher_steps_once_per_update():
    rc, out = run_python(EMA_TWICE)
    assert rc == 0 and "text STEPPED_ONCE MOVED" in out and "vision STEPPED_ONCE MOVED" in out, out[-2000:]


def test_without_the_guard_accumulation_steps_the_teacher_twice():
    rc, out = run_python(EMA_TWICE, skip_fixes=["ema_steps_once_per_update"])
    assert rc == 0 and "text STEPPED_TWICE" in out and "vision STEPPED_TWICE" in out, out[-2000:]


def test_a_load_resets_the_guard_so_the_resumed_step_is_taken():
    from builders import tiny_text_v1_model

    a = tiny_text_v1_model()
    a.train()
    a.set_num_updates(0)
    state = a.state_dict()
    b = tiny_text_v1_model()
    b.train()
    b.set_num_updates(4)                 # the trainer's call before loading (builds a teacher)
    b.load_state_dict(dict(state))       # the saved teacher replaces it
    with torch.no_grad():
        for p in b.encoder.sentence_encoder.parameters():
            p.add_(1.0)
    k = "layers.0.fc1.weight"
    before = b.encoder.ema.fp32_params[k].clone()
    b.set_num_updates(4)                 # the first micro-batch after the resume: update 4's step
    assert not torch.equal(before, b.encoder.ema.fp32_params[k])


# ---- models_end_their_update -----------------------------------------------------------------------
END_UPDATE = PRELUDE + """
import torch
from fairseq.tasks import FairseqTask
class Inner(torch.nn.Module):
    def end_update(self): print("END_UPDATE_CALLED")
class Wrapper(torch.nn.Module):  # as fairseq's DDP wrappers hold the model
    def __init__(self): super().__init__(); self.module = Inner()
class Opt:
    def step(self): print("OPTIMIZER_STEP")
FairseqTask(None).optimizer_step(Opt(), Wrapper(), 3)
"""


def test_the_model_ends_its_update_after_the_optimizer_step():
    rc, out = run_python(END_UPDATE)
    assert rc == 0 and out.index("OPTIMIZER_STEP") < out.index("END_UPDATE_CALLED"), out[-2000:]


def test_without_the_hook_nothing_ends_the_update():
    rc, out = run_python(END_UPDATE, skip_fixes=["models_end_their_update"])
    assert rc == 0 and "OPTIMIZER_STEP" in out and "END_UPDATE_CALLED" not in out, out[-2000:]


# ---- variance_monitors_off_gpu ---------------------------------------------------------------------
VARIANCE = PRELUDE + """
import torch, torch.distributed as dist
from fairseq.examples.data2vec.models.data2vec2 import Data2VecMultiModel
dist.init_process_group("gloo", init_method="tcp://127.0.0.1:{port}", rank=0, world_size=1)
y = torch.randn(40, 8, dtype=torch.float64)
try:
    got = Data2VecMultiModel.compute_var(y)
    print("VAR", abs(float(got) - float(torch.sqrt(y.var(dim=0) + 1e-6).mean())))
except RuntimeError as e:
    print("FAILED", str(e).splitlines()[0])
sys.stdout.flush()
dist.destroy_process_group()  # left to interpreter exit, gloo's threads can abort it ("terminate called ...")
"""


def test_collapse_monitors_all_reduce_on_cpu():
    from d2v_ext.compat.cpu_distributed import free_port

    rc, out = run_python(VARIANCE.format(port=free_port()))
    assert rc == 0 and "VAR" in out, out[-2000:]
    assert float(out.split("VAR")[1].split()[0]) < 1e-12  # the pooled formula = the plain std on one rank


def test_without_the_fix_they_ask_for_a_gpu():
    from d2v_ext.compat.cpu_distributed import free_port

    rc, out = run_python(VARIANCE.format(port=free_port()), skip_fixes=["variance_monitors_off_gpu"])
    assert "FAILED" in out and "NVIDIA" in out, out[-2000:]


# ---- broadcast_object's messages -------------------------------------------------------------------
def test_broadcast_messages_load_but_files_may_not_hold_placeholders():
    import io

    import fairseq.checkpoint_utils as cu
    import fairseq.distributed.utils as du
    from omegaconf import OmegaConf

    from d2v_ext.errors import UnsafeCheckpointError

    buf = io.BytesIO()
    torch.save({"cfg": OmegaConf.create({"a": 1}), "t": du._TensorPlaceholder(index=0)}, buf)
    buf.seek(0)
    got = du.torch.load(buf, map_location="cpu")  # what broadcast_object does on ranks > 0
    assert got["t"].index == 0 and got["cfg"].a == 1
    buf.seek(0)
    with pytest.raises(UnsafeCheckpointError, match="_TensorPlaceholder"):
        cu.torch.load(buf, map_location="cpu")


# ---- cpu_distributed_start (its spawn and torchrun runs are end to end) ----------------------------
def test_cpu_start_up_settings():
    from omegaconf import OmegaConf

    from d2v_ext.compat.cpu_distributed import prepare_cpu_distributed

    def cfg(**dist):
        d = dict(distributed_world_size=2, distributed_init_method=None, distributed_backend="nccl",
                 ddp_backend="c10d", distributed_port=-1, distributed_rank=0, device_id=0, distributed_no_spawn=False,
                 distributed_num_procs=1)
        d.update(dist)
        return OmegaConf.create({"common": {"cpu": True}, "distributed_training": d})

    c = cfg()
    assert prepare_cpu_distributed(c)
    d = c.distributed_training
    assert d.distributed_backend == "gloo" and d.ddp_backend == "legacy_ddp" and d.distributed_num_procs == 2
    assert d.distributed_init_method.startswith("tcp://localhost:") and not d.distributed_no_spawn
    assert not prepare_cpu_distributed(cfg(distributed_world_size=1))           # one process: fairseq's path
    assert not prepare_cpu_distributed(cfg(distributed_init_method="tcp://h:1"))  # the user chose: fairseq's path


CLOSE = PRELUDE + """
import torch.distributed as dist
import fairseq.distributed.utils as du
from fairseq.dataclass.configs import FairseqConfig
from omegaconf import OmegaConf
from d2v_ext.compat.cpu_distributed import distributed_main_then_close
cfg = OmegaConf.structured(FairseqConfig)
cfg.common.cpu = True
cfg.model = {{}}  # distributed_init reads cfg.model.base_layers
d = cfg.distributed_training
d.distributed_world_size, d.distributed_rank, d.distributed_backend = 1, 0, "gloo"
d.distributed_init_method = "tcp://127.0.0.1:{port}"
run = {{"closing": distributed_main_then_close, "upstream": du.distributed_main}}["{which}"]
run(0, lambda c: print("INSIDE", dist.is_initialized()), cfg, {{}})
print("AFTER", dist.is_initialized())
if dist.is_initialized():
    dist.destroy_process_group()  # this script's own clean exit
"""


@pytest.mark.parametrize("which, after", [("closing", False), ("upstream", True)])
def test_a_cpu_rank_closes_its_process_group_when_training_returns(which, after):
    """Left open, gloo's threads can abort the finished rank at exit (SIGABRT: the spawn fails a run
    that trained to the end); upstream's distributed_main leaves the group open."""
    from d2v_ext.compat.cpu_distributed import free_port

    rc, out = run_python(CLOSE.format(port=free_port(), which=which))
    assert rc == 0 and "INSIDE True" in out and f"AFTER {after}" in out, out[-2000:]
