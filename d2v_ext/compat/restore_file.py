"""Fix: a mistyped ``checkpoint.restore_file`` silently trains from random initialisation.

fairseq only logs "No existing checkpoint found" when the file is missing, so a fine-tuning run
of a pretrained model with a wrong path quietly becomes a random-init run. An explicit
restore_file (anything but the default ``checkpoint_last.pt``, which means "resume if present")
must now exist.
"""
import os

from ..errors import MissingInputError
from .signature import install_wrapper


def missing_restore_file_is_an_error():
    """Raise MissingInputError for an explicit checkpoint.restore_file that does not exist."""
    import fairseq.checkpoint_utils as cu

    def wrap(original):
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

        return load_checkpoint

    install_wrapper(cu, "load_checkpoint", "cfg, trainer, **passthrough_args", wrap, "restore_file")
