"""d2v_ext tasks (registration-only package; see ARCHITECTURE.md)."""
from . import multicrop, squad  # noqa: F401
