"""Reading a fairseq checkpoint and checking that it is the kind the caller needs.

Every script and model of the plugin loads checkpoints through :func:`load_checked`: the file
is read by fairseq's ``load_checkpoint_to_cpu`` (restricted to safe types, see safe_load.py), and a
file of the wrong kind is refused with a message naming it, its model and task, and what was
expected. ``args``-era checkpoints (an ``argparse.Namespace`` instead of ``cfg``) report their
``arch`` and ``task``.
"""
import argparse
import os

from ..errors import CorruptCheckpointError, MissingInputError, WrongCheckpointError


def load_state(path, arg_overrides=None):
    """The checkpoint dict (``model``, ``cfg`` or ``args``, ...) of a fairseq checkpoint file."""
    from fairseq import checkpoint_utils

    path = str(path)
    if not os.path.isfile(path):
        kind = "a folder" if os.path.isdir(path) else "not found"
        raise MissingInputError(f"checkpoint {path}: {kind}; expected a checkpoint file (e.g. checkpoint_last.pt)")
    try:
        state = checkpoint_utils.load_checkpoint_to_cpu(path, arg_overrides=arg_overrides)
    except (TypeError, AttributeError) as e:  # torch.load worked, but the object is not a checkpoint dict
        raise CorruptCheckpointError(f"{path}: not a fairseq checkpoint ({type(e).__name__}: {e}); "
                                     "expected a dict with 'model' and 'cfg'") from None
    if not isinstance(state, dict) or "model" not in state or (state.get("cfg") is None and state.get("args") is None):
        keys = sorted(state)[:8] if isinstance(state, dict) else type(state).__name__
        raise CorruptCheckpointError(f"{path}: not a fairseq checkpoint: expected a dict with 'model' and 'cfg' "
                                     f"(or 'args'), found {keys}")
    return state


def checkpoint_kind(state):
    """(model name, task name) of a checkpoint dict."""
    cfg = state.get("cfg")
    if cfg is not None:
        model, task = model_config(state), cfg.get("task")
        name = task.get("_name") if hasattr(task, "get") else getattr(task, "task", None)
        return (model.get("_name") if model is not None else None), name
    args = state.get("args")
    return getattr(args, "arch", None), getattr(args, "task", None)


def model_config(state):
    """A checkpoint's model config as a mapping with ``_name``. fairseq upgrades an ``args``-era
    checkpoint (RoBERTa's releases) to a cfg whose ``model`` is still the argparse Namespace; that
    becomes a dict of its fields, ``_name`` the model its ``arch`` belongs to."""
    cfg = state.get("cfg")
    model = cfg.get("model") if cfg is not None else state.get("args")
    if isinstance(model, argparse.Namespace):
        from fairseq.models import ARCH_MODEL_NAME_REGISTRY

        fields = dict(vars(model))
        fields["_name"] = ARCH_MODEL_NAME_REGISTRY.get(fields.get("arch"), fields.get("arch"))
        return fields
    return model


def load_checked(path, what, models=None, tasks=None, hint="", arg_overrides=None):
    """:func:`load_state`, refusing a checkpoint whose model is not in ``models`` (or task not in ``tasks``)."""
    state = load_state(path, arg_overrides)
    model, task = checkpoint_kind(state)
    if (models is not None and model not in models) or (tasks is not None and task not in tasks):
        expected = " and ".join(f"{k} one of {tuple(v)}" for k, v in (("model", models), ("task", tasks)) if v)
        raise WrongCheckpointError(f"{path} is not a {what} checkpoint: its model is {model!r} (task {task!r}); "
                                   f"expected {expected}{hint}")
    return state


def with_teacher_weights(params, teacher, prefix):
    """``params`` with every tensor the EMA ``teacher`` state holds put in place of the student's
    (teacher key ``k`` replaces ``prefix + k``). The teacher is what DINO-style evaluation reads."""
    out = dict(params)
    out.update({prefix + k: v for k, v in (teacher or {}).items() if prefix + k in out})
    return out
