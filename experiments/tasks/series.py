"""Generators of the shared time-series tasks, as plain numpy functions (raw, unscaled).

Each function's docstring states the exact series it returns (equation, parameters, sampling);
scaling and windowing happen in :mod:`experiments.tasks.registry`.
"""

from __future__ import annotations

import numpy as np


def damped_pendulum(t: np.ndarray, damping: float = 0.15, g: float = 9.81,
                    theta0: float = 0.0, omega0: float = 3.0) -> tuple[np.ndarray, np.ndarray]:
    """Solve ``theta'' = -damping theta' - g sin(theta)`` at times ``t`` (s).

    Returns ``(theta, omega)`` (rad, rad/s), each shaped like ``t``; the task's series is omega.
    """
    from scipy.integrate import solve_ivp

    def rhs(_t, s):
        return [s[1], -damping * s[1] - g * np.sin(s[0])]

    sol = solve_ivp(rhs, (float(t[0]), float(t[-1])), [theta0, omega0], t_eval=t,
                    method="DOP853", rtol=1e-10, atol=1e-12)
    return sol.y[0], sol.y[1]


def bessel_j2(x: np.ndarray) -> np.ndarray:
    """Bessel function of the first kind of order 2 at ``x``."""
    from scipy.special import jv

    return jv(2, x)


def delayed_control(x: np.ndarray, pulses: int = 11) -> np.ndarray:
    """``sum_{n=0}^{pulses-1} exp(-10 (x - 2n)^2) * exp(-x / 16)``."""
    n = np.arange(pulses)[:, None]
    return (np.exp(-10.0 * (x[None, :] - 2.0 * n) ** 2)).sum(axis=0) * np.exp(-x / 16.0)


def population_inversion(t: np.ndarray, mean_photons: float = 40.0, coupling: float = 1.0,
                         n_max: int = 100) -> np.ndarray:
    """Jaynes-Cummings atomic inversion for an excited atom in a coherent field:
    ``W(t) = sum_{n=0}^{n_max} Poisson(n; mean_photons) cos(2 g t sqrt(n + 1))``."""
    from scipy.stats import poisson

    n = np.arange(n_max + 1)
    weights = poisson.pmf(n, mean_photons) if mean_photons > 0 else (n == 0).astype(float)
    return (weights[:, None] * np.cos(2.0 * coupling * np.sqrt(n[:, None] + 1.0) * t[None, :])
            ).sum(axis=0)


def narma(u: np.ndarray, order: int) -> np.ndarray:
    """NARMA-``order`` output for the input ``u`` (length ``T``):

    ``y_{t+1} = 0.3 y_t + 0.05 y_t sum_{j=0}^{order-1} y_{t-j} + 1.5 u_{t-order+1} u_t + 0.1``
    for ``t >= order - 1``; ``y_t = 0`` before. Returns ``y`` of length ``T``.
    """
    y = np.zeros(len(u))
    for t in range(order - 1, len(u) - 1):
        y[t + 1] = (0.3 * y[t] + 0.05 * y[t] * y[t - order + 1:t + 1].sum()
                    + 1.5 * u[t - order + 1] * u[t] + 0.1)
    return y


def narma_input(length: int = 300) -> np.ndarray:
    """The deterministic NARMA input of the QRNN papers:
    ``u_t = 0.1 (sin(2 pi 2.11 t/T) sin(2 pi 3.73 t/T) sin(2 pi 4.11 t/T) + 1)``, ``T = length``."""
    t = np.arange(length)
    s = t / length
    return 0.1 * (np.sin(2 * np.pi * 2.11 * s) * np.sin(2 * np.pi * 3.73 * s)
                  * np.sin(2 * np.pi * 4.11 * s) + 1.0)


def narma10_random(length: int = 2000, washout: int = 200, seed: int = 0,
                   bound: float = 10.0, max_draws: int = 100) -> tuple[np.ndarray, np.ndarray]:
    """Textbook NARMA10: ``u ~ U[0, 0.5]``; ``length`` samples after a ``washout``. A series
    whose ``|y|`` exceeds ``bound`` (diverging) is rejected and redrawn. Returns ``(u, y)``."""
    rng = np.random.default_rng(seed)
    for _ in range(max_draws):
        u = rng.uniform(0.0, 0.5, length + washout)
        with np.errstate(over="ignore", invalid="ignore"):
            y = narma(u, 10)
        if np.all(np.isfinite(y)) and np.abs(y).max() < bound:
            return u[washout:], y[washout:]
    raise RuntimeError(f"NARMA10 diverged in {max_draws} draws")


def mackey_glass(n_samples: int, drop: int = 1000, tau: float = 17.0, dt: float = 0.1,
                 sample_every: float = 1.0, x0: float = 1.2) -> np.ndarray:
    """Mackey-Glass ``dx/dt = 0.2 x(t-tau) / (1 + x(t-tau)^10) - 0.1 x(t)``, ``x = x0`` for
    ``t <= 0``, fourth-order Runge-Kutta with step ``dt``; the delayed value at a half step is
    the mean of its two grid neighbours. Sampled every ``sample_every`` time units; the first
    ``drop`` samples are dropped. Returns ``n_samples`` values."""
    lag = int(round(tau / dt))
    stride = int(round(sample_every / dt))
    steps = (n_samples + drop) * stride
    x = np.empty(steps + lag + 1)
    x[: lag + 1] = x0  # x[lag] is t = 0

    def f(xt, xd):
        return 0.2 * xd / (1.0 + xd ** 10) - 0.1 * xt

    for i in range(lag, lag + steps):
        d0, d1 = x[i - lag], x[i - lag + 1]
        dm = 0.5 * (d0 + d1)
        k1 = f(x[i], d0)
        k2 = f(x[i] + 0.5 * dt * k1, dm)
        k3 = f(x[i] + 0.5 * dt * k2, dm)
        k4 = f(x[i] + dt * k3, d1)
        x[i + 1] = x[i] + dt / 6.0 * (k1 + 2 * k2 + 2 * k3 + k4)
    samples = x[lag::stride][: n_samples + drop]
    return samples[drop:]
