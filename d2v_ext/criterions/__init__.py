"""d2v_ext criterions (registration-only package; see ARCHITECTURE.md)."""
from . import span_qa  # noqa: F401
