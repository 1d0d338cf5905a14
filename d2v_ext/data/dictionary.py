"""fairseq ``dict.txt`` files, checked line by line before fairseq reads them.

fairseq's ``Dictionary.load`` reports a bad line without the file or line number, a missing file
as a bare ``FileNotFoundError`` and a duplicate symbol as a ``RuntimeError``. Here every problem
names the flag or config key that gave the path, the file and the line.
"""
import os

from ..errors import DataError, MissingInputError


def check_dictionary_file(path, flag):
    """``path`` if it is a well-formed fairseq dictionary (``<symbol> <count> [#fairseq:overwrite]``)."""
    if not path or not os.path.isfile(path):
        kind = "is a folder" if path and os.path.isdir(path) else "not found"
        raise MissingInputError(f"{flag} {path}: {kind}; expected a fairseq dict.txt (the one beside the "
                                "checkpoint's binarized pretraining data: scripts/prepare_text.py writes it)")
    seen = {}
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            try:
                line = raw.decode("utf-8").rstrip("\r\n")
            except UnicodeDecodeError as e:
                raise DataError(f"{path}:{lineno}: not UTF-8 (byte {e.start + 1}); expected a fairseq dict.txt "
                                f"({flag})") from None
            parts = line.rstrip().rsplit(" ", 2 if line.rstrip().endswith("#fairseq:overwrite") else 1)
            if len(parts) < 2 or not parts[0] or not parts[1].lstrip("-").isdigit():
                raise DataError(f"{path}:{lineno}: {line[:60]!r} is not '<symbol> <count>'; expected a fairseq "
                                f"dict.txt ({flag})")
            if parts[0] in seen and not line.rstrip().endswith("#fairseq:overwrite"):
                raise DataError(f"{path}:{lineno}: symbol {parts[0]!r} repeats line {seen[parts[0]]}; expected "
                                f"each symbol once ({flag})")
            seen.setdefault(parts[0], lineno)
    if not seen:
        raise DataError(f"{path}: empty dictionary; expected a fairseq dict.txt ({flag})")
    return path


def load_dictionary(path, flag, add_mask=False):
    """fairseq's Dictionary from a checked file; ``add_mask`` appends ``<mask>`` as masked_lm does."""
    from fairseq.data import Dictionary

    d = Dictionary.load(str(check_dictionary_file(path, flag)))
    if add_mask:
        d.add_symbol("<mask>")
    return d
