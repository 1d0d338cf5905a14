"""Fix: Python >= 3.11 rejects dataclass instances as field defaults.

Upstream writes ``transformer: TransformerConfig = TransformerConfig()`` (data2vec_text.py),
``image: D2vImageConfig = D2vImageConfig()`` (data2vec2.py) and ``decoder: ... = D2vDecoderConfig()``
(modalities/base.py). Python 3.11 raises ``ValueError: mutable default <class ...> for field ... is
not allowed`` for any unhashable default. While upstream modules are imported we wrap
``dataclasses.dataclass`` so such a default becomes ``field(default_factory=...)`` returning a fresh
deep copy: the same default value, without the shared mutable instance Python objects to.
"""
import contextlib
import copy
import dataclasses

_original_dataclass = dataclasses.dataclass
UPSTREAM_PREFIX = "fairseq.examples."


def _is_instance_default(value):
    return dataclasses.is_dataclass(value) and not isinstance(value, type)


# Transformations applied to every fresh default (see class_defaults.py); fixes register here.
DEFAULT_POSTPROCESSORS = []


def _factory_for(value):
    def factory():
        fresh = copy.deepcopy(value)
        for post in DEFAULT_POSTPROCESSORS:
            fresh = post(fresh)
        return fresh

    return factory


def defaults_to_factories(cls):
    """Replace class-level dataclass-instance defaults of ``cls`` with default factories."""
    for name in list(getattr(cls, "__annotations__", {})):
        value = cls.__dict__.get(name, dataclasses.MISSING)
        if _is_instance_default(value):
            setattr(cls, name, dataclasses.field(default_factory=_factory_for(value)))
        elif isinstance(value, dataclasses.Field) and _is_instance_default(value.default):
            value.default_factory, value.default = _factory_for(value.default), dataclasses.MISSING
    return cls


def _patched_dataclass(cls=None, /, **kwargs):
    def wrap(c):
        if c.__module__.startswith(UPSTREAM_PREFIX):  # leave every other dataclass untouched
            defaults_to_factories(c)
        return _original_dataclass(c, **kwargs)

    return wrap if cls is None else wrap(cls)


@contextlib.contextmanager
def instance_defaults_as_factories():
    """While active, ``@dataclass`` accepts instance defaults (as factories); restored on exit."""
    dataclasses.dataclass = _patched_dataclass
    try:
        yield
    finally:
        dataclasses.dataclass = _original_dataclass
