"""Fixes that let upstream data2vec v1 text resume from its own checkpoints.

1. ``AttributeError: 'Data2VecTextEncoder' object has no attribute 'target_model'``: upstream's
   ``Data2VecTextModel.upgrade_state_dict_named`` tests ``self.encoder.target_model``, an attribute
   the encoder never defines, so every checkpoint load of a ``data2vec_text`` model fails.
2. A direct load drops the saved EMA teacher: upstream's upgrade code deletes ``encoder._ema`` from
   the state dict when the model has no teacher yet, and the teacher is only created by
   ``set_num_updates``. fairseq's trainer and ``load_model_ensemble_and_task`` call
   ``set_num_updates`` before ``load_state_dict``, so they are not affected; ``build_model`` then
   ``load_state_dict`` (a script reading the teacher, a converter, a test) is. We create the teacher
   before loading, so the saved teacher weights are restored on every path.
"""
from .signature import install_wrapper


def _text_classes():
    from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextEncoder, Data2VecTextModel

    return Data2VecTextEncoder, Data2VecTextModel


def text_encoder_target_model_attr():
    """Give Data2VecTextEncoder the ``target_model = None`` its model's upgrade code reads."""
    encoder_cls, _ = _text_classes()
    if not hasattr(encoder_cls, "target_model"):
        encoder_cls.target_model = None  # class attribute: nn.Module's __getattr__ is never reached


def restore_text_teacher_on_resume():
    """Build the EMA teacher before a pretraining checkpoint is loaded directly, so it is restored."""
    _, model_cls = _text_classes()

    def wrap(original):
        def upgrade_state_dict_named(self, state_dict, name):
            prefix = name + "." if name != "" else ""
            enc = self.encoder
            if enc.ema is None and enc.regression_head is not None and prefix + "encoder._ema" in state_dict:
                enc.make_ema_teacher()  # _load_from_state_dict then restores it from "encoder._ema"
            return original(self, state_dict, name)

        return upgrade_state_dict_named

    install_wrapper(model_cls, "upgrade_state_dict_named", "self, state_dict, name", wrap, "text_teacher_restore")
