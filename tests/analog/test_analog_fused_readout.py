"""The fused input and readout passes (analog.readout, compiled C) against the torch path of
analog.tile: the same ADC codes without noise, the same noise distribution with it, and
the torch fallback when no C compiler is available."""

import dataclasses

import numpy as np
import pytest
import torch

from analog import AnalogLinear, CrossbarConfig, analog_mvm, make_adc, program
from analog import readout as compiled_readout

REAL = CrossbarConfig.rram_realistic()
QUIET = dataclasses.replace(REAL, read_noise_rel=0.0, adc_noise_lsb=0.0)

pytestmark = pytest.mark.skipif(not compiled_readout.available(),
                                reason=f"no fused ADC kernel: {compiled_readout.LIBRARY.error}")


def _layer(config, out_f=1000, in_f=300, seed=0):
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(out_f, in_f, generator=gen) / in_f**0.5
    layer = program(w, config, gen)
    adc = make_adc(config, (layer.weights.shape[0], 1, layer.weights.shape[2]), gen)
    return w, layer, adc


@pytest.fixture
def calls(monkeypatch):
    """Counts the calls of the fused kernel."""
    count = []
    original = compiled_readout.readout

    def counting(*args, **kwargs):
        count.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(compiled_readout, "readout", counting)
    return count


@pytest.mark.parametrize("config", [
    QUIET,  # 5-bit ramp, per-column comparator offsets, abs-max input scaling, 8-bit DAC
    dataclasses.replace(QUIET, adc_offset_lsb=0.0, dac_range=2.0, adc_kind="sar", adc_bits=3),
    dataclasses.replace(QUIET, adc_bits=8, adc_range=4.0, tile_rows=64, tile_cols=96,
                        drift_nu=0.05, drift_time_s=1e4),
], ids=["realistic", "scalar-offset-fixed-range", "drift-gain-odd-tiles"])
@pytest.mark.parametrize("with_bias", [True, False])
def test_fused_equals_torch_path_without_noise(calls, config, with_bias):
    _, layer, adc = _layer(config)
    x = torch.rand(64, 300, generator=torch.Generator().manual_seed(1)) * 3 - 1.5
    bias = torch.randn(1000) if with_bias else None
    fused = analog_mvm(x, layer, adc, config, bias=bias)
    reference = analog_mvm(x, layer, adc, config, bias=bias, path="reference")
    assert len(calls) == 1
    # one ADC code more or less moves an output by scale * LSB * s, about 1e-2 here:
    # agreement to float rounding means the same codes
    assert torch.allclose(fused, reference, rtol=1e-6, atol=1e-6)
    assert fused.shape == (64, 1000) and (reference.abs() > 0).float().mean() > 0.9


def test_fused_noise_matches_torch_path_in_distribution(calls):
    _, layer, adc = _layer(REAL)
    x = torch.rand(64, 300, generator=torch.Generator().manual_seed(2)) * 2 - 1
    with torch.no_grad():
        clean = analog_mvm(x, layer, adc, QUIET, path="reference")
        diffs = {}
        for fused in (True, False):
            path = "auto" if fused else "reference"
            rng = np.random.default_rng(3)
            diffs[fused] = torch.cat([analog_mvm(x, layer, adc, REAL, rng, path=path) - clean
                                      for _ in range(8)]).double()
    assert len(calls) == 8
    n = diffs[True].numel()  # 8 x 64 x 1000 noisy outputs each
    mean_f, mean_t = diffs[True].mean(), diffs[False].mean()
    std_f, std_t = diffs[True].std(), diffs[False].std()
    assert std_t > 0.01  # the noise moves many outputs by whole ADC codes
    assert abs(mean_f - mean_t) < 4 * std_t * (2 / n) ** 0.5
    assert abs(std_f / std_t - 1) < 4 * (1 / n) ** 0.5
    # per column: the spread of the noise over the batch and the draws agrees column by column
    col_f, col_t = diffs[True].std(dim=0), diffs[False].std(dim=0)
    assert abs(float((col_f / col_t).log().mean())) < 0.02


def test_fused_read_noise_matches_closed_form(calls):
    # a 16-bit ADC over +-8 device equivalents: quantization far below the read noise
    sigma = 0.05
    config = dataclasses.replace(CrossbarConfig.ideal(), read_noise_rel=sigma, dac_range=1.0,
                                 g_min_us=20.0, adc_kind="ramp", adc_bits=16, adc_range=8.0)
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(40, 30, generator=gen)
    x = (torch.rand(1, 30, generator=gen) * 2 - 1).expand(4000, 30).contiguous()
    layer = program(w, config)
    adc = make_adc(config, (1, 1, 64))
    y = analog_mvm(x, layer, adc, config, np.random.default_rng(0)).double()
    assert len(calls) == 1
    scale = w.abs().amax(dim=1).double()
    predicted = scale * sigma * 100.0 / 80.0 * (2 * x[0].double().square().sum()).sqrt()
    assert torch.allclose(y.mean(0), (x[0] @ w.t()).double(), rtol=0,
                          atol=float(4 * predicted.max() / 4000**0.5))
    ratio = y.std(0) / predicted
    assert ratio.mean().item() == pytest.approx(1.0, abs=0.01)
    assert ratio.min().item() > 0.9 and ratio.max().item() < 1.1


def test_fused_noise_is_reproducible_from_the_seed():
    _, layer, adc = _layer(REAL)
    x = torch.rand(8, 300) * 2 - 1
    rng_a, rng_b = np.random.default_rng(5), np.random.default_rng(5)
    first = analog_mvm(x, layer, adc, REAL, rng_a)
    assert torch.equal(first, analog_mvm(x, layer, adc, REAL, rng_b))
    assert not torch.equal(first, analog_mvm(x, layer, adc, REAL, rng_a))


def test_fused_path_is_skipped_when_gradients_are_needed(calls):
    layer = AnalogLinear(30, 20, REAL, seed=1).eval()
    x = torch.rand(5, 30)
    layer(x).sum().backward()  # grad mode, the bias needs a gradient: torch path
    assert not calls and torch.equal(layer.bias.grad, torch.full((20,), 5.0))
    with torch.no_grad():
        layer(x)
    assert len(calls) == 1
    layer.double()
    with torch.no_grad():
        layer(x.double())  # float64: torch path
    assert len(calls) == 1


def test_fallback_without_a_compiler_warns_and_runs_the_torch_path(monkeypatch, tmp_path,
                                                                     forget_build):
    monkeypatch.setenv("QRNN_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    forget_build(compiled_readout.LIBRARY)
    _, layer, adc = _layer(REAL)
    x = torch.rand(16, 300) * 2 - 1
    with pytest.warns(RuntimeWarning, match="fused ADC kernel unavailable .*failed"):
        y = analog_mvm(x, layer, adc, REAL, np.random.default_rng(1))
    assert not compiled_readout.available() and not list(tmp_path.glob("*.so"))
    assert torch.equal(y, analog_mvm(x, layer, adc, REAL, np.random.default_rng(1),
                                     path="reference"))
    with pytest.raises(ValueError, match="path='compiled' cannot run here: fused ADC kernel"):
        analog_mvm(x, layer, adc, REAL, np.random.default_rng(1), path="compiled")
    with pytest.raises(RuntimeError, match="fused ADC kernel unavailable"):
        compiled_readout.readout(torch.zeros(1, 1, 4), torch.ones(1, 4), 1.0, 5)


def test_path_choice_is_validated_and_compiled_refuses_what_it_cannot_run():
    _, layer, adc = _layer(REAL)
    x = torch.rand(4, 300)
    with pytest.raises(ValueError, match="path='fast' is unknown; allowed: auto, reference"):
        analog_mvm(x, layer, adc, REAL, np.random.default_rng(0), path="fast")
    with pytest.raises(ValueError, match="cannot run here: the tensors are not all float32"):
        analog_mvm(x.double(), layer, adc, REAL, np.random.default_rng(0), path="compiled")
    forced = AnalogLinear(30, 20, REAL, seed=1, path="reference").eval()
    with torch.no_grad():
        forced(torch.rand(5, 30))
    assert forced.path == "reference"


def test_readout_and_inputs_bad_input():
    m, scale = torch.zeros(2, 3, 4), torch.ones(2, 4)
    with pytest.raises(TypeError, match="m is torch.float64 on cpu: expected a float32"):
        compiled_readout.readout(m.double(), scale, 1.0, 5)
    with pytest.raises(ValueError, match=r"scale has shape \(3, 4\): expected \(2, 4\)"):
        compiled_readout.readout(m, torch.ones(3, 4), 1.0, 5)
    with pytest.raises(ValueError, match="bits=17 is not allowed"):
        compiled_readout.readout(m, scale, 1.0, 17)
    with pytest.raises(ValueError, match="lsb=0.0 is not allowed"):
        compiled_readout.readout(m, scale, 0.0, 5)
    with pytest.raises(ValueError, match="n=5 is not allowed: expected 1..4"):
        compiled_readout.readout(m, scale, 1.0, 5, n=5)
    with pytest.raises(ValueError, match="sigma has shape"):
        compiled_readout.readout(m, scale, 1.0, 5, sigma=torch.ones(3, 3))
    with pytest.raises(ValueError, match="seed=-1 is not allowed"):
        compiled_readout.readout(m, scale, 1.0, 5, sigma=torch.ones(2, 3), seed=-1)
    with pytest.raises(ValueError, match=r"x has shape \(3, 9\): expected \(B, F\) with 0 < F"):
        compiled_readout.inputs(torch.zeros(3, 9), 2, 4, 1.0, None, 8)
    with pytest.raises(ValueError, match="dac_bits=1 is not allowed"):
        compiled_readout.inputs(torch.zeros(3, 8), 2, 4, 1.0, None, 1)
    with pytest.raises(ValueError, match="dac_range=0.0 is not allowed"):
        compiled_readout.inputs(torch.zeros(3, 8), 2, 4, 1.0, 0.0, 8)


def test_readout_codes_clip_and_floor():
    # m in LSB units, LSB 1, 3 bits: codes -4..3; scale 1: y is the code + 1/2
    m = torch.tensor([[[-9.0, -4.0, -0.5, 0.0, 0.99, 2.5, 3.0, 7.0]]])
    y = compiled_readout.readout(m, torch.ones(1, 8), 1.0, 3, offset=0.25)
    assert (y - 0.5).tolist() == [[-4.0, -4.0, -1.0, -1.0, 0.0, 2.0, 2.0, 3.0]]


def test_inputs_scale_clip_quantize_and_pad():
    x = torch.tensor([[0.5, -2.0, 0.26, 0.0, 1.0], [0.0, 0.0, 0.0, 0.0, 0.0]])
    xt, s, sigma = compiled_readout.inputs(x, 2, 3, 2.0, None, 3, noise=(0.5, 0.25))
    # abs-max scaling, 3-bit DAC (LSB 1/3), times unit 2, padded to 2 tiles of 3 rows
    assert s.tolist() == [2.0, pytest.approx(1.1754944e-38)]
    q = torch.tensor([[1 / 3, -1.0, 0.0], [0.0, 2 / 3, 0.0]])  # 1.5 LSB rounds to even 2
    assert torch.allclose(xt[:, 0], 2 * q) and not xt[:, 1].any()
    expected = (q.square().sum(dim=1) * 0.5 + 0.25).sqrt() * 2 * 2**0.5
    assert torch.allclose(sigma[:, 0], expected)
    xt, s, sigma = compiled_readout.inputs(x, 2, 3, 1.0, 0.5, None)
    assert s.tolist() == [0.5, 0.5] and sigma is None
    assert torch.equal(xt[:, 0], torch.tensor([[1.0, -1.0, 0.26 / 0.5], [0.0, 1.0, 0.0]]))
