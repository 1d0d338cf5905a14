"""The project's user-facing errors: one base class, one subclass per kind of bad input.

Every message names the file (with the line, question id, field or config key where there is one)
and says what was expected. Scripts print ``<script>: error: <message>`` and exit 2 (``--debug`` or
``D2V_EXT_DEBUG=1`` shows the traceback instead; see :mod:`d2v_ext.cli`). The base class is a
hydra ``CompactHydraException``, so inside ``fairseq-hydra-train`` hydra prints the message alone,
without a traceback (``HYDRA_FULL_ERROR=1`` or ``D2V_EXT_DEBUG=1`` shows it).
"""
import re

from hydra.errors import CompactHydraException

# torch's DataLoader re-raises a worker's exception as ExcType("Caught ExcType in DataLoader worker
# process N.\nOriginal Traceback (most recent call last): ... ExcType: message"): keep the message.
_WORKER_WRAPPED = re.compile(r"^Caught (\w+) in (DataLoader worker process \d+)\.\nOriginal Traceback.*?\n"
                             r"(?:[\w.]+\.)?\1: (.*?)\s*\Z", re.S)


class D2vExtError(CompactHydraException):
    """Bad input a user can fix; the message names the file (line, id, field or key) and what was expected."""

    def __init__(self, message=""):
        m = _WORKER_WRAPPED.match(str(message))
        super().__init__(f"{m.group(3)} (in {m.group(2)})" if m else message)


class DataError(D2vExtError, ValueError):
    """Malformed input data (text, TSV, json, images, logs): names the file and the line, id or field."""


class MissingInputError(D2vExtError, FileNotFoundError):
    """A file or folder the command needs does not exist (or is not the kind of path expected)."""


class ConfigError(D2vExtError, ValueError):
    """A bad option or config value: names the flag or config key and what was expected."""


class OutputPathError(D2vExtError, OSError):
    """An output path that cannot be written: an existing file where a folder is expected, no permission."""


class CheckpointError(D2vExtError, ValueError):
    """A checkpoint that cannot be used: names the file."""


class WrongCheckpointError(CheckpointError):
    """A checkpoint of another kind of model or task than the one asked for; the message says both."""


class CorruptCheckpointError(CheckpointError):
    """Not a readable torch checkpoint: empty, truncated or another kind of file."""


class UnsafeCheckpointError(CheckpointError):
    """A checkpoint whose pickle needs a global outside the allow-list (it could run code when loaded)."""


class CheckpointMismatchError(CheckpointError):
    """A checkpoint whose tensors do not fit the model built here (dictionary size, architecture)."""
