"""d2v_ext modules: plain torch pieces (DINO head, loss, objective and schedules, span head, multi-crop, rel-pos)."""
