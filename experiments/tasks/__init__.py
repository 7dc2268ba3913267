"""Shared tasks behind one registry: ``load(name, size="quick"|"full", seed=0)``.

The catalogue (names, kinds, metrics, sources: :mod:`experiments.tasks.catalog`) imports
without torch; ``load``, ``Split`` and ``TaskData`` import the builders on first use.
"""

from experiments.tasks.catalog import (
    KINDS,
    METRICS,
    REGISTRY,
    SIZES,
    TaskSpec,
    TaskUnavailable,
    names,
    spec,
)

_LAZY = {"load": "experiments.tasks.registry", "Split": "experiments.tasks.base",
         "TaskData": "experiments.tasks.base"}


def __getattr__(name: str):
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    raise AttributeError(f"module 'experiments.tasks' has no attribute {name!r}")


__all__ = ["KINDS", "METRICS", "REGISTRY", "SIZES", "Split", "TaskData", "TaskSpec",
           "TaskUnavailable", "load", "names", "spec"]
