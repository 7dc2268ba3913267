"""Nonlinear ramp ADC against closed forms and the published error figures; the linear ADC +
digital activation baseline; ratiometric read voltage; calibration; bad input."""

import dataclasses
import math

import pytest
import torch

from analog import AnalogLinear, CrossbarConfig
from analog.activations import Activation
from analog.nl_adc import DigitalActivationADC, NonlinearRampADC

IDEAL = dataclasses.replace(CrossbarConfig.ideal(), adc_kind="nl_ramp", adc_bits=5)
X = torch.randn(400_000, dtype=torch.float64, generator=torch.Generator().manual_seed(0)) * 2.5


def _rms(adc, x=X, fn=torch.sigmoid):
    return float((adc(x) - fn(x)).square().mean().sqrt())


def test_thresholds_are_the_inverse_of_the_activation_in_closed_form():
    k = torch.arange(1, 32, dtype=torch.float64)
    sig = NonlinearRampADC("sigmoid", 5, IDEAL)
    tanh = NonlinearRampADC("tanh", 5, IDEAL)
    assert torch.allclose(sig.thresholds[0], torch.log(k / (32 - k)), atol=1e-12)
    assert torch.allclose(tanh.thresholds[0], 0.5 * torch.log((k / 16) / (2 - k / 16)),
                          atol=1e-12)
    # the derived ramp: thresholds span +-3.43, increments 0.125..0.726 (5.8x) -> 17..100 uS
    assert sig.thresholds.abs().max().item() == pytest.approx(math.log(31), abs=1e-12)
    g = sig.ramp_us[0]
    assert g.max().item() == pytest.approx(100.0) and g.max() / g.min() == pytest.approx(
        0.726 / 0.125, rel=0.01)


def test_ideal_5_bit_sigmoid_error_and_half_lsb_bound():
    adc = NonlinearRampADC("sigmoid", 5, IDEAL)
    err = adc(X) - torch.sigmoid(X)
    assert float(err.square().mean().sqrt()) == pytest.approx(0.0090, rel=0.05)
    assert float(err.abs().max()) <= 0.5 / 32 + 1e-12
    levels = adc(X) * 32 - 0.5  # outputs are the centres of 32 equal output steps
    assert torch.allclose(levels, levels.round(), atol=1e-9)


def test_each_extra_bit_halves_the_error_and_the_linear_design_is_at_least_2x_worse():
    rms = {b: _rms(NonlinearRampADC("sigmoid", b, IDEAL)) for b in (3, 4, 5, 6, 7, 8)}
    for b in (3, 4, 5, 6, 7):
        assert 1.8 < rms[b] / rms[b + 1] < 2.2
    for b in (3, 4, 5, 6, 8):
        assert _rms(DigitalActivationADC("sigmoid", b, IDEAL)) >= 2 * rms[b]
    assert rms[5] == pytest.approx(0.0090, rel=0.05) and rms[3] == pytest.approx(0.037, rel=0.05)


@pytest.mark.parametrize(("noise", "published"), [(0.01, 0.0099), (0.02, 0.0121)])
def test_ramp_programming_noise_grows_the_error_as_published(noise, published):
    config = dataclasses.replace(IDEAL, prog_noise_rel=noise, ramp_calibration_devices=0)
    x = X[:20_000]
    mse = [_rms(NonlinearRampADC("sigmoid", 5, config, seed=s), x) ** 2 for s in range(60)]
    assert math.sqrt(sum(mse) / len(mse)) == pytest.approx(published, rel=0.2)


def test_at_8_bits_two_percent_programming_error_dominates_the_ramp():
    """The central 8-bit increments are 2.2 uS, the size of a 2% (2 uS) programming error."""
    noisy = dataclasses.replace(IDEAL, prog_noise_rel=0.02)
    x = X[:20_000]

    mse = [_rms(NonlinearRampADC("sigmoid", 8, noisy, seed=s), x) ** 2 for s in range(20)]
    noisy_8 = math.sqrt(sum(mse) / len(mse))

    assert NonlinearRampADC("sigmoid", 8, IDEAL).ramp_us.min().item() == pytest.approx(
        100 * (math.log(129 / 127) - math.log(128 / 128)) / (math.log(255) - math.log(254 / 2)),
        rel=0.05)
    assert noisy_8 > 5 * _rms(NonlinearRampADC("sigmoid", 8, IDEAL), x)
    assert noisy_8 > 3 * _rms(DigitalActivationADC("sigmoid", 8, IDEAL), x)


def test_read_voltage_moves_no_nl_code_but_moves_linear_codes():
    nl = NonlinearRampADC("tanh", 5, IDEAL)
    lin = DigitalActivationADC("tanh", 5, IDEAL)
    z = X[:20_000]
    nominal_nl, nominal_lin = nl.codes(z), lin.codes(z)
    for v in (0.15, 0.175, 0.225, 0.25):
        assert torch.equal(nl.codes(z, read_voltage_v=v), nominal_nl)
        moved = (lin.codes(z, read_voltage_v=v) != nominal_lin).double().mean()
        assert moved > 0.2
    assert torch.equal(lin.codes(z, read_voltage_v=0.2), nominal_lin)


def test_bias_calibration_recovers_most_of_the_stuck_off_error():
    faulty = dataclasses.replace(IDEAL, stuck_off_rate=0.05)
    x = X[:20_000]
    ideal_mse = _rms(NonlinearRampADC("sigmoid", 5, IDEAL), x) ** 2
    excess = {}
    for cal in (0, 5):
        config = dataclasses.replace(faulty, ramp_calibration_devices=cal)
        mse = [_rms(NonlinearRampADC("sigmoid", 5, config, seed=s), x) ** 2
               for s in range(40)]
        excess[cal] = sum(mse) / len(mse) - ideal_mse
    assert excess[0] > 1e-5  # the faults cost something
    assert excess[5] < 0.2 * excess[0]


def test_searchsorted_codes_equal_counting_thresholds_with_offsets_and_tile_ramps():
    config = dataclasses.replace(IDEAL, prog_noise_rel=0.02, adc_offset_lsb=0.5, tile_cols=3,
                                 ramp_sharing="tile")
    adc = NonlinearRampADC("sigmoid", 4, config, columns=7, seed=3)
    assert adc.n_ramps == 3 and not torch.equal(adc.thresholds[0], adc.thresholds[1])
    z = torch.randn(5, 11, 7, dtype=torch.float64, generator=torch.Generator().manual_seed(1)) * 3
    per_column = adc.thresholds[torch.arange(7) // 3] + adc.offset  # (7, 15)
    counted = (per_column <= z.unsqueeze(-1)).sum(-1)
    assert torch.equal(adc.codes(z), counted)
    shared = NonlinearRampADC("tanh", 4, dataclasses.replace(config, ramp_sharing="shared"),
                              columns=7, seed=3)
    counted = (shared.thresholds[0] + shared.offset <= z.unsqueeze(-1)).sum(-1)
    assert shared.n_ramps == 1 and torch.equal(shared.codes(z), counted)


def test_straight_through_gradient_is_the_activation_derivative():
    for fn, adc_cls in (("sigmoid", NonlinearRampADC), ("tanh", DigitalActivationADC)):
        adc = adc_cls(fn, 5, IDEAL)
        z = torch.randn(50, dtype=torch.float64, requires_grad=True)
        adc(z).sum().backward()
        f = getattr(torch, fn)(z.detach())
        slope = f * (1 - f) if fn == "sigmoid" else 1 - f.square()
        assert torch.allclose(z.grad, slope, atol=1e-12)


def test_seeds_give_identical_or_different_ramps():
    config = dataclasses.replace(IDEAL, prog_noise_rel=0.02, adc_offset_lsb=0.3)
    a, b = (NonlinearRampADC("sigmoid", 5, config, columns=4, seed=7) for _ in range(2))
    c = NonlinearRampADC("sigmoid", 5, config, columns=4, seed=8)
    assert torch.equal(a.thresholds, b.thresholds) and torch.equal(a.offset, b.offset)
    assert not torch.equal(a.thresholds, c.thresholds)


def test_custom_activation_with_inverse_or_table():
    softsign = Activation.custom(lambda x: x / (1 + x.abs()), inverse=lambda y: y / (1 - y.abs()),
                                 domain=(-20.0, 20.0))
    table = torch.linspace(-20, 20, 2001, dtype=torch.float64)
    tabulated = Activation.custom(lambda x: x / (1 + x.abs()),
                                  table=(table, table / (1 + table.abs())), domain=(-20.0, 20.0))
    exact = NonlinearRampADC(softsign, 4, IDEAL).thresholds
    assert torch.allclose(NonlinearRampADC(tabulated, 4, IDEAL).thresholds, exact, atol=1e-3)
    k = torch.arange(1, 16, dtype=torch.float64)
    y = softsign.low + k * (softsign.high - softsign.low) / 16
    assert torch.allclose(exact[0], y / (1 - y.abs()), atol=1e-12)


def test_bad_input_is_one_line():
    with pytest.raises(ValueError, match="not monotone increasing"):
        NonlinearRampADC(lambda x: torch.sin(x), 5, IDEAL)
    for bits in (0, 13):
        with pytest.raises(ValueError, match=rf"bits={bits} is not allowed: expected an integer "
                                             r"in \[1, 12\]"):
            NonlinearRampADC("sigmoid", bits, IDEAL)
    with pytest.raises(ValueError, match="the inverse of 'custom' does not invert fn"):
        Activation.custom(torch.sigmoid, inverse=lambda y: 2 * torch.logit(y))
    with pytest.raises(ValueError, match=r"read_voltage_v=0 is not allowed: expected a number "
                                         r"in \(0, 5\] V"):
        NonlinearRampADC("sigmoid", 5, IDEAL).codes(X[:4], read_voltage_v=0)
    with pytest.raises(ValueError, match="fn='relu' is unknown; allowed: sigmoid, tanh"):
        NonlinearRampADC("relu", 5, IDEAL)
    with pytest.raises(ValueError, match=r"input has shape \(4, 3\): expected \(\.\.\., 5\)"):
        NonlinearRampADC("sigmoid", 5, IDEAL, columns=5)(torch.zeros(4, 3))
    with pytest.raises(ValueError, match="adc_bits=13 is not allowed"):
        dataclasses.replace(IDEAL, adc_bits=13)
    with pytest.raises(ValueError, match="adc_kind='nl_ramp' is not allowed here: a nonlinear "
                                         "ramp converts a whole pre-activation"):
        AnalogLinear(3, 2, IDEAL)
