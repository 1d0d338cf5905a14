"""Errors shared by models, evaluation code and scripts."""


class WrongCheckpointError(ValueError):
    """A checkpoint of another kind of model than the one asked for; the message says both."""
