"""The files of a conversion: a transformers model folder in, a fairseq checkpoint folder out, and back.

Outputs are written into a temporary folder beside ``--out`` and renamed into place at the end, so a
refused or failed conversion leaves nothing behind (and never a half-written folder).
"""
import json
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from ..cli import check_output_dir
from ..errors import CheckpointMismatchError, MissingInputError, OutputPathError

VISION_TYPES = ("data2vec-vision",)
TEXT_TYPES = ("data2vec-text", "roberta")


@contextmanager
def staged_folder(out):
    """Yield a temporary folder that becomes ``out`` if the block succeeds (else is removed)."""
    out = check_output_dir(out)  # an existing file, an unwritable parent: a clean error before any work
    if out.exists() and any(out.iterdir()):
        raise OutputPathError(f"--out {out}: exists and is not an empty folder; choose a new folder")
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    try:
        yield tmp
        if out.exists():
            out.rmdir()
        os.replace(tmp, out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp)


def read_transformers_config(folder):
    """config.json of a transformers model folder, with what the converter needs checked."""
    path = Path(folder) / "config.json"
    if not path.is_file():
        raise MissingInputError(f"{folder}: no config.json; expected a transformers model folder (save_pretrained)")
    try:
        cfg = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise CheckpointMismatchError(f"{path}: not valid json (line {e.lineno}: {e.msg})") from None
    if cfg.get("model_type") not in VISION_TYPES + TEXT_TYPES:
        raise CheckpointMismatchError(f"{path}: model_type {cfg.get('model_type')!r}; expected one of "
                                      f"{VISION_TYPES + TEXT_TYPES}")
    return cfg


def load_transformers_model(folder):
    """The model of a transformers folder, as the class its config names (eager attention)."""
    import transformers

    cfg = read_transformers_config(folder)
    arch = (cfg.get("architectures") or [None])[0]
    default = {"data2vec-text": "Data2VecTextModel", "roberta": "RobertaModel",
               "data2vec-vision": "Data2VecVisionModel"}[cfg["model_type"]]
    cls = getattr(transformers, arch or default, None)
    if cls is None:
        raise CheckpointMismatchError(f"{folder}: architecture {arch!r} is not a transformers class")
    return cls.from_pretrained(str(folder), attn_implementation="eager"), cfg["model_type"]


def write_tokenizer(folder, vocab_json_text, merges_file, encoder_json):
    """vocab.json (token -> fairseq index); with merges.txt and the RoBERTa tokenizer files when the
    dictionary holds every GPT-2 token. Returns a sentence for the report. A smaller dictionary (a
    corpus-built dict.txt) gets vocab.json only: fairseq BPE-encodes with the full GPT-2 vocabulary
    and maps unknown ids to <unk>, which a transformers BPE tokenizer over the subset cannot do."""
    import transformers

    from .vocab import read_json

    folder = Path(folder)
    (folder / "vocab.json").write_text(vocab_json_text, encoding="utf-8")
    missing = len(set(read_json(encoder_json, "GPT-2 encoder.json")) - set(json.loads(vocab_json_text)))
    if missing:
        return (f"vocab.json only: the dictionary lacks {missing} GPT-2 tokens, so no transformers tokenizer "
                "reproduces fairseq's encoding (use fairseq's GPT-2 BPE, or a full 50k dictionary)")
    shutil.copyfile(merges_file, folder / "merges.txt")
    transformers.RobertaTokenizer(str(folder / "vocab.json"), str(folder / "merges.txt")).save_pretrained(str(folder))
    return "RobertaTokenizer (vocab.json in the dictionary's order, GPT-2 merges)"


def write_text_files(folder, files):
    for rel, text in files.items():
        path = Path(folder) / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text, encoding="utf-8")
