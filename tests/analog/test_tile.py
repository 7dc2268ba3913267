"""Tiled analog MVM: ideal equals float, tiling is exact, partial sums are digitized per
tile, read noise and IR drop match their closed forms / an exact circuit solve."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from hypothesis import given, settings
from hypothesis import strategies as st

from analog import CrossbarConfig, ThresholdAdc, analog_mvm, make_adc, program
from analog.ir_drop import ir_drop_gain
from analog.tile import standard_normal

IDEAL = CrossbarConfig.ideal()


def _replace(config, **kwargs):
    return dataclasses.replace(config, **kwargs)


def _run(w, x, config, seed=0):
    gen = torch.Generator().manual_seed(seed)
    layer = program(w, config, gen)
    adc = make_adc(config, (layer.weights.shape[0], 1, layer.weights.shape[2]), gen)
    return analog_mvm(x, layer, adc, config, np.random.default_rng(seed))


@pytest.mark.parametrize(("in_f", "out_f", "rows", "cols"),
                         [(7, 5, 128, 64), (256, 1024, 128, 64), (300, 70, 64, 32), (9, 4, 2, 3)])
def test_ideal_reproduces_float_layer(in_f, out_f, rows, cols):
    gen = torch.Generator().manual_seed(in_f)
    w = torch.randn(out_f, in_f, generator=gen) / in_f**0.5
    x = torch.randn(16, in_f, generator=gen)
    y = _run(w, x, _replace(IDEAL, tile_rows=rows, tile_cols=cols))
    assert torch.allclose(y, F.linear(x, w), atol=1e-5, rtol=1e-5)


def test_tiling_equals_untiled_product_when_ideal():
    gen = torch.Generator().manual_seed(1)
    w = torch.randn(13, 29, generator=gen, dtype=torch.float64)
    x = torch.randn(6, 29, generator=gen, dtype=torch.float64)
    one_tile = _run(w, x, _replace(IDEAL, tile_rows=64, tile_cols=64))
    for rows, cols in [(1, 1), (4, 3), (29, 13), (10, 64)]:
        for scaling in ("column", "tile", "layer"):
            config = _replace(IDEAL, tile_rows=rows, tile_cols=cols, weight_scaling=scaling)
            assert torch.allclose(_run(w, x, config), one_tile, atol=1e-12)


def test_partial_sums_are_digitized_per_tile():
    config = _replace(IDEAL, tile_rows=4, tile_cols=3, dac_range=2.0, adc_kind="sar",
                      adc_bits=3, adc_range=1.5)
    gen = torch.Generator().manual_seed(2)
    w = torch.randn(5, 10, generator=gen, dtype=torch.float64)
    x = torch.randn(8, 10, generator=gen, dtype=torch.float64) * 1.5
    # reference: clip inputs, normalize each tile column, quantize each tile's partial sum
    xn = (x / 2.0).clamp(-1, 1)
    lsb = 2 * 1.5 / 8
    k = torch.arange(1, 8, dtype=torch.float64)
    adc = ThresholdAdc(-1.5 + k * lsb, -1.5 + (torch.arange(8.0, dtype=torch.float64) + 0.5) * lsb)
    expected = torch.zeros(8, 5, dtype=torch.float64)
    for start in range(0, 10, 4):
        w_tile = w[:, start:start + 4].t()
        scale = w_tile.abs().amax(dim=0)
        partial = xn[:, start:start + 4] @ (w_tile / scale)
        expected += adc.convert(partial) * scale * 2.0
    assert torch.allclose(_run(w, x, config), expected, atol=1e-12)
    untiled = (xn @ w.t()) * 2.0
    assert not torch.allclose(expected, untiled, atol=1e-3)  # quantization really acts


@pytest.mark.parametrize("kind", ["ramp", "sar"])
def test_linear_adc_fast_path_equals_generic_threshold_path(kind):
    config = _replace(CrossbarConfig.rram_realistic(), adc_kind=kind, adc_bits=4,
                      adc_offset_lsb=0.4, read_noise_rel=0.0, tile_rows=16, tile_cols=8)
    gen = torch.Generator().manual_seed(5)
    w = torch.randn(20, 40, generator=gen, dtype=torch.float64)
    x = torch.randn(6, 40, generator=gen, dtype=torch.float64)
    layer = program(w, config, torch.Generator().manual_seed(0))
    adc = make_adc(config, (3, 1, 24), torch.Generator().manual_seed(1))
    generic = ThresholdAdc(adc.thresholds, adc.levels, offset=adc.offset.double())
    fast = analog_mvm(x, layer, adc, config)
    reference = analog_mvm(x, layer, generic, config)
    assert torch.allclose(fast, reference, atol=1e-9)


def test_read_noise_matches_closed_form():
    sigma = 0.05
    config = _replace(IDEAL, read_noise_rel=sigma, dac_range=1.0, g_min_us=20.0)
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(40, 30, generator=gen, dtype=torch.float64)
    x = (torch.rand(1, 30, generator=gen, dtype=torch.float64) * 2 - 1).expand(3000, 30)
    layer = program(w, config)
    adc = make_adc(config, (1, 1, 64))
    y = analog_mvm(x.contiguous(), layer, adc, config, np.random.default_rng(0))
    # two devices per weight, each N(0, (sigma g_max)^2) uS, read at V_i = x_i V_read:
    # std of output j = scale_j * sigma * g_max / dG * sqrt(2 sum x_i^2)
    scale = w.abs().amax(dim=1)
    predicted = scale * sigma * 100.0 / 80.0 * (2 * x[0].square().sum()).sqrt()
    assert torch.allclose(y.mean(0), x[0] @ w.t(), rtol=0, atol=float(4 * predicted.max()
                                                                      / 3000**0.5))
    ratio = y.std(0) / predicted
    assert ratio.mean().item() == pytest.approx(1.0, abs=0.01)
    assert ratio.min().item() > 0.9 and ratio.max().item() < 1.1


def test_comparator_noise_is_input_referred():
    config = _replace(IDEAL, adc_kind="ramp", adc_bits=16, adc_range=4.0, adc_noise_lsb=500.0,
                      dac_range=1.0)
    w = torch.eye(3, dtype=torch.float64) * 2.0
    x = torch.full((4000, 3), 0.25, dtype=torch.float64)
    y = _run(w, x, config)
    lsb = 8.0 / 2**16
    assert y.std(0).mean().item() == pytest.approx(500 * lsb * 2.0, rel=0.05)


def test_standard_normal_moments_and_reproducibility():
    z = standard_normal((1000, 1000), np.random.default_rng(7)).double()
    assert abs(z.mean().item()) < 0.005
    assert z.std().item() == pytest.approx(1.0, abs=0.003)
    assert (z**4).mean().item() == pytest.approx(3.0, abs=0.05)
    assert z.abs().max().item() < 4.5
    assert torch.equal(standard_normal((5, 3), np.random.default_rng(1)),
                       standard_normal((5, 3), np.random.default_rng(1)))


def _nodal_solution(g_pos, g_neg, v, r):
    """Exact solve of the crossbar of :mod:`analog.ir_drop` (one tile): unknown row-node
    and column-node voltages, Kirchhoff's current law at every node. Conductances in S."""
    rows, cols = g_pos.shape
    n_row = rows * cols
    idx_row = lambda i, j: i * cols + j  # noqa: E731
    idx_col = lambda s, i, j: n_row + s * n_row + i * cols + j  # noqa: E731
    n = 3 * n_row
    a = np.zeros((n, n))
    b = np.zeros(n)
    gw = 1.0 / r

    def conduct(p, q, g):  # conductance g between unknown nodes p and q (q None = ground)
        a[p, p] += g
        if q is not None:
            a[q, q] += g
            a[p, q] -= g
            a[q, p] -= g

    for i in range(rows):
        p = idx_row(i, 0)
        a[p, p] += gw
        b[p] += gw * v[i]  # driver segment
        for j in range(cols - 1):
            conduct(idx_row(i, j), idx_row(i, j + 1), gw)
        for j in range(cols):
            for s, g in enumerate((g_pos, g_neg)):
                conduct(idx_row(i, j), idx_col(s, i, j), g[i, j])
    for s in range(2):
        for j in range(cols):
            for i in range(rows - 1):
                conduct(idx_col(s, i, j), idx_col(s, i + 1, j), gw)
            conduct(idx_col(s, rows - 1, j), None, gw)  # last segment to virtual ground
    x = np.linalg.solve(a, b)
    out = [np.array([x[idx_col(s, rows - 1, j)] * gw for j in range(cols)]) for s in range(2)]
    return out[0] - out[1]


def test_ir_drop_first_order_matches_exact_circuit():
    rows, cols, r = 6, 4, 2.0
    gen = torch.Generator().manual_seed(4)
    g_pos = torch.rand(1, rows, cols, generator=gen, dtype=torch.float64) * 100.0
    g_neg = torch.rand(1, rows, cols, generator=gen, dtype=torch.float64) * 100.0
    v = torch.rand(rows, generator=gen, dtype=torch.float64) * 0.2
    config = _replace(IDEAL, tile_rows=rows, tile_cols=cols, wire_resistance_ohm=r)
    gain_pos, gain_neg = ir_drop_gain(g_pos, g_neg, config)
    first_order = v @ (g_pos * gain_pos - g_neg * gain_neg)[0] * 1e-6
    ideal = v @ (g_pos - g_neg)[0] * 1e-6
    exact = _nodal_solution(g_pos[0].numpy() * 1e-6, g_neg[0].numpy() * 1e-6, v.numpy(), r)
    exact = torch.from_numpy(exact)
    drop = (ideal - exact).abs().max()
    assert drop > 1e-3 * ideal.abs().max()  # the drop is visible
    assert (first_order - exact).abs().max() < 0.05 * drop  # second-order residual


def test_programmed_layer_with_ir_drop_matches_exact_circuit():
    rows, cols, r = 6, 4, 2.0
    config = _replace(IDEAL, tile_rows=rows, tile_cols=cols, wire_resistance_ohm=r,
                      dac_range=1.0)
    gen = torch.Generator().manual_seed(6)
    w = torch.randn(cols, rows, generator=gen, dtype=torch.float64)
    x = torch.rand(1, rows, generator=gen, dtype=torch.float64) * 2 - 1
    layer = program(w, config)
    y = _run(w, x, config)[0]
    # exact circuit: inputs x * V_read on the rows, currents back to weight units
    v = x[0].numpy() * config.read_voltage_v
    current = _nodal_solution(layer.g_pos[0].numpy() * 1e-6, layer.g_neg[0].numpy() * 1e-6,
                              v, r)
    scale = layer.scale[0, 0]
    exact = torch.from_numpy(current) / (config.read_voltage_v * config.window_us * 1e-6) * scale
    drop = (x[0] @ w.t() - exact).abs().max()
    assert drop > 1e-3 * exact.abs().max()
    assert (y - exact).abs().max() < 0.05 * drop


def test_drift_compensation_restores_the_output():
    w = torch.randn(9, 14, generator=torch.Generator().manual_seed(8), dtype=torch.float64)
    x = torch.randn(5, 14, generator=torch.Generator().manual_seed(9), dtype=torch.float64)
    fresh = _run(w, x, IDEAL)
    drifted = _replace(IDEAL, drift_nu=0.05, drift_time_s=1e5)
    assert torch.allclose(_run(w, x, drifted), fresh, atol=1e-9)
    plain = _run(w, x, _replace(drifted, drift_compensation=False))
    assert torch.allclose(plain, fresh * 1e5**-0.05, atol=1e-9)


def test_ir_drop_refuses_out_of_range_resistance():
    config = _replace(IDEAL, wire_resistance_ohm=5000.0, tile_rows=32, tile_cols=32)
    g = torch.full((1, 32, 32), 100.0)
    with pytest.raises(ValueError, match="wire_resistance_ohm=5000.0 is too large"):
        ir_drop_gain(g, g, config)


def test_bad_input_and_missing_rng():
    config = _replace(IDEAL, read_noise_rel=0.01)
    layer = program(torch.ones(3, 4), config)
    adc = make_adc(config, (1, 1, 64))
    with pytest.raises(ValueError, match=r"x has shape \(2, 5\): expected \(batch, 4\)"):
        analog_mvm(torch.ones(2, 5), layer, adc, config, np.random.default_rng(0))
    with pytest.raises(ValueError, match="rng=None is not allowed"):
        analog_mvm(torch.ones(2, 4), layer, adc, config)


@settings(max_examples=15, deadline=None)
@given(levels=st.one_of(st.none(), st.integers(2, 256)), prog=st.floats(0, 0.2),
       read=st.floats(0, 0.2), on=st.floats(0, 0.3), off=st.floats(0, 0.3),
       adc=st.sampled_from(["ideal", "ramp", "sar"]), bits=st.integers(1, 12),
       dac_bits=st.one_of(st.none(), st.integers(2, 12)),
       dac_range=st.one_of(st.none(), st.floats(0.1, 5)),
       rows=st.integers(1, 9), cols=st.integers(1, 9), wire=st.floats(0, 1.0),
       nu=st.floats(0, 0.2), seed=st.integers(0, 2**16))
def test_random_valid_configs_give_finite_outputs(levels, prog, read, on, off, adc, bits,
                                                  dac_bits, dac_range, rows, cols, wire, nu,
                                                  seed):
    config = CrossbarConfig(levels=levels, prog_noise_rel=prog, read_noise_rel=read,
                            stuck_on_rate=on, stuck_off_rate=off, adc_kind=adc,
                            adc_bits=None if adc == "ideal" else bits, dac_bits=dac_bits,
                            dac_range=dac_range, tile_rows=rows, tile_cols=cols,
                            wire_resistance_ohm=wire, drift_nu=nu, drift_time_s=100.0,
                            adc_offset_lsb=0.3, adc_noise_lsb=0.3, g_min_us=1.0)
    gen = torch.Generator().manual_seed(seed)
    w = torch.randn(7, 11, generator=gen)
    x = torch.randn(5, 11, generator=gen) * 3
    y = _run(w, x, config, seed)
    assert y.shape == (5, 7) and bool(torch.isfinite(y).all())
