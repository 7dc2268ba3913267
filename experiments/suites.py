"""Named comparison suites for ``qrnn compare --suite``."""

from __future__ import annotations

from dataclasses import dataclass

from experiments import tasks
from experiments.models import MODELS


@dataclass(frozen=True)
class Suite:
    """A grid: models x tasks x seeds at one size."""

    name: str
    size: str
    models: tuple[str, ...]
    tasks: tuple[str, ...]
    seeds: int


def _available(names) -> tuple[str, ...]:
    return tuple(n for n in names if not tasks.spec(n).missing())


def suite(name: str) -> Suite:
    """``quick``: small tasks at quick size (minutes on a laptop CPU); ``full``: every task
    whose data package is installed, at the published size."""
    if name == "quick":
        return Suite("quick", "quick", tuple(MODELS),
                     ("damped_shm", "bessel_j2", "narma5", "mackey_glass", "digits_rows",
                      "char_lm"), 3)
    if name == "full":
        return Suite("full", "full", tuple(MODELS), _available(tasks.names()), 3)
    raise ValueError(f"unknown suite {name!r}; allowed: quick, full")
