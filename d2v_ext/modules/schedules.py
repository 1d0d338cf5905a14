"""The schedules of a teacher-student run, as plain functions of the update number.

The caller (the model) evaluates them each update and passes the value in: the EMA momentum to the
teacher update, the temperature to the DINO loss. Nothing here keeps state, so a resumed run
computes the same values from the saved update count.
"""
import math


def teacher_momentum(schedule, start, end, step, total):
    """EMA decay at ``step``: ``linear`` (data2vec: start -> end over ``total`` updates, then end) or
    ``cosine`` (DINO: end - (end - start) * (cos(pi * step / total) + 1) / 2)."""
    if total <= 0 or step >= total:
        return end
    if schedule == "cosine":
        return end - (end - start) * (math.cos(math.pi * step / total) + 1) / 2
    return start + (end - start) * step / total


def teacher_temp_at(step, warmup_steps, warmup_temp=0.04, final_temp=0.04):
    """DINO's teacher temperature: linear warm-up from ``warmup_temp`` to ``final_temp`` over
    ``warmup_steps`` (updates here; DINO counts epochs: 0.04 -> 0.07 over 30), then constant."""
    if warmup_steps <= 0 or step >= warmup_steps:
        return final_temp
    return warmup_temp + (final_temp - warmup_temp) * step / warmup_steps
