"""Fix: fairseq's distributed start-up needs CUDA, so multi-process training cannot run on CPU.

``distributed_world_size=2 common.cpu=true`` stops in ``_infer_single_node_init`` ("world size is
2 but have 0 available devices"), and under ``torchrun`` ``_infer_torch_distributed_launch_init``
divides by ``torch.cuda.device_count()`` (ZeroDivisionError); ``call_main`` would then spawn
``min(device_count, world_size)`` = 0 processes. When the run is on CPU (``common.cpu=true`` or
no CUDA) and asks for several processes, ``call_main`` now sets the start-up itself: torchrun's
environment (``env://``, ``RANK`` / ``WORLD_SIZE`` / ``LOCAL_RANK``, one process per rank), or one
spawned process per rank on a free localhost port; backend ``gloo`` (NCCL needs GPUs) and
``legacy_ddp`` for ``c10d`` (torch's DDP wrapper takes no ``device_ids`` for CPU modules; both
average the all-reduced gradients). GPU runs take fairseq's own path unchanged. Each CPU rank
destroys its process group when training returns: left to interpreter exit, gloo's threads now and
then abort the finished process ("terminate called without an active exception", SIGABRT), and
the spawn then fails a run that trained to the end.

fairseq-hydra-train calls ``call_main`` before it imports ``common.user_dir``, so the recipes import
the plugin first, through a hydra callback (``d2v_ext/hydra_callback.py``).
"""
import logging
import os
import socket

import torch
from omegaconf import open_dict

from .signature import expect_signature, install_wrapper

logger = logging.getLogger("d2v_ext")
TORCHRUN = ("MASTER_ADDR", "MASTER_PORT", "WORLD_SIZE", "RANK")


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def prepare_cpu_distributed(cfg):
    """Fill ``cfg.distributed_training`` for a multi-process CPU run; True if it is one."""
    d = cfg.distributed_training
    on_cpu = cfg.common.cpu or not torch.cuda.is_available()
    torchrun = all(k in os.environ for k in TORCHRUN) and int(os.environ["WORLD_SIZE"]) > 1
    if not on_cpu or not (torchrun or d.distributed_world_size > 1) or d.distributed_init_method is not None:
        return False
    with open_dict(cfg):
        cfg.common.cpu = True
        if torchrun:
            d.distributed_init_method = "env://"
            d.distributed_world_size = int(os.environ["WORLD_SIZE"])
            d.distributed_rank = int(os.environ["RANK"])
            d.device_id = int(os.environ.get("LOCAL_RANK", 0))
            d.distributed_no_spawn = True
        else:
            d.distributed_init_method = f"tcp://localhost:{d.distributed_port if d.distributed_port > 0 else free_port()}"
            d.distributed_num_procs = d.distributed_world_size
        if d.distributed_backend == "nccl":
            d.distributed_backend = "gloo"
        if d.ddp_backend in ("c10d", "pytorch_ddp"):
            d.ddp_backend = "legacy_ddp"
    logger.info(f"d2v_ext: CPU distributed training: {d.distributed_world_size} processes, {d.distributed_backend}, "
                f"{d.ddp_backend}, {'torchrun' if torchrun else 'spawned'} ({d.distributed_init_method})")
    return True


def distributed_main_then_close(i, main, cfg, kwargs):
    """fairseq's ``distributed_main`` for one CPU rank, then its process group destroyed (a
    module-level function: ``torch.multiprocessing.spawn`` pickles it by name)."""
    import fairseq.distributed.utils as du

    try:
        return du.distributed_main(i, main, cfg, kwargs)
    finally:
        if torch.distributed.is_initialized():
            torch.distributed.destroy_process_group()


def cpu_distributed_start():
    """Let ``call_main`` start multi-process training on CPU (torchrun or fairseq's own spawn)."""
    import fairseq.distributed.utils as du

    expect_signature(du.distributed_main, "i, main, cfg, kwargs")

    def wrap(original):
        def call_main(cfg, main, **kwargs):
            if not prepare_cpu_distributed(cfg):
                return original(cfg, main, **kwargs)
            d = cfg.distributed_training
            if d.distributed_no_spawn:  # torchrun started this process for its rank
                return distributed_main_then_close(d.device_id, main, cfg, kwargs)
            kwargs["start_rank"] = d.distributed_rank or 0
            with open_dict(cfg):
                d.distributed_rank = None  # distributed_main assigns start_rank + i
            torch.multiprocessing.spawn(fn=distributed_main_then_close, args=(main, cfg, kwargs),
                                        nprocs=d.distributed_world_size, join=True)

        return call_main

    install_wrapper(du, "call_main", "cfg, main, **kwargs", wrap, "cpu_distributed")
