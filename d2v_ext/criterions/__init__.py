"""d2v_ext criterions (registration-only package; see ARCHITECTURE.md)."""
