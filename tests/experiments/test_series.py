"""Task generators against independent closed forms (not against their own output)."""

import math

import numpy as np
import pytest
from scipy.integrate import trapezoid

from experiments.tasks import series


def _j2_power_series(x: float, terms: int = 80) -> float:
    # J_2(x) = sum_m (-1)^m / (m! (m+2)!) (x/2)^(2m+2)
    return sum((-1) ** m / (math.factorial(m) * math.factorial(m + 2)) * (x / 2) ** (2 * m + 2)
               for m in range(terms))


@pytest.mark.parametrize("x", [2.0, 3.7, 7.25, 12.0, 19.5])
def test_bessel_j2_matches_power_series(x):
    assert series.bessel_j2(np.array([x]))[0] == pytest.approx(_j2_power_series(x), abs=1e-9)


def test_bessel_j2_first_zero():
    # first positive zero of J_2 (Abramowitz & Stegun table 9.5): 5.1356223018
    assert abs(series.bessel_j2(np.array([5.1356223018]))[0]) < 1e-9


def test_damped_pendulum_energy_decays_by_the_dissipated_work():
    t = np.linspace(0.0, 20.0, 4001)
    theta, omega = series.damped_pendulum(t)
    energy = 0.5 * omega ** 2 + 9.81 * (1 - np.cos(theta))
    assert energy[0] == pytest.approx(0.5 * 3.0 ** 2)
    assert np.all(np.diff(energy) <= 1e-9)  # dE/dt = -0.15 omega^2 <= 0
    dissipated = 0.15 * trapezoid(omega ** 2, t)
    assert energy[-1] == pytest.approx(energy[0] - dissipated, rel=1e-4)


def test_delayed_control_at_pulse_centres():
    n = np.arange(11)
    x = 2.0 * n
    # at x = 2n the pulse n contributes exp(-x/16); its neighbours exp(-40) less
    assert np.allclose(series.delayed_control(x), np.exp(-x / 16.0), rtol=1e-12)


def test_population_inversion_limits():
    t = np.linspace(0.0, 5.0, 11)
    # vacuum field: a single Rabi oscillation cos(2 g t)
    assert np.allclose(series.population_inversion(t, mean_photons=0.0, coupling=0.7),
                       np.cos(2 * 0.7 * t), atol=1e-12)
    # at t = 0 the Poisson weights sum to 1
    assert series.population_inversion(np.array([0.0]))[0] == pytest.approx(1.0, abs=1e-12)


def test_narma5_hand_computed_prefix():
    u = series.narma_input(300)
    y = series.narma(u, 5)

    def u_(t):
        s = t / 300
        return 0.1 * (math.sin(2 * math.pi * 2.11 * s) * math.sin(2 * math.pi * 3.73 * s)
                      * math.sin(2 * math.pi * 4.11 * s) + 1)

    assert np.all(y[:5] == 0)
    y5 = 1.5 * u_(0) * u_(4) + 0.1
    y6 = 0.3 * y5 + 0.05 * y5 * y5 + 1.5 * u_(1) * u_(5) + 0.1
    y7 = 0.3 * y6 + 0.05 * y6 * (y6 + y5) + 1.5 * u_(2) * u_(6) + 0.1
    assert y[5:8] == pytest.approx([y5, y6, y7], rel=1e-12)


def test_narma10_random_is_bounded_and_reproducible():
    u, y = series.narma10_random(length=2000)
    assert u.shape == y.shape == (2000,)
    assert u.min() >= 0 and u.max() <= 0.5
    assert np.abs(y).max() < 10
    u2, y2 = series.narma10_random(length=2000)
    assert np.array_equal(y, y2)


def test_mackey_glass_constant_history_phase_has_closed_form():
    # For 0 <= t <= 17 the delayed value is the constant history 1.2, so the equation is
    # linear: x(t) = a/0.1 + (1.2 - a/0.1) exp(-0.1 t) with a = 0.2*1.2/(1+1.2^10).
    x = series.mackey_glass(18, drop=0)
    a = 0.2 * 1.2 / (1 + 1.2 ** 10)
    t = np.arange(18.0)
    assert np.allclose(x, a / 0.1 + (1.2 - a / 0.1) * np.exp(-0.1 * t), atol=1e-9)


def test_mackey_glass_is_chaotic_but_bounded():
    x = series.mackey_glass(500)
    assert 0.2 < x.min() < x.max() < 1.5
    assert x.std() > 0.1
