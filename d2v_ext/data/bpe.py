"""GPT-2 byte-level BPE from local files (never a URL at run time), encoded in parallel workers."""
import json
import os
from multiprocessing import Pool

from ..errors import DataError, MissingInputError

_encoder = None  # per worker process


class TextInputError(DataError):
    """Bad input text: the message names the file and line."""


def load_gpt2_bpe(encoder_json, vocab_bpe):
    """fairseq's GPT-2 BPE from local ``encoder.json``/``vocab.bpe``; clear error when missing/bad."""
    from fairseq.data.encoders.gpt2_bpe_utils import get_encoder

    for path, flag in ((encoder_json, "--bpe-encoder"), (vocab_bpe, "--bpe-vocab")):
        if not path or not os.path.isfile(path):
            raise MissingInputError(
                f"GPT-2 BPE file not found: {path!r}. Pass {flag} with a local copy "
                "(the bundled one is ../shared/data/gpt2_bpe; set D2V_EXT_DATA to move it).")
    try:
        return get_encoder(encoder_json, vocab_bpe)
    except (json.JSONDecodeError, UnicodeDecodeError, ValueError, IndexError) as e:
        raise DataError(f"cannot read GPT-2 BPE files {encoder_json}, {vocab_bpe}: {e}; expected fairseq's "
                        "encoder.json and vocab.bpe") from None


def _init_worker(encoder_json, vocab_bpe):
    global _encoder
    _encoder = load_gpt2_bpe(encoder_json, vocab_bpe)


def _encode(item):
    # Like fairseq's multiprocessing_bpe_encoder: BPE ids, space separated; blank lines stay blank
    # (document boundaries for sample_break_mode=complete_doc). A (tag, line) pair keeps its tag.
    if isinstance(item, tuple):
        return item[0], _encode(item[1])
    line = item.strip()
    return " ".join(map(str, _encoder.encode(line))) if line else ""


def encode_lines(lines, encoder_json, vocab_bpe, workers=1, chunksize=256):
    """Yield the BPE-id string of each line (or (tag, ids) for (tag, line) items), in order."""
    load_gpt2_bpe(encoder_json, vocab_bpe)  # fail early, in this process, with a clear message
    if workers <= 1:
        _init_worker(encoder_json, vocab_bpe)
        yield from map(_encode, lines)
        return
    with Pool(workers, initializer=_init_worker, initargs=(encoder_json, vocab_bpe)) as pool:
        yield from pool.imap(_encode, lines, chunksize=chunksize)


def read_text_lines(path, progress=None):
    """Yield decoded lines of a UTF-8 text file (BOM stripped), streaming; errors name file:line."""
    if not os.path.isfile(path):
        kind = "is a folder" if os.path.isdir(path) else "not found"
        raise MissingInputError(f"input text file {path}: {kind}; expected a UTF-8 text file")
    with open(path, "rb") as f:
        for lineno, raw in enumerate(f, 1):
            if progress is not None:
                progress.update(len(raw))
            try:
                text = raw.decode("utf-8-sig" if lineno == 1 else "utf-8")
            except UnicodeDecodeError as e:
                raise TextInputError(
                    f"{path}:{lineno}: undecodable bytes at column {e.start + 1} "
                    f"({raw[e.start:e.end]!r}); expected UTF-8 text") from None
            if "\x00" in text:  # GPT-2 BPE would encode it as a token that is no word (a binary file?)
                raise TextInputError(f"{path}:{lineno}: NUL byte at column {text.index(chr(0)) + 1}; expected "
                                     "text (is this a binary file?)")
            yield text.rstrip("\r\n")
