"""d2v_ext: a fairseq plugin for data2vec research.

Importing the package (as ``common.user_dir=.../d2v_ext`` does) applies the compat fixes, which
register every upstream data2vec model and task, then registers d2v_ext's own criterions, models
and tasks.
"""
from . import compat

compat.apply_all()

from . import criterions, models, tasks  # noqa: E402,F401  (registration side effects)

__version__ = "0.1.0"
