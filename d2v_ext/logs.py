"""fairseq's json log records, read in one place for scripts, reports and tests.

With ``common.log_format=json`` fairseq writes lines like
``[2026-12-01 10:00:00,123][train_inner][INFO] - {"epoch": 1, "loss": "2.5", ...}``; the tag in the
second brackets says what the record is (``train_inner``, ``train``, ``valid``, ``valid1``, ...).
Values are strings in the log; :func:`read_records` turns the numeric ones into floats.
"""
import json
import re
from pathlib import Path

from .errors import DataError, MissingInputError

# the tag of a progress record has no dots; a logger name (fairseq_cli.train printing its config) has
RECORD = re.compile(r"^\[[^\]]*\]\[([\w-]+)\]\[INFO\] - (\{.*?)\s*$")


def number(v):
    """``v`` as a float when it is a number (fairseq logs numbers as strings), else unchanged."""
    try:
        return float(v)
    except (TypeError, ValueError):
        return v


def iter_records(lines, source="<log>", tags=None):
    """Yield (tag, record dict) for each json record line; ``tags`` keeps only those tags.
    A record line whose json does not parse is a :class:`DataError` naming ``source`` and the line."""
    for lineno, line in enumerate(lines, 1):
        m = RECORD.match(line.rstrip("\r\n"))
        if not m or (tags is not None and m.group(1) not in tags):
            continue
        try:
            yield m.group(1), json.loads(m.group(2))
        except json.JSONDecodeError as e:
            raise DataError(f"{source}:{lineno}: malformed json record ({e.msg} at column {e.colno}); "
                            "expected fairseq's log_format=json lines") from None


def records(lines, tag="train_inner", source="<log>", numbers=True):
    """The records of ``tag`` (all tags: ``None``) in ``lines``; values as floats if ``numbers``."""
    recs = [r for _, r in iter_records(lines, source, tags=None if tag is None else {tag})]
    return [{k: number(v) for k, v in r.items()} for r in recs] if numbers else recs


def read_records(path, tag="train_inner", numbers=True):
    """:func:`records` of a log file; a missing file is a clear error."""
    path = Path(path)
    if not path.is_file():
        raise MissingInputError(f"log {path}: {'is a folder' if path.is_dir() else 'not found'}; "
                                "expected a fairseq log (hydra_train.log)")
    return records(path.read_text(encoding="utf-8", errors="replace").splitlines(), tag, str(path), numbers)
