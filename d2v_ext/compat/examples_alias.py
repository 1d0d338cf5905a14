"""Fix: upstream data2vec 2.0 imports itself as ``examples.data2vec...``.

That absolute name only resolves from the root of a fairseq source checkout. Putting the installed
``fairseq`` package folder on ``sys.path`` instead would shadow the standard library
(``fairseq/logging`` hides ``logging``). We alias the name instead: ``examples.X`` is answered with
the very module object ``fairseq.examples.X``, so both names share one module (one ``Modality``
enum, one registry entry) and nothing is loaded twice.
"""
import importlib
import importlib.abc
import importlib.util
import sys

ALIAS, TARGET = "examples", "fairseq.examples"


class _AliasLoader(importlib.abc.Loader):
    def __init__(self, target_name):
        self.target_name = target_name

    def create_module(self, spec):
        # Module attributes (__name__, __spec__) are kept: _init_module_attrs does not override them.
        return importlib.import_module(self.target_name)

    def exec_module(self, module):
        pass  # already executed under its real name


class ExamplesAliasFinder(importlib.abc.MetaPathFinder):
    """Resolves ``examples`` and ``examples.*`` to ``fairseq.examples`` and its submodules."""

    def find_spec(self, fullname, path=None, target=None):
        if fullname != ALIAS and not fullname.startswith(ALIAS + "."):
            return None
        target_name = TARGET + fullname[len(ALIAS):]
        if importlib.util.find_spec(target_name) is None:
            return None
        is_pkg = hasattr(importlib.import_module(target_name), "__path__")
        return importlib.util.spec_from_loader(fullname, _AliasLoader(target_name), is_package=is_pkg)


def alias_examples_namespace():
    """Make ``import examples.data2vec...`` resolve to ``fairseq.examples.data2vec...``."""
    if not any(isinstance(f, ExamplesAliasFinder) for f in sys.meta_path):
        sys.meta_path.insert(0, ExamplesAliasFinder())
