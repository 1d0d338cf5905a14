"""Errors shared by models, evaluation code and scripts."""


class WrongCheckpointError(ValueError):
    """A checkpoint of another kind of model than the one asked for; the message says both."""


def load_checked_checkpoint(checkpoint, models, what):
    """(state, cfg, model name) of a fairseq checkpoint whose model is one of ``models``; otherwise
    :class:`WrongCheckpointError` naming the file, its model and ``what`` was expected."""
    from fairseq import checkpoint_utils

    state = checkpoint_utils.load_checkpoint_to_cpu(str(checkpoint))
    cfg = state.get("cfg")
    name = cfg["model"]["_name"] if cfg is not None else None
    if name not in models:
        raise WrongCheckpointError(f"{checkpoint} is not a {what} checkpoint: its model is {name!r}; "
                                   f"expected one of {tuple(models)}")
    return state, cfg, name
