"""Fixes: released checkpoints that today's fairseq cannot build from.

1. ``old_checkpoint_config_keys_dropped``: a checkpoint saved by an older fairseq carries config keys
   the current dataclasses lack, and building its task or model fails (fairseq #5021,
   ``ConfigKeyError: Key 'rebuild_batches' not in 'AudioPretrainingConfig'``). ``load_checkpoint_to_cpu``
   now drops them, with one warning naming every key (d2v_ext/checkpoint/old_format.py).
2. ``pretrained_dictionary_from_finetuning_data``: a data2vec 2.0 text checkpoint names its
   dictionary by an absolute path on its authors' cluster (fairseq #5037), and fine-tuning it
   (``data2vec_text_classification``) fails where that folder does not exist. While a
   sentence_prediction task builds its model, a pretrained masked_lm task whose ``dict.txt`` is
   missing reads the fine-tuning data's ``input0/dict.txt`` instead (the same dictionary, as
   scripts/prepare_glue.py writes it), with a warning naming both paths.
"""
import contextvars
import logging
import os

from .signature import install_wrapper

logger = logging.getLogger(__name__)
FINETUNING_DATA = contextvars.ContextVar("d2v_ext_finetuning_data", default=None)


def old_checkpoint_config_keys_dropped():
    """Drop (and name) the saved config keys the current fairseq dataclasses do not have."""
    from fairseq import checkpoint_utils

    from ..checkpoint.old_format import drop_keys, unknown_keys

    def wrap(original):
        def load_checkpoint_to_cpu(path, arg_overrides=None, load_on_all_ranks=False):
            state = original(path, arg_overrides, load_on_all_ranks)
            cfg = state.get("cfg") if isinstance(state, dict) else None
            if cfg is not None:
                unknown = unknown_keys(cfg)
                if unknown:
                    logger.warning(f"{path}: config keys today's fairseq does not know, dropped: {', '.join(unknown)}")
                    drop_keys(cfg, unknown)
            return state

        return load_checkpoint_to_cpu

    install_wrapper(checkpoint_utils, "load_checkpoint_to_cpu", "path, arg_overrides=None, load_on_all_ranks=False",
                    wrap, "old_cfg_keys")


def relocated_dictionary(cfg):
    """The fine-tuning data's input0 folder for a pretrained masked_lm task config whose dict.txt is
    missing, or None."""
    data = FINETUNING_DATA.get()
    if data is None or cfg.get("_name") != "masked_lm" or not isinstance(cfg.get("data"), str):
        return None
    first = cfg["data"].split(os.pathsep)[0]
    here = os.path.join(data.split(os.pathsep)[0], "input0")
    if os.path.isfile(os.path.join(first, "dict.txt")) or not os.path.isfile(os.path.join(here, "dict.txt")):
        return None
    return here


def pretrained_dictionary_from_finetuning_data():
    """Let a pretrained text task read the fine-tuning data's dictionary when its own path is gone."""
    import fairseq.tasks as tasks
    from fairseq.tasks.sentence_prediction import SentencePredictionTask
    from omegaconf import open_dict

    def wrap_build(original):
        def build_model(self, cfg, from_checkpoint=False):
            token = FINETUNING_DATA.set(self.cfg.data)
            try:
                return original(self, cfg, from_checkpoint)
            finally:
                FINETUNING_DATA.reset(token)

        return build_model

    def wrap_setup(original):
        def setup_task(cfg, **kwargs):
            here = relocated_dictionary(cfg) if hasattr(cfg, "get") else None
            if here is not None:
                logger.warning(f"the pretrained model's dictionary {cfg['data']}/dict.txt does not exist; using the "
                               f"fine-tuning data's {here}/dict.txt")
                with open_dict(cfg):
                    cfg["data"] = here
            return original(cfg, **kwargs)

        return setup_task

    install_wrapper(SentencePredictionTask, "build_model", "self, cfg, from_checkpoint=False", wrap_build,
                    "finetuning_data")
    install_wrapper(tasks, "setup_task", "cfg, **kwargs", wrap_setup, "relocated_dictionary")
