"""Run the study's commands as processes forked from a server that has already imported torch,
fairseq, hydra and the plugin (Python's ``forkserver`` with preloaded modules).

A tiny unit spends ~5 of its ~15 seconds importing before it trains; a demo runs ~160 of them.
Forked from the preloaded server, a command starts in well under a second and is otherwise the run
a subprocess would be: its own process, working directory, environment, argv, log file (stdout and
stderr) and exit status. Only ``fairseq-hydra-train`` and Python scripts are forked; anything else
is run as a subprocess. ``D2V_EXT_NO_FORKSERVER=1`` turns it off (every command a subprocess).
"""
import multiprocessing
import os
import runpy
import sys
import threading
from pathlib import Path

PRELOAD = ["torch", "fairseq", "hydra", "d2v_ext", "fairseq_cli.train", "fairseq_cli.hydra_train"]
_ctx, _lock = None, threading.Lock()


def enabled():
    return os.environ.get("D2V_EXT_NO_FORKSERVER", "") in ("", "0") and "forkserver" in multiprocessing.get_all_start_methods()


def _context():
    global _ctx
    with _lock:
        if _ctx is None:
            _ctx = multiprocessing.get_context("forkserver")
            _ctx.set_forkserver_preload(PRELOAD)
        return _ctx


def _entry(cmd):
    """(what to run, argv) for a command line, or None when it is not forkable."""
    exe = Path(str(cmd[0]))
    if exe.name == "fairseq-hydra-train":
        return "fairseq-hydra-train", [str(exe)] + [str(c) for c in cmd[1:]]
    if exe.name.startswith("python") and len(cmd) > 1 and str(cmd[1]).endswith(".py"):
        return str(cmd[1]), [str(c) for c in cmd[1:]]
    return None


def _child(target, argv, cwd, log_path, env):
    """In the forked process: become the command (cwd, env, argv, log), run it, exit with its status."""
    multiprocessing.set_start_method(None, force=True)  # the default of a fresh interpreter, not the server's
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    threads = env.get("OMP_NUM_THREADS")
    if threads:
        import torch

        torch.set_num_threads(int(threads))
    log = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
    sys.stdout.flush()
    sys.stderr.flush()
    os.dup2(log, 1)
    os.dup2(log, 2)
    os.close(log)
    sys.argv = list(argv)
    if target == "fairseq-hydra-train":
        from fairseq_cli.hydra_train import cli_main

        sys.exit(cli_main())
    sys.path[0] = os.path.dirname(os.path.abspath(target))
    runpy.run_path(target, run_name="__main__")


def run(cmd, cwd, log_path, env):
    """Run ``cmd`` forked from the preloaded server; its exit status. None: not forkable here."""
    entry = _entry(cmd) if enabled() else None
    if entry is None:
        return None
    p = _context().Process(target=_child, args=(entry[0], entry[1], str(cwd), str(log_path), dict(env)))
    p.start()
    p.join()
    return p.exitcode
