"""Fix: a run killed while fairseq copies ``checkpoint_last.pt`` leaves a truncated file, and the
resume then fails.

fairseq writes the first checkpoint file atomically (a ``.tmp`` file, then a rename) but makes
``checkpoint_last.pt`` / ``checkpoint_best.pt`` as copies with ``shutil.copyfile``, which truncates
the destination first. Local copies now go to a temporary file beside the destination, then
``os.replace``: the old file stays whole until the new one is complete.
"""
import os
import shutil
import tempfile

from .signature import install_wrapper


def atomic_local_copy(src_path, dst_path):
    folder = os.path.dirname(os.path.abspath(dst_path))
    fd, tmp = tempfile.mkstemp(prefix=f".{os.path.basename(dst_path)}.", suffix=".tmp", dir=folder)
    os.close(fd)
    try:
        shutil.copyfile(src_path, tmp)
        shutil.copymode(src_path, tmp)
        os.replace(tmp, dst_path)
    finally:
        if os.path.exists(tmp):
            os.remove(tmp)
    return True


def atomic_checkpoint_copies():
    """Make fairseq's ``PathManager.copy`` of local files atomic."""
    from fairseq.file_io import PathManager

    def wrap(original):
        def copy(src_path, dst_path, overwrite=False):
            if "://" in str(src_path) + str(dst_path):
                return original(src_path, dst_path, overwrite)  # remote storage: iopath's own handlers
            if os.path.exists(dst_path) and not overwrite:
                return False
            return atomic_local_copy(src_path, dst_path)

        return copy

    install_wrapper(PathManager, "copy", "src_path, dst_path, overwrite=False", wrap, "atomic_copy")
