"""d2v_ext data (registration-only package; see ARCHITECTURE.md)."""
