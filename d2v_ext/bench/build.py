"""A recipe built as ``fairseq-hydra-train`` builds it (config composed against fairseq's schema,
task, dataset, model, criterion, Trainer), for timing training steps in this process."""
from omegaconf import OmegaConf

from ..launch import PRETRAIN_CONFIGS


def compose_recipe(name, overrides, config_dir=PRETRAIN_CONFIGS):
    """The resolved FairseqConfig of ``config_dir/name.yaml`` with ``overrides``, as fairseq-hydra-train
    composes it: fairseq's FairseqConfig schema, the recipe's ``@package _group_`` body at the root, the
    group overrides (``+tiny=...``, composed by hydra) over it, then the value overrides (``a.b=c``) and
    fairseq's dataclass defaults for the named model, task, criterion, optimizer."""
    from fairseq.dataclass.configs import FairseqConfig
    from fairseq.dataclass.initialize import add_defaults
    from hydra import compose, initialize_config_dir
    from hydra.core.global_hydra import GlobalHydra

    groups = [o for o in overrides if o.lstrip("+").split("=", 1)[0].count(".") == 0 and o.startswith("+")]
    values = [o.lstrip("+") for o in overrides if o not in groups]
    GlobalHydra.instance().clear()
    with initialize_config_dir(config_dir=str(config_dir), version_base=None):
        composed = compose(name, overrides=groups)
    body = OmegaConf.to_container(composed, resolve=False)  # interpolations stay ${...}, resolved at the root
    group = body.pop("_group_", {})
    for part in (body, group):
        part.pop("hydra", None)  # the plugin-import callback: this process has imported d2v_ext already
    cfg = OmegaConf.merge(OmegaConf.structured(FairseqConfig), OmegaConf.create(group), OmegaConf.create(body),
                          OmegaConf.from_dotlist(values))
    add_defaults(cfg)
    cfg = OmegaConf.create(OmegaConf.to_container(cfg, resolve=True, enum_to_str=True))
    OmegaConf.set_struct(cfg, True)
    return cfg


def build_trainer(cfg):
    """(trainer, batch iterator) for ``cfg``: what fairseq_cli.train.main builds before its loop."""
    import numpy as np
    import torch
    from fairseq import tasks, utils
    from fairseq.trainer import Trainer

    np.random.seed(cfg.common.seed)
    utils.set_torch_seed(cfg.common.seed)
    task = tasks.setup_task(cfg.task)
    task.load_dataset(cfg.dataset.train_subset, combine=False, epoch=1)
    model = task.build_model(cfg.model)
    criterion = task.build_criterion(cfg.criterion)
    trainer = Trainer(cfg, task, model, criterion)
    epoch_itr = trainer.get_train_iterator(epoch=1, load_dataset=False)
    itr = epoch_itr.next_epoch_itr(fix_batches_to_gpus=False, shuffle=True)
    from fairseq.data import iterators

    grouped = iterators.GroupedIterator(itr, cfg.optimization.update_freq[0])
    torch.set_grad_enabled(True)
    return trainer, grouped
