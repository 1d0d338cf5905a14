"""Re-saving a trusted checkpoint in the form the safe loader reads (scripts/trust_checkpoint.py).

Objects the allow-list does not cover become plain values: dataclass instances -> dicts, enums ->
their values, paths -> strings, numpy arrays -> tensors, omegaconf containers -> plain containers.
Anything else is refused with the place in the checkpoint where it was found.
"""
import argparse
import collections
import dataclasses
import enum
import pathlib

import numpy as np
import torch

from ..errors import UnsafeCheckpointError

PLAIN = (str, int, float, bool, type(None), bytes)


def to_safe(obj, where="state"):
    """A copy of ``obj`` built only of tensors, plain containers, Namespace and numpy scalars."""
    from omegaconf import OmegaConf

    if isinstance(obj, PLAIN) or torch.is_tensor(obj) or isinstance(obj, (np.generic, np.dtype)):
        return obj
    if OmegaConf.is_config(obj):
        return to_safe(OmegaConf.to_container(obj, resolve=False), where)
    if isinstance(obj, dict):
        out = {k: to_safe(v, f"{where}[{k!r}]") for k, v in obj.items()}
        return collections.OrderedDict(out) if isinstance(obj, collections.OrderedDict) else out
    if isinstance(obj, (list, tuple)):
        out = [to_safe(v, f"{where}[{i}]") for i, v in enumerate(obj)]
        return out if isinstance(obj, list) else tuple(out)
    if isinstance(obj, argparse.Namespace):
        return argparse.Namespace(**{k: to_safe(v, f"{where}.{k}") for k, v in vars(obj).items()})
    if isinstance(obj, enum.Enum):
        return to_safe(obj.value, where)
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return to_safe(dataclasses.asdict(obj), where)
    if isinstance(obj, pathlib.PurePath):
        return str(obj)
    if isinstance(obj, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(obj))
    raise UnsafeCheckpointError(f"{where}: a {type(obj).__module__}.{type(obj).__qualname__}, which has no plain "
                                "form; remove it from the checkpoint by hand")
