"""d2v_ext tasks (registration-only package; see ARCHITECTURE.md)."""
from . import squad  # noqa: F401
