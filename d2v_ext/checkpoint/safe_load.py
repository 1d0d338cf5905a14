"""Loading checkpoints without running code: ``torch.load(weights_only=True)`` plus an allow-list.

A fairseq checkpoint is a pickle, and unpickling can call any function the file names. torch's
``weights_only`` unpickler only rebuilds tensors and plain containers, and refuses every other
global. We pass ``weights_only=True`` explicitly, so ``TORCH_FORCE_NO_WEIGHTS_ONLY_LOAD=1`` cannot
turn code execution back on (torch honours an explicit value), and allow exactly the extra types
that fairseq checkpoints contain:

- omegaconf containers and their metadata (``cfg`` saved as a DictConfig, nested DictConfigs such as
  ``w2v_args``, and the ``typing.Any`` / builtin types their metadata names);
- ``argparse.Namespace`` (``args`` of checkpoints from before fairseq's hydra configs);
- numpy scalars and dtypes (``best`` and meter values computed with numpy).

A refused file raises :class:`UnsafeCheckpointError` naming it and the global it needs; an empty,
truncated or non-torch file raises :class:`CorruptCheckpointError`. ``scripts/trust_checkpoint.py``
re-saves a trusted file that needs more in the safe form.
"""
import argparse
import collections
import pickle
import re
import typing
import zipfile

import numpy as np
import omegaconf
import torch
from omegaconf import base as _oc_base
from omegaconf import nodes as _oc_nodes

from ..errors import CorruptCheckpointError, MissingInputError, UnsafeCheckpointError

ALLOWED_GLOBALS = [
    omegaconf.DictConfig, omegaconf.ListConfig, _oc_base.ContainerMetadata, _oc_base.Metadata,
    _oc_nodes.AnyNode, _oc_nodes.StringNode, _oc_nodes.IntegerNode, _oc_nodes.FloatNode, _oc_nodes.BooleanNode,
    _oc_nodes.BytesNode, _oc_nodes.PathNode,
    typing.Any, dict, list, tuple, int, float, str, bool, collections.defaultdict,  # omegaconf metadata types
    argparse.Namespace,
    np.dtype, (np._core.multiarray.scalar, "numpy.core.multiarray.scalar"),  # numpy < 2 writes this name
    np._core.multiarray.scalar,
    *(getattr(np.dtypes, f"{k}DType") for k in ("Bool", "Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16",
                                                "UInt32", "UInt64", "Float16", "Float32", "Float64")),
]
ALLOWED_NAMES = sorted({g[1] if isinstance(g, tuple) else f"{g.__module__}.{g.__qualname__}"
                        for g in ALLOWED_GLOBALS})
TRUST_HINT = ("If you trust this file, convert it once into the safe form: "
              "python scripts/trust_checkpoint.py {path} --out SAFE.pt --i-trust-this-file")


def _name_of(f, path):
    return str(path or (f if isinstance(f, (str, bytes)) or hasattr(f, "__fspath__") else getattr(f, "name", None))
               or "<checkpoint>")


def _unpickler_reason(e):
    """The unpickler's own sentence inside torch's long "Weights only load failed ..." message."""
    text = str(e).split("\n\nCheck the documentation")[0]
    m = re.search(r"WeightsUnpickler error:\s*(.*)", text, re.S)
    parts = [p.strip() for p in (m.group(1) if m else text).split("\n\n") if p.strip()]
    return parts[-1].splitlines()[0] if parts else str(e)


def safe_torch_load(f, map_location=None, path=None, extra_globals=(), **unused):
    """``torch.load`` restricted to tensors, plain containers and :data:`ALLOWED_GLOBALS` (plus
    ``extra_globals``, for a caller that reads its own messages, not files).

    ``f`` is a path or an open binary file; ``path`` names it in error messages when ``f`` is a
    buffer. Other ``torch.load`` keyword arguments (``weights_only`` included) are ignored: this
    loader is always restricted."""
    name = _name_of(f, path)
    try:
        with torch.serialization.safe_globals(ALLOWED_GLOBALS + list(extra_globals)):
            return torch.load(f, map_location=map_location, weights_only=True)
    except FileNotFoundError:
        raise MissingInputError(f"checkpoint not found: {name}") from None
    except pickle.UnpicklingError as e:
        reason = _unpickler_reason(e)
        found = re.search(r"GLOBAL (\S+)", str(e)) or re.search(r"but got <class '([^']+)'>", str(e))
        if found:
            raise UnsafeCheckpointError(
                f"{name}: refused to load: its pickle needs {found.group(1)}, which is not on d2v_ext's checkpoint "
                f"allow-list (tensors, containers, omegaconf configs, argparse.Namespace, numpy scalars); "
                f"loading it could run code. " + TRUST_HINT.format(path=name)) from None
        raise UnsafeCheckpointError(f"{name}: refused to load: not a pickle the safe loader reads ({reason}); "
                                    "expected a file written by torch.save. " + TRUST_HINT.format(path=name)) from None
    except (KeyError, UnicodeDecodeError) as e:  # the legacy (non-zip) reader on an arbitrary file
        raise CorruptCheckpointError(f"{name}: not a torch checkpoint (unrecognised format: {type(e).__name__} "
                                     f"{e}); expected a file written by torch.save") from None
    except (EOFError, zipfile.BadZipFile) as e:
        raise CorruptCheckpointError(f"{name}: empty or truncated checkpoint file ({type(e).__name__}: {e}); "
                                     "expected a file written by torch.save (fairseq's checkpoint_*.pt)") from None
    except RuntimeError as e:
        if "PytorchStreamReader" in str(e) or "zip archive" in str(e) or "storage" in str(e).lower():
            raise CorruptCheckpointError(f"{name}: truncated or damaged checkpoint ({str(e).splitlines()[0]}); "
                                         "expected a complete file written by torch.save") from None
        raise
    except OSError as e:
        raise CorruptCheckpointError(f"{name}: cannot read checkpoint ({e}); expected a complete file written by "
                                     "torch.save") from None
