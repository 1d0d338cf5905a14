"""Fix: a mistyped ``checkpoint.restore_file`` silently trains from random initialisation.

fairseq only logs "No existing checkpoint found" when the file is missing, so a fine-tuning run
of a pretrained model with a wrong path quietly becomes a random-init run. An explicit
restore_file (anything but the default ``checkpoint_last.pt``, which means "resume if present")
must now exist.
"""
import functools
import os

from ..errors import MissingInputError
from .signature import expect_signature


def missing_restore_file_is_an_error():
    """Raise MissingInputError for an explicit checkpoint.restore_file that does not exist."""
    import fairseq.checkpoint_utils as cu

    original = cu.load_checkpoint
    if getattr(original, "_d2v_ext_fixed", False):
        return
    expect_signature(original, "cfg, trainer, **passthrough_args")

    @functools.wraps(original)
    def load_checkpoint(cfg, trainer, **kwargs):
        path = cfg.restore_file
        if cfg.checkpoint_suffix:
            path = path.replace(".pt", cfg.checkpoint_suffix + ".pt")
        if cfg.restore_file != "checkpoint_last.pt" and not os.path.isfile(path):
            raise MissingInputError(
                f"checkpoint.restore_file={cfg.restore_file} does not exist; fairseq would silently "
                "start from random initialisation. For a random-init run use "
                "checkpoint.restore_file=checkpoint_last.pt.")
        return original(cfg, trainer, **kwargs)

    load_checkpoint._d2v_ext_fixed = True
    cu.load_checkpoint = load_checkpoint
