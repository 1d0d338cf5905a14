"""Fix: restarting a run that already reached ``optimization.max_update`` trains one more update.

fairseq's ``train()`` checks ``max_update`` only after each step, so the same command run again
on a finished ``checkpoint.save_dir`` (a requeued job, a kill after the last update but before the
process exited) loads update N, takes step N+1 and saves it: the result depends on whether the
job happened to be restarted. (Measured by scripts/kill_resume_check.py on vision_v1: every trial
killed after update 40 of 40 ended at update 41.) A run that starts at or past ``max_update`` now
stops before training.
"""
import logging

from .signature import install_wrapper

logger = logging.getLogger("d2v_ext")


def finished_run_trains_no_further():
    """Make fairseq_cli.train.train return at once when ``max_update`` is already reached."""
    import fairseq_cli.train as fairseq_train

    def wrap(original):
        def train(cfg, trainer, task, epoch_itr):
            max_update = cfg.optimization.max_update
            if max_update and trainer.get_num_updates() >= max_update:
                logger.info(f"d2v_ext: the checkpoint is at update {trainer.get_num_updates()} >= max_update "
                            f"{max_update}: nothing to train")
                return [None], True
            return original(cfg, trainer, task, epoch_itr)

        return train

    install_wrapper(fairseq_train, "train", "cfg, trainer, task, epoch_itr", wrap, "finished_run")
