"""Runs when a study's SLURM job starts Python (``PYTHONPATH`` from the job's setup lines,
d2v_ext/study/launchers.py), before submitit unpickles the job.

hydra's submitit launcher pickles the run's hydra state, and the config store in it names upstream's
data2vec 2.0 classes (``fairseq.examples.data2vec...``). Those modules import themselves as
``examples.data2vec...``, which only resolves once the plugin has installed its alias
(compat/examples_alias.py). Without this file the job fails with "No module named 'examples'"
(tests/test_study_launchers.py shows both). Importing the plugin installs the alias; then the
``sitecustomize`` this file shadows, if any, runs as it would have.
"""
import importlib.machinery
import importlib.util
import os
import sys

import d2v_ext  # noqa: F401  (installs the examples alias, registers the plugin)

_here = os.path.dirname(os.path.abspath(__file__))
_spec = importlib.machinery.PathFinder.find_spec(
    "sitecustomize", [p for p in sys.path if os.path.abspath(p or ".") != _here])
if _spec is not None and _spec.loader is not None:
    _spec.loader.exec_module(importlib.util.module_from_spec(_spec))
