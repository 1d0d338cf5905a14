"""Fix: with ``dataset.num_workers=0``, fairseq prepares batches in a background thread that shares
the global random generators with training, so no two runs (and no resume) agree.

``data_buffer_size`` (default 10) wraps the loader in a ``BufferedIterator`` thread. Without
workers, that thread runs the dataset code itself: masked_lm's ``numpy_seed`` blocks and the image
augmentations swap the global torch / NumPy / Python generator states while the training thread
draws data2vec 2.0's masks, layerdrop and drop path from them, in an order set by thread timing.
(Measured: two identical tiny ``text_v2`` runs differed by 1.6e-4 after 16 updates, ``vision_v1``
already at update 1; a run that stops while the thread is in a transform aborts with
"terminate called without an active exception".) Without workers the thread is now not used:
batches are prepared in the training thread (with workers, the thread only moves finished batches
and stays).
"""
import inspect
import logging

from .signature import install_wrapper

logger = logging.getLogger("d2v_ext")
BATCH_ITERATOR = ("self, dataset, max_tokens=None, max_sentences=None, max_positions=None, ignore_invalid_inputs=False, "
                  "required_batch_size_multiple=1, seed=1, num_shards=1, shard_id=0, num_workers=0, epoch=1, "
                  "data_buffer_size=0, disable_iterator_cache=False, skip_remainder_batch=False, "
                  "grouped_shuffling=False, update_epoch_batch_itr=False")


def no_prefetch_thread_without_workers():
    """``data_buffer_size`` becomes 0 when ``num_workers`` is 0."""
    from fairseq.tasks import FairseqTask

    def wrap(original):
        params = inspect.signature(original)

        def get_batch_iterator(self, *args, **kwargs):
            bound = params.bind(self, *args, **kwargs)
            if bound.arguments.get("num_workers", 0) == 0 and bound.arguments.get("data_buffer_size", 0) > 0:
                bound.arguments["data_buffer_size"] = 0
            return original(*bound.args, **bound.kwargs)

        return get_batch_iterator

    install_wrapper(FairseqTask, "get_batch_iterator", BATCH_ITERATOR, wrap, "no_prefetch_thread")
