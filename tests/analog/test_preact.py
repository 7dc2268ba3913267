"""Pre-activation mode: equals the per-tile product when ideal, shared column scales, bias
row, read noise in closed form, the single-tile height limit."""

import dataclasses

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from analog import CrossbarConfig, analog_mvm, make_adc, program
from analog.preact import preactivation, program_preactivation, with_bias_row, with_one

IDEAL = CrossbarConfig.ideal()


@pytest.mark.parametrize(("in_f", "out_f", "rows", "cols"),
                         [(7, 5, 128, 64), (300, 70, 64, 32), (9, 4, 2, 3)])
def test_ideal_preactivation_equals_per_tile_mode_and_float(in_f, out_f, rows, cols):
    config = dataclasses.replace(IDEAL, tile_rows=rows, tile_cols=cols)
    gen = torch.Generator().manual_seed(in_f)
    w = torch.randn(out_f, in_f, generator=gen, dtype=torch.float64)
    b = torch.randn(out_f, generator=gen, dtype=torch.float64)
    x = torch.randn(6, in_f, generator=gen, dtype=torch.float64)
    layer = program(w, config)
    per_tile = analog_mvm(x, layer, make_adc(config, (1,)), config, bias=b)
    state = program_preactivation(with_bias_row(w, b), config)
    z = preactivation(with_one(x), state, config)
    assert torch.allclose(z, per_tile, atol=1e-10)
    assert torch.allclose(z, F.linear(x, w, b), atol=1e-10)


def test_row_tiles_of_a_column_share_its_scale_and_the_bias_is_a_programmed_row():
    config = dataclasses.replace(IDEAL, tile_rows=4, tile_cols=3)
    w = torch.tensor([[1.0, 0, 0, 0, 0, 0, 0, -3.0], [0.5, 0, 0, 0, 0, 0, 0, 0.25]])
    state = program_preactivation(with_bias_row(w, torch.tensor([4.0, -1.0])), config)
    assert state.weights.shape == (3, 4, 3)  # 9 rows (8 inputs + bias) over 3 row tiles
    assert torch.equal(state.scale[:, 0, :2], torch.tensor([[4.0, 1.0]] * 3))
    assert state.weights[2, 0, 0].item() == pytest.approx(1.0)  # the bias row, full scale
    assert state.weights[1, 3, 0].item() == pytest.approx(-0.75)


def test_read_noise_of_the_summed_column_matches_its_closed_form():
    config = dataclasses.replace(IDEAL, read_noise_rel=0.02, tile_rows=16, dac_range=1.0)
    w = torch.full((3, 40), 0.5, dtype=torch.float64)
    x = torch.linspace(-1, 1, 40, dtype=torch.float64).repeat(4000, 1)
    z = preactivation(x, program_preactivation(w, config), config, np.random.default_rng(0))
    predicted = (2 * 0.02**2 * x[0].square().sum()).sqrt() * 0.5  # scale 0.5, s = 1
    assert torch.allclose(z.mean(0), F.linear(x[:1], w)[0], atol=4 * predicted / 4000**0.5)
    assert z.std(0).div(predicted).sub(1).abs().max() < 0.05


def test_a_layer_too_tall_for_a_single_tile_is_one_line():
    config = dataclasses.replace(IDEAL, preact_summation="single_tile", tile_rows=16)
    program_preactivation(torch.ones(4, 16), config)
    with pytest.raises(ValueError, match=r"layer has 17 rows \(inputs plus bias row\), too tall "
                                         r"for preact_summation='single_tile' with tile_rows=16"):
        program_preactivation(torch.ones(4, 17), config)
