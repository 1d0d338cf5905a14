"""d2v_ext models (registration-only package; see ARCHITECTURE.md)."""
from . import data2vec_captioning, data2vec_dino, data2vec_text_dino, data2vec_text_qa  # noqa: F401
