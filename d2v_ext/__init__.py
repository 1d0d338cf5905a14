"""d2v_ext: a fairseq plugin for data2vec research.

Importing the package (as ``common.user_dir=.../d2v_ext`` does) applies the compat fixes, which
register every upstream data2vec model and task, then registers d2v_ext's own criterions, models
and tasks.
"""
import logging
import os

from . import compat

if os.environ.get("D2V_EXT_DEBUG", "") not in ("", "0"):
    os.environ.setdefault("HYDRA_FULL_ERROR", "1")  # fairseq-hydra-train: show the traceback of a plugin error
compat.apply_all()
from . import fast  # noqa: E402
fast.install()

from . import criterions, models, tasks  # noqa: E402,F401  (registration side effects)

# fairseq/models/wav2vec/wav2vec2_classification.py calls logging.basicConfig(level=DEBUG) at import:
# PIL would then log a line per decoded image chunk into every training log and script output.
if logging.getLogger("PIL").level == logging.NOTSET:
    logging.getLogger("PIL").setLevel(logging.INFO)

__version__ = "0.1.0"
