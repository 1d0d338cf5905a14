"""d2v_ext modules (registration-only package; see ARCHITECTURE.md)."""
