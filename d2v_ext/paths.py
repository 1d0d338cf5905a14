"""Where the bundled data lives: ``$D2V_EXT_DATA`` or ``../shared/data`` beside the project root."""
import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
ENV_VAR = "D2V_EXT_DATA"


def shared_data_dir() -> Path:
    """The bundled real data; ``$D2V_EXT_DATA`` overrides ``<project>/../shared/data``."""
    return Path(os.environ.get(ENV_VAR) or PROJECT_ROOT.parent / "shared" / "data")


def default_gpt2_bpe_files():
    """(encoder.json, vocab.bpe) from the bundled data, or (None, None) when not present."""
    d = shared_data_dir() / "gpt2_bpe"
    enc, voc = d / "encoder.json", d / "vocab.bpe"
    return (str(enc), str(voc)) if enc.is_file() and voc.is_file() else (None, None)
