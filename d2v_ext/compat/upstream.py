"""Import (and so register) every upstream data2vec model and task shipped inside fairseq."""
import importlib
import logging
import pkgutil
import warnings

from .dataclass_defaults import instance_defaults_as_factories

logger = logging.getLogger(__name__)

UPSTREAM = "fairseq.examples.data2vec"
SUBPACKAGES = ("models", "tasks")


def upstream_module_names():
    names = []
    for sub in SUBPACKAGES:
        pkg = importlib.import_module(f"{UPSTREAM}.{sub}")
        names += [f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__)]
    return names


def register_upstream_data2vec():
    """Import every module of fairseq/examples/data2vec/{models,tasks} so their decorators register.

    Needs the dataclass and ``examples.`` fixes active; one failure names the module that broke.
    """
    # fairseq's own registries first, so only upstream data2vec classes are built in the context.
    importlib.import_module("fairseq.models")
    importlib.import_module("fairseq.tasks")
    with instance_defaults_as_factories(), warnings.catch_warnings():
        # upstream imports timm.models.layers (deprecated alias of timm.layers): noise, not a fault
        warnings.filterwarnings("ignore", message="Importing from timm.models.layers is deprecated")
        for name in upstream_module_names():
            try:
                importlib.import_module(name)
            except Exception as e:
                raise ImportError(f"d2v_ext: upstream module {name} failed to import: {e!r}") from e
