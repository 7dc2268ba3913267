"""Shared tasks (TASKS.md) behind one registry: ``load(name, size="quick"|"full", seed=0)``."""

from experiments.tasks.base import METRICS, SIZES, Split, TaskData, TaskUnavailable
from experiments.tasks.registry import REGISTRY, TaskSpec, load, names, spec

__all__ = ["METRICS", "REGISTRY", "SIZES", "Split", "TaskData", "TaskSpec", "TaskUnavailable",
           "load", "names", "spec"]
