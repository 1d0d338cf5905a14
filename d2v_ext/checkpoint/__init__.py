"""Checkpoint loading for the whole plugin: restricted unpickling and the right-kind checks."""
from .kinds import checkpoint_kind, load_checked, load_state, model_config, with_teacher_weights  # noqa: F401
from .safe_load import ALLOWED_GLOBALS, ALLOWED_NAMES, safe_torch_load  # noqa: F401
