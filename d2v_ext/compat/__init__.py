"""Compat fixes that make upstream data2vec run on Python 3.11+/torch 2.x/omegaconf 2.3, plus fixes
of upstream behaviour: the text teacher's input (fairseq #4881), safe checkpoint loading, exact
resume (per-update and per-sample random numbers, atomic checkpoint copies) and clear errors.

Each fix is one small named function, applied once, in order, by :func:`apply_all` when ``d2v_ext``
is imported; each checks the signature of what it wraps, so upstream drift fails at import.
``D2V_EXT_COMPAT_SKIP=name1,name2`` leaves named fixes out: the tests use it to show that each fix
is needed (the failure it fixes comes back without it). ``safe_checkpoint_loading`` cannot be
skipped: no environment variable may let a checkpoint run code.
"""
import logging
import os

from .atomic_copy import atomic_checkpoint_copies
from .checkpoint_mismatch import checkpoint_mismatch_explained
from .class_defaults import materialize_class_defaults
from .composite_optimizer import composite_optimizer_state_per_instance
from .cpu_distributed import cpu_distributed_start
from .d2v2_resume import data2vec2_teacher_step_kept_on_resume
from .ema_once import ema_steps_once_per_update
from .end_of_update import models_end_their_update
from .examples_alias import alias_examples_namespace
from .finished_run import finished_run_trains_no_further
from .fused_adam import torch_fused_adam_fallback
from .fused_kernels import log_fused_kernels
from .image_sample_seeds import upstream_image_samples_seeded
from .image_bad_files import image_datasets_name_bad_files
from .image_task_tree import image_tasks_check_their_tree
from .mae_timm_block import mae_blocks_without_qk_scale
from .micro_batch_seeds import rng_seeded_per_micro_batch
from .numpy_aliases import numpy_removed_aliases
from .old_checkpoints import old_checkpoint_config_keys_dropped, pretrained_dictionary_from_finetuning_data
from .posterize_bits import randaugment_posterize_zero_bits
from .prefetch_thread import no_prefetch_thread_without_workers
from .restore_file import missing_restore_file_is_an_error
from .rng_per_update import rng_seeded_per_update
from .safe_checkpoints import safe_checkpoint_loading
from .task_data import task_data_checked
from .text_finetuning import data2vec_text_finetuning_mode
from .text_resume import restore_text_teacher_on_resume, text_encoder_target_model_attr
from .text_teacher_input import text_teacher_sees_full_sequence
from .vision_debug_prints import silence_vision_debug_prints
from .vision_finetuning import (image_classification_pools_every_patch, mae_finetuning_uses_its_own_param_groups,
                                vision_finetuning_loads_pretraining_checkpoints)
from .vision_layer_bias import vision_per_layer_position_bias
from .upstream import register_upstream_data2vec
from .variance_device import variance_monitors_off_gpu

logger = logging.getLogger(__name__)

ALWAYS = [safe_checkpoint_loading]
# Order matters: upstream modules can only be imported once the import-time fixes are in place.
FIXES = [
    alias_examples_namespace,
    materialize_class_defaults,
    register_upstream_data2vec,
    text_encoder_target_model_attr,
    restore_text_teacher_on_resume,
    text_teacher_sees_full_sequence,
    data2vec2_teacher_step_kept_on_resume,
    ema_steps_once_per_update,
    data2vec_text_finetuning_mode,
    missing_restore_file_is_an_error,
    checkpoint_mismatch_explained,
    old_checkpoint_config_keys_dropped,
    task_data_checked,
    pretrained_dictionary_from_finetuning_data,  # after task_data_checked: relocates before the check
    rng_seeded_per_update,
    rng_seeded_per_micro_batch,
    no_prefetch_thread_without_workers,
    upstream_image_samples_seeded,
    atomic_checkpoint_copies,
    finished_run_trains_no_further,
    models_end_their_update,
    cpu_distributed_start,
    variance_monitors_off_gpu,
    numpy_removed_aliases,
    silence_vision_debug_prints,
    vision_per_layer_position_bias,
    vision_finetuning_loads_pretraining_checkpoints,
    image_classification_pools_every_patch,
    randaugment_posterize_zero_bits,
    mae_blocks_without_qk_scale,
    mae_finetuning_uses_its_own_param_groups,
    image_tasks_check_their_tree,
    composite_optimizer_state_per_instance,
    image_datasets_name_bad_files,
    torch_fused_adam_fallback,
    log_fused_kernels,
]
_applied = []


def skipped_fixes():
    return {s.strip() for s in os.environ.get("D2V_EXT_COMPAT_SKIP", "").split(",") if s.strip()}


def apply_all():
    """Apply every fix not listed in ``D2V_EXT_COMPAT_SKIP``; safe to call more than once."""
    skip = skipped_fixes()
    unknown = skip - {f.__name__ for f in FIXES}
    if unknown:
        raise ValueError(f"D2V_EXT_COMPAT_SKIP names unknown or unskippable fixes {sorted(unknown)}; "
                         f"skippable: {[f.__name__ for f in FIXES]} ({ALWAYS[0].__name__} is always applied)")
    for fix in ALWAYS + FIXES:
        if (fix.__name__ in skip and fix not in ALWAYS) or fix in _applied:
            continue
        fix()
        _applied.append(fix)
    return list(_applied)
