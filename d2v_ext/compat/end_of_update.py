"""Fix: fairseq has no hook at the end of an update, which DINO's center (and a teacher check) need.

DINO moves its center with the mean teacher output of the whole batch. Updated inside each
forward, it moves once per micro-batch (twice per update with ``update_freq=[2]``, each time from
half the batch), so accumulation and multi-process runs of the same batch differ. Our models now
accumulate during the forwards and commit in ``end_update()``; ``FairseqTask.optimizer_step``
calls it on the (unwrapped) model after every optimizer step, on every rank. With
``D2V_EXT_TEACHER_SYNC_CHECK=N`` it also checks every N updates that all ranks hold the same
teacher (``d2v_ext/distributed.py``).
"""
from .signature import install_wrapper


def models_end_their_update():
    """Call ``model.end_update()`` (when the model has one) after each optimizer step."""
    import torch.distributed as dist
    from fairseq.tasks import FairseqTask

    from ..distributed import check_teacher_sync, sync_check_interval, unwrap

    def wrap(original):
        def optimizer_step(self, optimizer, model, update_num):
            original(self, optimizer, model, update_num)
            inner = unwrap(model)
            if hasattr(inner, "end_update"):
                inner.end_update()
            every = sync_check_interval()
            if every and dist.is_available() and dist.is_initialized() and (update_num + 1) % every == 0:
                check_teacher_sync(inner, update_num + 1)

        return optimizer_step

    install_wrapper(FairseqTask, "optimizer_step", "self, optimizer, model, update_num", wrap, "end_update")
