"""Write a dataset folder atomically: build it in a temporary folder, move files in at the end,
so a failure (bad input, interrupted run) leaves what was already in the output folder intact."""
import contextlib
import os
import shutil
import tempfile


@contextlib.contextmanager
def staged_output(out_dir):
    """Yield a temporary folder beside ``out_dir``; on success move its contents into ``out_dir``."""
    parent = os.path.dirname(os.path.abspath(out_dir))
    os.makedirs(parent, exist_ok=True)
    tmp = tempfile.mkdtemp(prefix=".staging.", dir=parent)
    try:
        yield tmp
        os.makedirs(out_dir, exist_ok=True)
        for name in os.listdir(tmp):
            dst = os.path.join(out_dir, name)
            if os.path.isdir(dst):
                shutil.rmtree(dst)
            os.replace(os.path.join(tmp, name), dst)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
