"""Fix: ``InterpolationKeyError: 'model.decoder.embed_dim' not found (transformer.decoder.input_dim)``.

data2vec_text nests a whole ``TransformerConfig`` under ``model.transformer``. fairseq-fixed declares
``decoder: DecoderConfig = field(default=DecoderConfig)`` (the class, not an instance), so the
default keeps ``input_dim = II("model.decoder.embed_dim")``, which only resolves when the
transformer config is the model config itself. fairseq 0.12.2 used an instance, whose
``__post_init__`` replaces that interpolation by ``embed_dim``. We restore that: inside upstream
data2vec's nested config defaults, class-valued dataclass fields become instances.
"""
import dataclasses

from .dataclass_defaults import DEFAULT_POSTPROCESSORS


def instantiate_class_fields(obj):
    """Recursively replace dataclass *classes* stored as field values of ``obj`` by instances."""
    if not dataclasses.is_dataclass(obj) or isinstance(obj, type):
        return obj
    for f in dataclasses.fields(obj):
        value = getattr(obj, f.name)
        if isinstance(value, type) and dataclasses.is_dataclass(value):
            value = value()  # runs __post_init__ (resolves DecoderConfig.input_dim/output_dim)
        setattr(obj, f.name, instantiate_class_fields(value))
    return obj


def materialize_class_defaults():
    """Make upstream's nested config defaults carry instances, as on fairseq 0.12.2."""
    if instantiate_class_fields not in DEFAULT_POSTPROCESSORS:
        DEFAULT_POSTPROCESSORS.append(instantiate_class_fields)
