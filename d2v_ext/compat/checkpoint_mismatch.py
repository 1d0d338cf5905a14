"""Fix: a checkpoint that does not fit the model stops fairseq with "Cannot load model parameters
from checkpoint ...; please ensure that the architectures match" and a traceback.

The reason (``size mismatch for ...embed_tokens.weight``, missing keys) is only in the chained
exception. ``Trainer.load_checkpoint`` now raises :class:`CheckpointMismatchError` naming the
file and the first mismatching tensors; an embedding whose row count differs is explained as what it
almost always is: data binarized with another dictionary than the checkpoint's.
"""
import re

from ..errors import CheckpointMismatchError
from .signature import install_wrapper

SIZE = re.compile(r"size mismatch for (\S+): copying a param with shape torch.Size\(\[([\d, ]*)\]\) from "
                  r"checkpoint, the shape in current model is torch.Size\(\[([\d, ]*)\]\)")


def explain_mismatch(filename, error_text):
    """A readable account of a ``load_state_dict`` RuntimeError."""
    sizes = SIZE.findall(error_text)
    parts = [f"{k}: [{a}] in the checkpoint, [{b}] in the model" for k, a, b in sizes[:3]]
    keys = re.findall(r"(Missing key\(s\)|Unexpected key\(s\)) in state_dict: ([^\n]*)", error_text)
    parts += [f"{what.lower()} {names[:200]}" for what, names in keys]
    msg = f"{filename} does not fit the model built here: " + ("; ".join(parts) or error_text.splitlines()[0])
    emb = [(a, b) for k, a, b in sizes if k.endswith("embed_tokens.weight")]
    if emb:
        rows_ckpt, rows_model = emb[0][0].split(",")[0], emb[0][1].split(",")[0]
        msg += (f". The checkpoint's embedding has {rows_ckpt} rows but this task's dictionary has {rows_model} "
                "symbols: binarize the data with the checkpoint's dict.txt (prepare_glue.py --dict, "
                "prepare_text.py --srcdict)")
    return msg


def checkpoint_mismatch_explained():
    """Replace fairseq's "architectures match" message by the tensors that do not fit."""
    from fairseq.trainer import Trainer

    def wrap(original):
        def load_checkpoint(self, filename, *args, **kwargs):
            try:
                return original(self, filename, *args, **kwargs)
            except Exception as e:
                cause = e.__context__
                if str(e).startswith("Cannot load model parameters") and isinstance(cause, RuntimeError):
                    raise CheckpointMismatchError(explain_mismatch(filename, str(cause))) from e
                raise

        return load_checkpoint

    install_wrapper(Trainer, "load_checkpoint", "self, filename, reset_optimizer=False, reset_lr_scheduler=False, "
                    "optimizer_overrides=None, reset_meters=False", wrap, "mismatch")
