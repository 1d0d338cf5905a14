"""d2v_ext models (registration-only package; see ARCHITECTURE.md)."""
