"""Config keys of older checkpoints that today's fairseq dataclasses do not have.

Released checkpoints were saved by fairseq versions whose dataclasses had fields that were since
removed or renamed (fairseq #5021: ``Key 'rebuild_batches' not in 'AudioPretrainingConfig'``); fairseq
merges a saved config into the current dataclass when it builds the task or model, and fails. The
keys are found by walking the saved config beside the dataclass each group names (``model``,
``task``, ``criterion``, ... by their ``_name``; the top-level groups by ``FairseqConfig``), into
nested dataclasses and into ``pretrained_model_args`` (a fine-tuning checkpoint's backbone config).
"""
from omegaconf import DictConfig, OmegaConf, open_dict

PRETRAINED = "pretrained_model_args"


def group_dataclasses():
    """{group: {registered name: dataclass}} for fairseq's registries (model, task, criterion, ...)."""
    from fairseq.models import MODEL_DATACLASS_REGISTRY
    from fairseq.registry import REGISTRIES
    from fairseq.tasks import TASK_DATACLASS_REGISTRY

    out = {"model": dict(MODEL_DATACLASS_REGISTRY), "task": dict(TASK_DATACLASS_REGISTRY)}
    for group, reg in REGISTRIES.items():
        out.setdefault(group, dict(reg["dataclass_registry"]))
    return out


def _is_mapping(node):
    return isinstance(node, (dict, DictConfig))


def _unknown(saved, base, path, found):
    """Append to ``found`` the dotted paths of ``saved`` keys absent from the structured ``base``."""
    known = set(base.keys())  # (``key in base`` is False for a MISSING value)
    for key in list(saved.keys()):
        if key == "_name":
            continue
        if key not in known:
            found.append(f"{path}.{key}")
            continue
        child = base._get_node(key)
        value = saved[key]
        if key == PRETRAINED and _is_mapping(value):
            _pretrained(value, f"{path}.{key}", found)
        elif isinstance(child, DictConfig) and OmegaConf.get_type(child) not in (dict, None) and _is_mapping(value):
            _unknown(value, child, f"{path}.{key}", found)


def _pretrained(args, path, found):
    """``pretrained_model_args``: a whole config (model, task, ...) or a model config."""
    if "model" in args and _is_mapping(args["model"]):
        unknown_keys(args, found, path)
    else:
        _group(args, "model", path, found)


def _group(saved, group, path, found):
    dc = group_dataclasses().get(group, {}).get(saved.get("_name"))
    if dc is not None:
        _unknown(saved, OmegaConf.structured(dc), path, found)


def unknown_keys(cfg, found=None, path="cfg"):
    """Dotted paths of every key of a saved config that today's dataclasses lack."""
    from fairseq.dataclass.configs import FairseqConfig

    found = [] if found is None else found
    top = OmegaConf.structured(FairseqConfig)
    for group in list(cfg.keys()):
        value = cfg[group]
        if not _is_mapping(value):
            continue
        if group in group_dataclasses():
            _group(value, group, f"{path}.{group}", found)
        elif group in top.keys():
            _unknown(value, top._get_node(group), f"{path}.{group}", found)
    return found


def drop_keys(cfg, paths, root="cfg"):
    """Remove the dotted ``paths`` (as :func:`unknown_keys` gives them) from ``cfg`` in place."""
    for dotted in paths:
        parts = dotted.split(".")[1:] if dotted.startswith(root + ".") else dotted.split(".")
        node = cfg
        for p in parts[:-1]:
            node = node[p]
        if isinstance(node, DictConfig):
            with open_dict(node):
                del node[parts[-1]]
        else:
            del node[parts[-1]]
