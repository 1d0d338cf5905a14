"""Upstream bug fix: a resumed data2vec 2.0 run skips one EMA teacher step.

fairseq calls ``model.set_num_updates(k)`` at the start of update k+1 (``FairseqTask.train_step``),
and data2vec 2.0 steps its EMA teacher there, with the student of update k. A checkpoint written
after update k therefore holds the teacher of step k-1: step k is still to come. On resume the
trainer calls ``set_num_updates(k)`` on the fresh model, which upstream answers with "no step, just
remember k" (its guard for a model that never stepped); the next ``set_num_updates(k)`` then sees
nothing new, and step k is lost for good (and ``ema_decay`` logs the initial decay). Measured on
tiny text_v2: every tensor of a 16-update run split at 8 differed from the uninterrupted run (up to
1.6e-4). A model that has never stepped now remembers k-1, so the pending step k is taken.
"""
from .signature import install_wrapper


def data2vec2_teacher_step_kept_on_resume():
    """Make data2vec 2.0's first ``set_num_updates(k > 1)`` leave update k's EMA step pending."""
    from fairseq.examples.data2vec.models.data2vec2 import Data2VecMultiModel

    def wrap(original):
        def set_num_updates(self, num_updates):
            resuming = self.ema is not None and self.num_updates == 0 and num_updates > 1
            original(self, num_updates)
            if resuming:
                self.num_updates = num_updates - 1  # the teacher in the checkpoint stepped up to k-1

        return set_num_updates

    install_wrapper(Data2VecMultiModel, "set_num_updates", "self, num_updates", wrap, "d2v2_resume")
