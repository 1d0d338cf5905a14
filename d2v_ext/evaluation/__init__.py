"""d2v_ext evaluation (registration-only package; see ARCHITECTURE.md)."""
