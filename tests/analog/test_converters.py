"""DAC and ADCs: error within half an LSB inside the range, clipping outside, the closed
form linear converters equal the generic threshold converter, monotone transfer."""

import numpy as np
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from analog import CrossbarConfig, Dac, IdealAdc, RampAdc, SarAdc, ThresholdAdc, make_adc


@pytest.mark.parametrize("cls", [RampAdc, SarAdc])
@pytest.mark.parametrize("bits", [1, 3, 5, 8])
def test_linear_adc_half_lsb_inside_and_clips_outside(cls, bits):
    fs = 2.5
    adc = cls(bits, fs)
    lsb = 2 * fs / 2**bits
    inside = torch.linspace(-fs, fs, 4001, dtype=torch.float64)
    err = (adc.convert(inside) - inside).abs().max().item()
    assert err <= lsb / 2 + 1e-12
    outside = torch.tensor([-10.0, -fs - 0.3, fs + 0.3, 10.0], dtype=torch.float64)
    top, bottom = fs - lsb / 2, -fs + lsb / 2
    expected = torch.tensor([bottom, bottom, top, top], dtype=torch.float64)
    assert torch.allclose(adc.convert(outside), expected)
    assert len(torch.unique(adc.convert(inside))) == 2**bits


@pytest.mark.parametrize("cls", [RampAdc, SarAdc])
def test_closed_form_equals_searchsorted_reference(cls):
    gen = torch.Generator().manual_seed(0)
    offset = torch.randn(1, 7, generator=gen, dtype=torch.float64) * 0.05
    adc = cls(4, 1.0, offset=offset)
    values = torch.randn(300, 7, generator=gen, dtype=torch.float64) * 0.8
    reference = ThresholdAdc(adc.thresholds, adc.levels, offset=offset)
    assert torch.equal(adc.convert(values), reference.convert(values))
    # an offset shifts every threshold: convert(v) == convert_without_offset(v - offset)
    plain = cls(4, 1.0)
    assert torch.equal(adc.convert(values), plain.convert(values - offset))


def test_conversion_cycles_and_ideal():
    assert RampAdc(5, 1.0).conversion_cycles == 32
    assert SarAdc(5, 1.0).conversion_cycles == 5
    v = torch.randn(10)
    assert IdealAdc().convert(v) is v and IdealAdc().conversion_cycles == 0


def test_threshold_adc_nonlinear_transfer():
    """A nonlinear ramp (thresholds at the inverse of tanh) outputs tanh quantized
    uniformly in output space: the error in output space is at most half a step."""
    bits = 4
    k = torch.arange(1, 2**bits, dtype=torch.float64)
    thresholds = torch.atanh(2 * k / 2**bits - 1)
    levels = (torch.arange(2**bits, dtype=torch.float64) + 0.5) * 2 / 2**bits - 1
    adc = ThresholdAdc(thresholds, levels)
    x = torch.linspace(-4, 4, 2001, dtype=torch.float64)
    assert (adc.convert(x) - torch.tanh(x)).abs().max() <= 1 / 2**bits + 1e-12
    assert adc.bits == bits and adc.conversion_cycles == 2**bits - 1


def test_threshold_adc_rejects_bad_tables():
    with pytest.raises(ValueError, match="strictly increasing"):
        ThresholdAdc(torch.tensor([0.0, -1.0]), torch.zeros(3))
    with pytest.raises(ValueError, match="levels"):
        ThresholdAdc(torch.tensor([0.0, 1.0]), torch.zeros(2))


@pytest.mark.parametrize("bits", [2, 4, 8])
def test_dac_half_lsb_zero_exact_and_clipping(bits):
    dac = Dac(bits, 1.5)
    lsb = 1.5 / (2 ** (bits - 1) - 1)
    x = torch.linspace(-1.5, 1.5, 3001, dtype=torch.float64)
    assert (dac.convert(x) - x).abs().max() <= lsb / 2 + 1e-12
    assert dac.convert(torch.zeros(3)).abs().max() == 0
    assert torch.equal(dac.convert(torch.tensor([-9.0, 9.0])), torch.tensor([-1.5, 1.5]))
    assert len(torch.unique(dac.convert(x))) == 2**bits - 1


@pytest.mark.parametrize("bad", [1, 17, 0])
def test_bad_bits(bad):
    with pytest.raises(ValueError, match=f"bits={bad} .*\\[2, 16\\]"):
        Dac(bad, 1.0)
    if bad != 1:
        with pytest.raises(ValueError, match=f"bits={bad} .*\\[1, 16\\]"):
            RampAdc(bad, 1.0)


def test_make_adc_offsets_have_configured_spread():
    config = CrossbarConfig(adc_kind="sar", adc_bits=6, adc_range=4.0, adc_offset_lsb=0.5,
                            adc_noise_lsb=0.25)
    adc = make_adc(config, (1, 1, 20000), torch.Generator().manual_seed(1))
    lsb = 2 * 4.0 / 64
    assert isinstance(adc, SarAdc)
    assert adc.offset.std().item() == pytest.approx(0.5 * lsb, rel=0.03)
    assert adc.noise_std == pytest.approx(0.25 * lsb)
    assert isinstance(make_adc(CrossbarConfig.ideal(), (1,)), IdealAdc)


@settings(max_examples=25, deadline=None)
@given(bits=st.integers(1, 10), fs=st.floats(0.01, 100.0), kind=st.sampled_from(["ramp", "sar"]),
       offset=st.floats(-0.5, 0.5), seed=st.integers(0, 2**31))
def test_adc_transfer_is_monotone(bits, fs, kind, offset, seed):
    adc = (RampAdc if kind == "ramp" else SarAdc)(bits, fs, offset=offset * fs)
    rng = np.random.default_rng(seed)
    v = torch.from_numpy(np.sort(rng.uniform(-3 * fs, 3 * fs, 500)))
    out = adc.convert(v)
    assert bool((out[1:] >= out[:-1]).all())
    assert bool(out.abs().max() <= fs)
