"""The task builders (what :mod:`experiments.tasks.catalog` describes) and ``load``."""

from __future__ import annotations

import numpy as np
import torch

from experiments.tasks import control, language, sequences, series
from experiments.tasks.base import (
    Split,
    TaskData,
    TaskUnavailable,
    chronological_splits,
    minmax_scale,
    windows,
)
from experiments.tasks.catalog import REGISTRY, SIZES, TaskSpec, names, spec

WINDOW = 4  # a window of 4 values predicts the next one (the QRNN papers' framing)


def _series_task(name: str, size: str, description: str, inputs: np.ndarray,
                 targets: np.ndarray | None = None, scale: bool = True, **info) -> TaskData:
    """Window a series (inputs predict targets; the series itself when ``targets`` is None)."""
    if scale:
        inputs = minmax_scale(inputs)
    targets = inputs if targets is None else targets
    train, val, test = chronological_splits(*windows(inputs, targets, WINDOW))
    return TaskData(name, size, "regression", "mse", description, 1, 1, train, val, test,
                    info={"window": WINDOW, **info})


def _quick_len(size: str, full: int, quick: int) -> int:
    return quick if size == "quick" else full


def build_damped_shm(size, seed):
    t = np.linspace(0.0, 20.0, 240)
    _theta, omega = series.damped_pendulum(t)
    return _series_task("damped_shm", size, "damped pendulum angular velocity", omega)


def build_bessel_j2(size, seed):
    return _series_task("bessel_j2", size, "Bessel J2(x), x in [2, 100]",
                        series.bessel_j2(np.linspace(2.0, 100.0, 256)))


def build_delayed_control(size, seed):
    x = np.arange(-2.0, 20.0, 0.01)
    x = x[:600] if size == "quick" else x
    return _series_task("delayed_control", size, "delayed-control pulse train",
                        series.delayed_control(x))


def build_population_inversion(size, seed, mean_photons=40.0, coupling=1.0, n_max=100):
    t = np.linspace(0.0, 200.0, 2500)[: _quick_len(size, 2500, 600)]
    w = series.population_inversion(t, mean_photons, coupling, n_max)
    return _series_task("population_inversion", size,
                        f"Jaynes-Cummings inversion, mean photons {mean_photons}", w,
                        mean_photons=mean_photons, coupling=coupling, n_max=n_max)


def _narma_task(order):
    def build(size, seed):
        u = series.narma_input(300)
        return _series_task(f"narma{order}", size, f"NARMA{order}, deterministic input",
                            u, series.narma(u, order), scale=False)
    return build


def build_narma10_random(size, seed):
    u, y = series.narma10_random(length=_quick_len(size, 2000, 600))
    return _series_task("narma10_random", size, "NARMA10, u ~ U[0, 0.5]", u, y, scale=False)


def build_mackey_glass(size, seed):
    x = series.mackey_glass(_quick_len(size, 2000, 600))
    return _series_task("mackey_glass", size, "Mackey-Glass, tau = 17", x)


def build_sunspots(size, seed):
    try:
        from statsmodels.datasets import sunspots
    except ImportError:
        raise TaskUnavailable("task 'sunspots' needs statsmodels: pip install statsmodels "
                              "(or the [data] extra)") from None
    values = sunspots.load_pandas().data["SUNACTIVITY"].to_numpy(dtype=float)
    return _series_task("sunspots", size, "yearly sunspot numbers 1700-2008", values)


def build_airline(size, seed):
    try:
        from pmdarima.datasets import load_airpassengers
    except ImportError:
        raise TaskUnavailable("task 'airline' needs pmdarima: pip install pmdarima "
                              "(or the [data] extra)") from None
    return _series_task("airline", size, "monthly airline passengers 1949-1960",
                        np.asarray(load_airpassengers(), dtype=float))


def _classification(name, size, description, splits, n_classes, **info):
    train, val, test = splits
    return TaskData(name, size, "classification", "accuracy", description,
                    train.x.shape[-1], n_classes, train, val, test, info=info)


def build_digits_rows(size, seed):
    return _classification("digits_rows", size, "8x8 digits, one row per step",
                           sequences.digits("rows", seed), 10)


def build_digits_pixels(size, seed, classes=None):
    if classes is None:
        return _classification("digits_pixels", size, "8x8 digits, one pixel per step",
                               sequences.digits("pixels", seed), 10)
    digits = tuple(int(c) for c in str(classes).split(","))
    if len(digits) < 2 or len(set(digits)) != len(digits) or not set(digits) <= set(range(10)):
        raise ValueError(f"classes={classes!r}: give two or more distinct digits 0-9, "
                         "comma-separated (e.g. 0,1)")
    return _classification("digits_pixels", size,
                           f"8x8 digits {'/'.join(map(str, digits))}, one pixel per step",
                           sequences.digits("pixels", seed, digits), len(digits),
                           classes=",".join(map(str, digits)))


def build_spoken_digits(size, seed):
    splits = sequences.spoken_digits(seed, max_utterances=600 if size == "quick" else None)
    return _classification("spoken_digits", size, "spoken digits (FSDD), 13 MFCCs per frame",
                           splits, 10)


def build_parity(size, seed, bits=None):
    bits = bits if bits is not None else (8 if size == "quick" else 16)
    n_train, n_test = (2000, 500) if size == "quick" else (10000, 2000)
    return _classification("parity", size, f"{bits}-bit parity, one bit per step",
                           sequences.parity(int(bits), n_train, n_test, seed), 2, bits=bits)


def build_char_lm(size, seed, corpus=None):
    text = language.pydoc_topics_text() if corpus is None else language.read_corpus(corpus)
    if size == "quick":
        text = text[:60000]
    train, val, test, vocab = language.char_splits(text, seq_len=64 if size == "quick" else 128)
    source = "pydoc_data.topics" if corpus is None else corpus
    return TaskData("char_lm", size, "language", "bpc", f"next character of {source}",
                    len(vocab), len(vocab), train, val, test,
                    info={"vocab_size": len(vocab), "characters": len(text)})


def build_cartpole(size, seed):
    make = control.cartpole_factory()
    return TaskData("cartpole", size, "control", "mean_return",
                    "CartPole-v1 (observations / CARTPOLE_OBS_SCALE), REINFORCE", 4, 2,
                    None, None, None, make_env=make,
                    info={"eval_episodes": 100, "max_steps": 500,
                          "obs_scale": list(control.CARTPOLE_OBS_SCALE)})


build_narma5 = _narma_task(5)
build_narma10 = _narma_task(10)


def load(name: str, size: str = "quick", seed: int = 0, **options) -> TaskData:
    """Build task ``name`` at ``size`` ("quick" or "full"); ``seed`` fixes random splits.

    ``options`` are task parameters listed in ``TaskSpec.options`` (e.g. ``bits`` for parity,
    ``corpus`` for char_lm). Raises ``TaskUnavailable`` naming the package to install when an
    optional data package is missing.
    """
    s = spec(name)
    if size not in SIZES:
        raise ValueError(f"size={size!r}; allowed: {', '.join(SIZES)}")
    if not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r}: must be an integer >= 0")
    unknown = set(options) - set(s.options)
    if unknown:
        allowed = ", ".join(s.options) or "none"
        raise ValueError(f"task {name!r} has no option {sorted(unknown)[0]!r}; allowed: {allowed}")
    options = {k: s.options[k](v) for k, v in options.items() if v is not None}
    torch_state = torch.random.get_rng_state()
    try:
        return s.build(size, seed, **options)
    finally:
        torch.random.set_rng_state(torch_state)


__all__ = ["REGISTRY", "TaskSpec", "TaskData", "Split", "TaskUnavailable", "load", "names",
           "spec"]
