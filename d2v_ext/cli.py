"""What every script shares: its parser (with ``--debug``), clean errors, and output-path checks.

A script's ``main(argv)`` is wrapped by :func:`script`: a :class:`~d2v_ext.errors.D2vExtError`
becomes ``<script>: error: <message>`` on stderr and exit status 2, without a traceback;
``--debug`` (or ``D2V_EXT_DEBUG=1``) lets the traceback through instead.
"""
import argparse
import functools
import os
import sys
import tempfile
from pathlib import Path

from .errors import D2vExtError, OutputPathError

DEBUG_ENV = "D2V_EXT_DEBUG"


def debug_requested(argv=None):
    argv = sys.argv[1:] if argv is None else argv
    return "--debug" in [str(a) for a in argv] or os.environ.get(DEBUG_ENV, "") not in ("", "0")


def parser(doc, **kwargs):
    """An ArgumentParser showing the script's docstring, with the shared ``--debug`` flag."""
    p = argparse.ArgumentParser(description=doc, formatter_class=argparse.RawDescriptionHelpFormatter, **kwargs)
    p.add_argument("--debug", action="store_true", help=f"show the traceback of an error (also {DEBUG_ENV}=1)")
    return p


def script(name):
    """Decorator for a script's ``main(argv=None)``: clean one-line errors, exit status 2."""
    def wrap(main):
        @functools.wraps(main)
        def run(argv=None):
            try:
                return main(argv)
            except D2vExtError as e:
                if debug_requested(argv):
                    raise
                print(f"{name}: error: {e}", file=sys.stderr, flush=True)
                return 2

        return run

    return wrap


def _writable_dir(folder, flag, path):
    folder = Path(folder)
    while not folder.exists():  # the nearest existing parent must be a writable folder
        folder = folder.parent
    if not folder.is_dir():
        raise OutputPathError(f"{flag} {path}: {folder} is a file, not a folder")
    if not os.access(folder, os.W_OK | os.X_OK):
        raise OutputPathError(f"{flag} {path}: cannot write in {folder} (permission denied)")


def check_output_file(path, flag="--out"):
    """Fail early, before any work, if ``path`` cannot be written as a file."""
    if path is None:
        return None
    p = Path(path)
    if p.is_dir():
        raise OutputPathError(f"{flag} {path} is a folder; expected a file path")
    if p.exists() and not os.access(p, os.W_OK):
        raise OutputPathError(f"{flag} {path}: the file exists and is not writable")
    _writable_dir(p.parent if str(p.parent) else ".", flag, path)
    return p


def check_output_dir(path, flag="--out"):
    """Fail early, before any work, if ``path`` cannot be used as an output folder."""
    if path is None:
        return None
    p = Path(path)
    if p.exists() and not p.is_dir():
        raise OutputPathError(f"{flag} {path} is an existing file; expected a folder")
    _writable_dir(p, flag, path)
    return p


def write_atomic(path, text, mode="w"):
    """Write ``text`` to ``path`` through a temporary file in the same folder, so an earlier file is
    replaced whole or not at all."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, mode, encoding=None if "b" in mode else "utf-8") as f:
            f.write(text)
        umask = os.umask(0)
        os.umask(umask)
        os.chmod(tmp, 0o666 & ~umask)  # mkstemp creates 0600; give the file the usual permissions
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)


def append_line(path, line):
    """Append one line (a Markdown row) to ``path``: the earlier content is kept as it was."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(line + "\n")


def add_probe_arguments(parser):
    """The arguments knn_eval.py and linear_probe.py share."""
    parser.add_argument("checkpoint", help="vision checkpoint: data2vec v1 / 2.0, DINO (data2vec_dino), MAE "
                        "pretraining, or a fine-tuned image classifier")
    parser.add_argument("--data", required=True, help="ImageFolder root with train/ and val/")
    parser.add_argument("--pool", choices=("cls", "mean"), default="cls", help="CLS token or mean of patch tokens")
    parser.add_argument("--weights", choices=("auto", "teacher", "student"), default="auto",
                        help="EMA teacher or student (auto: the teacher where the checkpoint has one)")
    parser.add_argument("--name", help="row label (default: the checkpoint path)")
    parser.add_argument("--out", help="JSON output path")
    parser.add_argument("--md", help="append the Markdown row to this file")


def write_probe_outputs(args, result, row):
    """A probe's result as JSON (``--out``, replaced whole) and its Markdown row appended to ``--md``."""
    import json

    if args.out:
        write_atomic(args.out, json.dumps(result, indent=2))
    if args.md:
        append_line(args.md, row)
