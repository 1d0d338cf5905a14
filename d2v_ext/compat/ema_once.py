"""Upstream bug fix: with gradient accumulation, data2vec v1 steps its EMA teacher once per micro-batch.

fairseq calls ``model.set_num_updates(k)`` before every forward (``FairseqTask.train_step``), so
with ``optimization.update_freq=[2]`` v1 text (``Data2VecTextEncoder``) and v1 vision
(``Data2VecVisionModel``) call ``ema.step`` twice per update: the teacher moves twice as fast as
the schedule says, and the second micro-batch is scored against another teacher than the first.
(data2vec 2.0 already guards against this.) The recipes that accumulate (``image_dino_*``:
update_freq 2) were affected. The teacher now steps once per update; loading a checkpoint resets
the guard, so the first step after a resume is taken.
"""
from .signature import install_wrapper


def _once(original):
    def set_num_updates(self, num_updates):
        if self.training and self.ema is not None and getattr(self, "_d2v_ema_update", None) == num_updates:
            return  # this update's teacher step was taken by the first micro-batch
        original(self, num_updates)
        if self.training and self.ema is not None:
            self._d2v_ema_update = num_updates

    return set_num_updates


def _reset_on_load(original):
    def _load_from_state_dict(self, *args, **kwargs):
        self._d2v_ema_update = None  # the loaded teacher has not taken this update's step yet
        return original(self, *args, **kwargs)

    return _load_from_state_dict


def ema_steps_once_per_update():
    """Guard v1 text's and v1 vision's EMA step so it runs once per update."""
    from fairseq.examples.data2vec.models.data2vec_text import Data2VecTextEncoder
    from fairseq.examples.data2vec.models.data2vec_vision import Data2VecVisionModel

    for cls in (Data2VecTextEncoder, Data2VecVisionModel):
        install_wrapper(cls, "set_num_updates", "self, num_updates", _once, "ema_once")
        install_wrapper(cls, "_load_from_state_dict", "self, state_dict, prefix, *args, **kwargs", _reset_on_load,
                        "ema_once")
