"""d2v_ext tasks (registration-only package; see ARCHITECTURE.md)."""
from . import coco_captioning, multicrop, squad  # noqa: F401
