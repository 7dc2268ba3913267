"""Device programming: each non-ideality alone moves conductances as its model says."""

import math

import pytest
import torch

from analog import CrossbarConfig, program
from analog.devices import fault_masks, quantize_levels, to_tiles

IDEAL = CrossbarConfig.ideal()


def _weights(out_f=12, in_f=10, seed=0):
    return torch.randn(out_f, in_f, generator=torch.Generator().manual_seed(seed),
                       dtype=torch.float64)


def _column_targets(w, config):
    """Independent differential-pair targets (uS) with per-column scaling, untiled."""
    wt = w.t()
    n = wt / wt.abs().amax(dim=0, keepdim=True)
    g_pos = config.g_min_us + (config.g_max_us - config.g_min_us) * n.clamp(min=0)
    g_neg = config.g_min_us + (config.g_max_us - config.g_min_us) * (-n).clamp(min=0)
    return g_pos, g_neg


def _untile(t, in_f, out_f):
    return t.reshape(-1, t.shape[-1])[:in_f, :out_f]


@pytest.mark.parametrize("scaling", ["column", "tile", "layer"])
def test_ideal_programming_represents_the_weights(scaling):
    config = CrossbarConfig(**{**IDEAL.__dict__, "weight_scaling": scaling,
                               "tile_rows": 4, "tile_cols": 5, "g_min_us": 5.0})
    w = _weights()
    layer = program(w, config)
    rebuilt = _untile(layer.weights * layer.scale, 10, 12)
    assert torch.allclose(rebuilt, w.t(), atol=1e-12)
    n_unique = {"column": 3 * 12, "tile": 3 * 3, "layer": 1}[scaling]  # 3 x 3 tiles
    assert len(torch.unique(_untile(layer.scale.expand_as(layer.weights), 10, 12))) == n_unique


def test_padding_holds_no_device():
    config = CrossbarConfig(**{**IDEAL.__dict__, "tile_rows": 4, "tile_cols": 5,
                               "g_min_us": 5.0})
    layer = program(_weights(), config)
    g = layer.g_pos.reshape(-1, layer.g_pos.shape[-1])
    assert g[10:].abs().max() == 0 and g[:, 12:].abs().max() == 0
    assert g[:10, :12].min() >= 5.0


def test_levels_quantize_to_grid_within_half_step():
    config = CrossbarConfig(**{**IDEAL.__dict__, "levels": 9, "g_min_us": 10.0})
    g = torch.linspace(10.0, 100.0, 1001, dtype=torch.float64)
    q = quantize_levels(g, config)
    step = 90.0 / 8
    assert (q - g).abs().max() <= step / 2 + 1e-9
    k = (q - 10.0) / step
    assert torch.allclose(k, k.round(), atol=1e-9) and len(torch.unique(q)) == 9


def test_programming_error_has_configured_relative_spread():
    sigma = 0.03
    config = CrossbarConfig(**{**IDEAL.__dict__, "prog_noise_rel": sigma, "g_min_us": 20.0,
                               "tile_rows": 16, "tile_cols": 16})
    w = _weights(16, 16)
    g_pos_t, g_neg_t = _column_targets(w, config)
    errors = []
    for seed in range(60):
        layer = program(w, config, torch.Generator().manual_seed(seed))
        for g, target in ((layer.g_pos, g_pos_t), (layer.g_neg, g_neg_t)):
            keep = target < config.g_max_us - 6 * sigma * config.g_max_us  # away from clip
            errors.append((_untile(g, 16, 16) - target)[keep])
    err = torch.cat(errors) / config.g_max_us
    assert err.numel() > 20000
    assert err.mean().item() == pytest.approx(0.0, abs=4 * sigma / err.numel() ** 0.5)
    assert err.std().item() == pytest.approx(sigma, rel=0.03)


def test_stuck_at_rates_match():
    on_rate, off_rate = 0.04, 0.07
    config = CrossbarConfig(**{**IDEAL.__dict__, "stuck_on_rate": on_rate,
                               "stuck_off_rate": off_rate, "g_min_us": 10.0,
                               "tile_rows": 64, "tile_cols": 64})
    w = _weights(64, 64, seed=3)
    g_pos_t, g_neg_t = _column_targets(w, config)
    layer = program(w, config, torch.Generator().manual_seed(5))
    on_hits = off_hits = on_n = off_n = 0
    for g, target in ((layer.g_pos, g_pos_t), (layer.g_neg, g_neg_t)):
        g = _untile(g, 64, 64)
        below_top = target < config.g_max_us - 1e-9
        above_bottom = (target > config.g_min_us + 1e-9) & below_top
        on_hits += int((g[below_top] == config.g_max_us).sum())
        on_n += int(below_top.sum())
        off_hits += int((g[above_bottom] == config.g_min_us).sum())
        off_n += int(above_bottom.sum())
    for hits, n, p in ((on_hits, on_n, on_rate), (off_hits, off_n, off_rate)):
        assert abs(hits / n - p) < 4 * math.sqrt(p * (1 - p) / n)
    on, off = fault_masks((200, 200), config, torch.Generator().manual_seed(0))
    assert not bool((on & off).any())
    assert on.double().mean().item() == pytest.approx(on_rate, abs=0.004)
    assert off.double().mean().item() == pytest.approx(off_rate, abs=0.005)


def test_drift_follows_power_law():
    base = {**IDEAL.__dict__, "prog_noise_rel": 0.01, "g_min_us": 10.0}
    w = _weights(30, 40)
    g0 = program(w, CrossbarConfig(**base), torch.Generator().manual_seed(2))
    t = 1e4
    fixed = CrossbarConfig(**{**base, "drift_nu": 0.05, "drift_time_s": t})
    drifted = program(w, fixed, torch.Generator().manual_seed(2))
    present = g0.g_pos > 0
    ratio = drifted.g_pos[present] / g0.g_pos[present]
    assert torch.allclose(ratio, torch.full_like(ratio, t ** -0.05), rtol=1e-10)
    # a spread of exponents: log-ratio has mean -nu ln t and std sigma_nu ln t
    spread = CrossbarConfig(**{**base, "drift_nu": 0.1, "drift_nu_std": 0.02,
                               "drift_time_s": t})
    g_t = program(w, spread, torch.Generator().manual_seed(2))
    log_ratio = torch.log(torch.cat([g_t.g_pos[present] / g0.g_pos[present],
                                     g_t.g_neg[present] / g0.g_neg[present]]))
    assert (-log_ratio.mean() / math.log(t)).item() == pytest.approx(0.1, rel=0.03)
    assert (log_ratio.std() / math.log(t)).item() == pytest.approx(0.02, rel=0.06)


def test_drift_compensation_gain_is_the_conductance_ratio():
    base = {**IDEAL.__dict__, "drift_nu": 0.06, "drift_time_s": 3600.0}
    w = _weights()
    compensated = program(w, CrossbarConfig(**base))
    assert compensated.output_gain == pytest.approx(3600.0**0.06, rel=1e-9)
    plain = program(w, CrossbarConfig(**{**base, "drift_compensation": False}))
    assert plain.output_gain == 1.0


def test_to_tiles_layout():
    config = CrossbarConfig(tile_rows=3, tile_cols=2)
    w = torch.arange(20.0).reshape(4, 5)  # out=4, in=5 -> 2 x 2 tiles
    tiles = to_tiles(w, config)
    assert tiles.shape == (2, 3, 4)
    assert torch.equal(tiles.reshape(6, 4)[:5, :4], w.t())


@pytest.mark.parametrize(
    ("weight", "error", "pattern"),
    [
        (torch.tensor([[1.0, float("nan")]]), ValueError, r"weight contains 1 NaN/inf"),
        (torch.tensor([[float("inf"), 0.0]]), ValueError, r"weight contains 1 NaN/inf"),
        (torch.zeros(3), ValueError, r"weight has shape \(3,\)"),
        (torch.zeros(2, 2, dtype=torch.int64), TypeError, r"dtype torch.int64"),
    ],
)
def test_bad_weights(weight, error, pattern):
    with pytest.raises(error, match=pattern):
        program(weight, CrossbarConfig())
