"""Fixes that let upstream data2vec v1 text resume from its own checkpoints.

1. ``AttributeError: 'Data2VecTextEncoder' object has no attribute 'target_model'``: upstream's
   ``Data2VecTextModel.upgrade_state_dict_named`` tests ``self.encoder.target_model``, an attribute
   the encoder never defines, so every checkpoint load of a ``data2vec_text`` model fails.
2. The EMA teacher is silently dropped on resume: the teacher (``encoder._ema`` in the checkpoint)
   is only created by ``set_num_updates`` after loading, so upstream deletes the saved teacher and
   later rebuilds it as a copy of the student. We create the teacher before loading so the saved
   teacher weights are restored, as data2vec's EMA schedule assumes.
"""
import functools


def _text_classes():
    from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextEncoder, Data2VecTextModel

    return Data2VecTextEncoder, Data2VecTextModel


def text_encoder_target_model_attr():
    """Give Data2VecTextEncoder the ``target_model = None`` its model's upgrade code reads."""
    encoder_cls, _ = _text_classes()
    if not hasattr(encoder_cls, "target_model"):
        encoder_cls.target_model = None  # class attribute: nn.Module's __getattr__ is never reached


def restore_text_teacher_on_resume():
    """Build the EMA teacher before a pretraining checkpoint is loaded, so it is restored."""
    _, model_cls = _text_classes()
    original = model_cls.upgrade_state_dict_named
    if getattr(original, "_d2v_ext_fixed", False):
        return

    @functools.wraps(original)
    def upgrade_state_dict_named(self, state_dict, name):
        prefix = name + "." if name != "" else ""
        enc = self.encoder
        if enc.ema is None and enc.regression_head is not None and prefix + "encoder._ema" in state_dict:
            enc.make_ema_teacher()  # _load_from_state_dict then restores it from "encoder._ema"
        return original(self, state_dict, name)

    upgrade_state_dict_named._d2v_ext_fixed = True
    model_cls.upgrade_state_dict_named = upgrade_state_dict_named
