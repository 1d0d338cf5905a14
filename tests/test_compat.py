"""Each compat fix: what it makes work (in this process, fixes applied) and, in a fresh
interpreter with that one fix skipped (D2V_EXT_COMPAT_SKIP), that the original failure returns."""
import dataclasses
import logging

import pytest
import torch

import d2v_ext  # noqa: F401  (applies every fix)
from d2v_ext import compat
from d2v_ext.compat.dataclass_defaults import defaults_to_factories
from helpers import run_python
from builders import tiny_text_v1_model, tiny_vision_v1_model

PRELUDE = "import sys; sys.path.insert(0, 'tests'); import d2v_ext\n"

UPSTREAM_MODELS = ["data2vec_text", "data2vec_audio", "data2vec_vision", "data2vec_multi",
                   "data2vec_text_classification", "data2vec_image_classification", "mae",
                   "mae_image_classification", "audio_classification"]
UPSTREAM_TASKS = ["image_pretraining", "image_classification", "mae_image_pretraining",
                  "mae_image_classification", "audio_classification", "multimodal_pretraining"]


def test_every_upstream_model_and_task_registers():
    from fairseq.models import MODEL_REGISTRY
    from fairseq.tasks import TASK_REGISTRY

    assert set(UPSTREAM_MODELS) <= set(MODEL_REGISTRY)
    assert set(UPSTREAM_TASKS) <= set(TASK_REGISTRY)
    assert MODEL_REGISTRY["data2vec_multi"].__module__ == "fairseq.examples.data2vec.models.data2vec2"


SHADOWING = PRELUDE + """
import importlib.machinery, os, sys, sysconfig
import fairseq
pkg = os.path.dirname(fairseq.__file__)
# where `import logging` / `import examples` would come from now (sys.path search, ignoring what is imported)
spec = importlib.machinery.PathFinder.find_spec("logging")
print("LOGGING_FROM", spec.origin)
print("FAIRSEQ_DIR_ON_PATH", any(os.path.abspath(p) == pkg for p in sys.path))
print("EXAMPLES_ON_PATH", importlib.machinery.PathFinder.find_spec("examples") is not None)
print("STDLIB", sysconfig.get_paths()["stdlib"])
"""


def test_examples_alias_does_not_shadow_the_stdlib():
    rc, out = run_python(SHADOWING)
    assert rc == 0, out[-2000:]
    lines = dict(line.split(" ", 1) for line in out.splitlines() if line.split(" ")[0].isupper() and " " in line)
    # the fix that puts fairseq's folder on sys.path instead (what upstream's README does) fails all three
    assert lines["LOGGING_FROM"].startswith(lines["STDLIB"]) and "fairseq" not in lines["LOGGING_FROM"]
    assert lines["FAIRSEQ_DIR_ON_PATH"] == "False" and lines["EXAMPLES_ON_PATH"] == "False"
    import examples.data2vec  # noqa: F401  (resolves through the alias, not through sys.path)


def test_examples_alias_is_the_same_module():
    import examples.data2vec.data.modality as via_alias
    from fairseq.examples.data2vec.data import modality

    assert via_alias is modality  # one Modality enum, not two
    from fairseq.examples.data2vec.models.modalities.base import Modality as used_by_upstream

    assert used_by_upstream is modality.Modality


def test_without_examples_alias_data2vec2_cannot_import():
    rc, out = run_python(PRELUDE, skip_fixes=["alias_examples_namespace"])
    assert rc != 0 and "No module named 'examples'" in out


def test_dataclass_instance_defaults_become_fresh_copies():
    @dataclasses.dataclass
    class Inner:
        x: int = 1

    class Outer:
        __annotations__ = {"inner": Inner}
        inner = Inner(x=7)

    Outer = dataclasses.dataclass(defaults_to_factories(Outer))
    a, b = Outer(), Outer()
    assert a.inner.x == 7 and b.inner.x == 7
    assert a.inner is not b.inner  # the shared-mutable-default bug Python 3.11 guards against


def test_without_dataclass_fix_upstream_text_fails():
    rc, out = run_python("import fairseq.examples.data2vec.models.data2vec_text")
    assert rc != 0 and "mutable default" in out and "TransformerConfig" in out


def test_nested_transformer_decoder_interpolation_resolves():
    from builders import tiny_text_v1_cfg

    cfg = tiny_text_v1_cfg()
    assert cfg.transformer.decoder.input_dim == cfg.transformer.decoder.embed_dim == 512
    model = tiny_text_v1_model()
    assert model.encoder.sentence_encoder.layers[0].embed_dim == 32


def test_without_class_defaults_fix_model_build_fails():
    rc, out = run_python(PRELUDE + "from builders import tiny_text_v1_model; tiny_text_v1_model()",
                         skip_fixes=["materialize_class_defaults"])
    assert rc != 0 and "InterpolationKeyError" in out and "model.decoder.embed_dim" in out


LOAD_TEXT = PRELUDE + """
from builders import tiny_text_v1_model
m = tiny_text_v1_model(); m.load_state_dict(m.state_dict()); print("LOADED")
"""


def test_text_model_loads_its_own_state():
    model = tiny_text_v1_model()
    model.load_state_dict(model.state_dict())  # upstream: AttributeError target_model


def test_without_target_model_fix_text_checkpoint_load_fails():
    rc, out = run_python(LOAD_TEXT, skip_fixes=["text_encoder_target_model_attr"])
    assert rc != 0 and "has no attribute 'target_model'" in out


RESUME_TEACHER = PRELUDE + """
import torch
from builders import tiny_text_v1_model
torch.manual_seed(0)
a = tiny_text_v1_model(); a.train(); a.set_num_updates(0)          # teacher created
with torch.no_grad():
    for p in a.encoder.sentence_encoder.parameters(): p.add_(1.0)   # student moves away
a.set_num_updates(1)                                               # EMA step: teacher != student
state = a.state_dict()
b = tiny_text_v1_model(); b.load_state_dict(dict(state))  # upstream deletes keys in place
b.eval(); b.set_num_updates(1)  # creates a teacher if none was restored; eval: no EMA step
k = "layers.0.fc1.weight"
saved, got = state["encoder._ema"][k], b.encoder.ema.fp32_params[k]
student = a.encoder.sentence_encoder.state_dict()[k]
print("TEACHER_RESTORED" if torch.allclose(saved, got) else "TEACHER_LOST",
      "student_dist=%.3f" % (saved - student).abs().max())
"""


def test_direct_load_restores_text_teacher():
    rc, out = run_python(RESUME_TEACHER)
    assert rc == 0 and "TEACHER_RESTORED" in out, out[-2000:]


def test_without_teacher_fix_a_direct_load_loses_the_teacher():
    rc, out = run_python(RESUME_TEACHER, skip_fixes=["restore_text_teacher_on_resume"])
    assert rc == 0 and "TEACHER_LOST" in out, out[-2000:]


def test_trainer_order_restores_the_teacher_even_without_the_fix():
    # fairseq's trainer and load_model_ensemble_and_task call set_num_updates (which builds the teacher)
    # before load_state_dict: the fix is needed only for direct loads (documented in the README)
    trainer_order = RESUME_TEACHER.replace("b = tiny_text_v1_model(); b.load_state_dict(dict(state))",
                                           "b = tiny_text_v1_model(); b.set_num_updates(1); b.load_state_dict(dict(state))")
    assert trainer_order != RESUME_TEACHER
    rc, out = run_python(trainer_order, skip_fixes=["restore_text_teacher_on_resume"])
    assert rc == 0 and "TEACHER_RESTORED" in out, out[-2000:]


TEACHER_INPUT = PRELUDE + """
import torch
from builders import masked_lm_batch, tiny_text_v1_cfg
from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextModel
torch.manual_seed(0)
task, src, tgt, full = masked_lm_batch()
model = Data2VecTextModel.build_model(tiny_text_v1_cfg(), task)
model.train(); model.set_num_updates(0)  # builds the EMA teacher
seen = []
model.encoder.ema.model.register_forward_pre_hook(lambda m, args: seen.append(args[0].clone()))
out = model(src, tgt)
assert torch.isfinite(out["losses"]["main"]).all()
print("TEACHER_SAW_FULL" if torch.equal(seen[0], full) else "TEACHER_SAW_PADS",
      int(seen[0].eq(1).sum()), int(full.eq(1).sum()))
"""


def test_text_teacher_encodes_the_unmasked_sentence():
    from d2v_ext.data.masked_lm import unmasked_tokens
    from d2v_ext.errors import ConfigError
    from builders import masked_lm_batch

    _, src, tgt, full = masked_lm_batch()
    assert src.eq(src.max()).any() and not torch.equal(src, full)  # <mask> present: the views differ
    assert torch.equal(unmasked_tokens(src, tgt, 1), full)
    assert torch.equal(unmasked_tokens(src, full, 1), full)  # already-full targets pass through
    with pytest.raises(ConfigError, match="differ in shape"):
        unmasked_tokens(src, tgt[:, :-1], 1)
    rc, out = run_python(TEACHER_INPUT)
    assert rc == 0 and "TEACHER_SAW_FULL" in out, out[-2000:]


def test_without_teacher_input_fix_the_teacher_sees_mostly_padding():
    rc, out = run_python(TEACHER_INPUT, skip_fixes=["text_teacher_sees_full_sequence"])
    assert rc == 0 and "TEACHER_SAW_PADS" in out, out[-2000:]
    seen_pads, real_pads = map(int, out.split("TEACHER_SAW_PADS")[1].split()[:2])
    assert seen_pads > 2 * real_pads  # most unmasked tokens were replaced by <pad> (fairseq #4881)


def test_vision_block_mask_covers_requested_patches():
    torch.manual_seed(0)
    model = tiny_vision_v1_model()
    mask = model.make_mask(4, 6, 2, 16)  # upstream: np.int -> AttributeError on numpy 2
    assert mask.shape == (4, 4, 4)
    assert (mask.flatten(1).sum(1) >= 6).all() and mask.max() == 1


def test_without_numpy_fix_vision_mask_fails():
    rc, out = run_python(PRELUDE + "from builders import tiny_vision_v1_model\n"
                         "tiny_vision_v1_model().make_mask(2, 6, 2, 16)",
                         skip_fixes=["numpy_removed_aliases"])
    assert rc != 0 and "has no attribute 'int'" in out


def test_mae_sincos_embedding_works_on_numpy2():
    from fairseq.examples.data2vec.models.mae import get_2d_sincos_pos_embed

    emb = get_2d_sincos_pos_embed(8, 4, cls_token=True)  # np.float inside
    assert emb.shape == (17, 8) and abs(emb[1:, :2].max()) <= 1.0


def test_vision_forward_prints_nothing(capsys):
    model = tiny_vision_v1_model()
    model.set_num_updates(0)
    out = model(torch.randn(2, 3, 32, 32))
    assert torch.isfinite(out["losses"]["regression"]).all()
    printed = capsys.readouterr().out
    assert "inside block" not in printed and "relative_position_bias" not in printed and "window_size" not in printed


def test_without_print_fix_vision_forward_floods_stdout():
    rc, out = run_python(PRELUDE + "import torch\nfrom builders import tiny_vision_v1_model\n"
                         "m = tiny_vision_v1_model(); m(torch.randn(2, 3, 32, 32), mask=False)",
                         skip_fixes=["silence_vision_debug_prints"])
    assert rc == 0 and out.count("inside block :") == 2  # one line per block (depth 2)
    assert out.count("self.relative_position_index :") == 1  # the shared bias prints whole tensors


def test_torch_fused_adamw_matches_reference_adamw():
    from d2v_ext.compat.fused_adam import TorchFusedAdamW

    torch.manual_seed(0)
    w0 = torch.randn(64, 16)
    params = [torch.nn.Parameter(w0.clone()) for _ in range(2)]
    fused = TorchFusedAdamW([params[0]], lr=1e-2, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1)
    ref = torch.optim.AdamW([params[1]], lr=1e-2, betas=(0.9, 0.98), eps=1e-6, weight_decay=0.1,
                            foreach=False)
    for step in range(5):
        g = torch.randn(64, 16)
        for p, opt in zip(params, (fused, ref)):
            p.grad = g.clone()
            opt.step()
    assert fused.defaults["fused"] is True
    torch.testing.assert_close(params[0], params[1], rtol=1e-5, atol=1e-6)
    assert not torch.allclose(params[0], w0)


def test_fairseq_adam_takes_torch_fused_path_on_gpu(monkeypatch):
    from fairseq.optim.adam import FairseqAdam, FairseqAdamConfig
    from d2v_ext.compat.fused_adam import TorchFusedAdamW

    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # fairseq's condition only
    cfg = FairseqAdamConfig(lr=[1e-3], adam_betas="(0.9, 0.98)", adam_eps=1e-6, weight_decay=0.01,
                            tpu=False)  # outside hydra, II("common.tpu") would stay a string
    opt = FairseqAdam(cfg, [torch.nn.Parameter(torch.zeros(3))])
    assert isinstance(opt._optimizer, TorchFusedAdamW)
    assert opt._optimizer.defaults["betas"] == (0.9, 0.98)


def test_without_fused_adam_fix_fairseq_has_no_fused_class():
    rc, out = run_python(PRELUDE + "import fairseq.optim.adam as a; print('CLASS', a.get_fused_adam_class())",
                         skip_fixes=["torch_fused_adam_fallback"])
    assert rc == 0 and "CLASS None" in out


def test_startup_line_names_kernels(caplog):
    with caplog.at_level(logging.INFO, logger="d2v_ext"):
        compat.log_fused_kernels()
    line = next(r.getMessage() for r in caplog.records if "kernels:" in r.getMessage())
    assert "layer_norm=torch LayerNorm" in line and "apex=no" in line


def test_unknown_skip_name_is_an_error(monkeypatch):
    monkeypatch.setenv("D2V_EXT_COMPAT_SKIP", "no_such_fix")
    with pytest.raises(ValueError, match="no_such_fix"):
        compat.apply_all()


FINETUNE_MODE = PRELUDE + """
from builders import tiny_text_v1_model
m = tiny_text_v1_model(); m.register_classification_head("sentence_classification_head", num_classes=2)
m.train(); m.set_num_updates(0); m.set_num_updates(1)
print("TEACHER" if m.encoder.ema is not None else "NO_TEACHER",
      "REGRESSION_HEAD" if m.encoder.regression_head is not None else "NO_REGRESSION_HEAD")
"""


def test_classification_head_switches_to_finetuning_mode():
    import torch

    pre = tiny_text_v1_model()
    pre.set_num_updates(0)  # pretraining model with a teacher
    state = pre.state_dict()
    assert "encoder._ema" in state and any(".regression_head." in k for k in state)
    ft = tiny_text_v1_model()
    ft.register_classification_head("sentence_classification_head", num_classes=2)
    ft.load_state_dict(dict(state))  # upstream's upgrade code drops regression head and teacher
    ft.train()
    ft.set_num_updates(1)
    assert ft.encoder.ema is None and ft.encoder.regression_head is None
    k = "encoder.sentence_encoder.layers.0.fc1.weight"
    assert torch.equal(ft.state_dict()[k], state[k])  # the pretrained encoder weights were loaded
    logits, _ = ft(torch.tensor([[0, 5, 6, 2]]), classification_head_name="sentence_classification_head")
    assert logits.shape == (1, 2)


def test_without_finetuning_fix_a_teacher_is_built_and_stepped():
    rc, out = run_python(FINETUNE_MODE, skip_fixes=["data2vec_text_finetuning_mode"])
    assert rc == 0 and "TEACHER REGRESSION_HEAD" in out
    rc, out = run_python(FINETUNE_MODE)
    assert rc == 0 and "NO_TEACHER NO_REGRESSION_HEAD" in out


MISSING_RESTORE = PRELUDE + """
from types import SimpleNamespace
import fairseq.checkpoint_utils as cu
from d2v_ext.errors import MissingInputError

class Trainer:  # records what fairseq asks of the trainer
    checkpoint_suffix = ""
    def load_checkpoint(self, path, *args, **kwargs):
        print("TRAINER_LOAD", path, "exists" if __import__("os").path.exists(path) else "missing")
    def get_train_iterator(self, epoch, **kwargs):
        print("FRESH_ITERATOR epoch", epoch)
        return SimpleNamespace(epoch=epoch)
    def lr_step(self, epoch):
        pass

cfg = SimpleNamespace(restore_file="/no/such/checkpoint.pt", checkpoint_suffix="", reset_optimizer=False,
                      reset_lr_scheduler=False, optimizer_overrides="{}", reset_meters=False, reset_dataloader=False,
                      finetune_from_model=None, save_dir="/tmp")
try:
    cu.load_checkpoint(cfg, Trainer())
    print("TRAINING_STARTS")
except MissingInputError as e:
    print("RAISED", e)
"""


def test_missing_restore_file_is_an_error():
    rc, out = run_python(MISSING_RESTORE)
    assert "RAISED checkpoint.restore_file=/no/such/checkpoint.pt does not exist" in out, out[-2000:]
    assert "TRAINER_LOAD" not in out


def test_without_restore_fix_a_missing_file_means_random_init():
    rc, out = run_python(MISSING_RESTORE, skip_fixes=["missing_restore_file_is_an_error"])
    # fairseq hands the missing path to the trainer (which finds nothing), then starts at epoch 1
    assert rc == 0 and "TRAINER_LOAD /no/such/checkpoint.pt missing" in out and "FRESH_ITERATOR epoch 1" in out
    assert "TRAINING_STARTS" in out, out[-2000:]
