"""Cost model: counts match a hand count, energy is linear in reads and conversions."""

import dataclasses

import pytest
import torch
from torch import nn

from analog import AnalogLinear, CostFigures, CrossbarConfig, layer_cost, model_cost, to_analog

SMALL = CrossbarConfig(tile_rows=2, tile_cols=2, adc_kind="sar", adc_bits=4, dac_bits=6)


def test_hand_count_small_layer():
    # 5 -> 3 on 2 x 2 tiles: 3 row tiles x 2 column tiles; batch 4
    c = layer_cost(5, 3, 4, SMALL)
    assert c.macs == 60
    assert c.array_reads == 4 * 6
    assert c.device_reads == 120
    assert c.dac_conversions == 4 * 5 * 2  # every column tile drives its own rows
    assert c.adc_conversions == 4 * 3 * 3  # every row tile digitizes all 3 outputs
    assert c.digital_adds == 24 + 12 + 20  # partial sums, bias, abs-max compares
    assert c.digital_muls == 36 + 32  # weight scales, input scaling in and out
    # energy: array 120 x (0.2 V)^2 x 50 uS x 10 ns = 120 x 20 fJ
    assert c.energy_array_pj == pytest.approx(2.4)
    assert c.energy_adc_pj == pytest.approx(36 * 16 * 1.0e-3)  # 4-bit SAR: 16 fJ
    assert c.energy_dac_pj == pytest.approx(40 * 10.0e-3)
    assert c.energy_digital_pj == pytest.approx(56 * 0.1 + 68 * 0.2)
    assert c.energy_pj == pytest.approx(2.4 + 0.576 + 0.4 + 5.6 + 13.6)
    # latency per vector: 10 ns integration + 4 SAR cycles + (2-level adder tree + 1)
    assert c.latency_ns == pytest.approx(4 * (10 + 4 + 3))
    # area: 6 tiles x 8 devices x 0.048 um^2, 12 ADCs x 32 um^2, 12 DACs x 5 um^2
    assert c.area_array_um2 == pytest.approx(6 * 8 * 0.048)
    assert c.area_adc_um2 == pytest.approx(12 * 32.0)
    assert c.area_dac_um2 == pytest.approx(60.0)
    assert c.area_mm2 == pytest.approx(c.area_um2 * 1e-6)
    assert c.tops_per_w == pytest.approx(120 / c.energy_pj)
    assert c.tops_per_mm2 == pytest.approx(120 / (c.latency_ns * 1e-9) / 1e12 / c.area_mm2)


def test_ramp_latency_and_shared_adcs():
    ramp = dataclasses.replace(SMALL, adc_kind="ramp", columns_per_adc=2)
    c = layer_cost(5, 3, 1, ramp)
    assert c.latency_ns == pytest.approx(10 + 16 * 2 + 3)  # 2^4 cycles, 2 columns per ADC
    assert c.area_adc_um2 == pytest.approx(6 * 1 * 4 * 10.0)
    assert c.energy_adc_pj == pytest.approx(9 * 16 * 1.0e-3)


def test_energy_is_linear_in_reads_and_conversions():
    one, two = layer_cost(300, 70, 8, SMALL), layer_cost(300, 70, 16, SMALL)
    for name in ("energy_array_pj", "energy_adc_pj", "energy_dac_pj", "energy_digital_pj",
                 "latency_ns"):
        assert getattr(two, name) == pytest.approx(2 * getattr(one, name))
    assert two.area_um2 == one.area_um2
    # per-read and per-conversion figures scale their own term only
    slow = layer_cost(300, 70, 8, dataclasses.replace(SMALL, integration_time_ns=30.0))
    assert slow.energy_array_pj == pytest.approx(3 * one.energy_array_pj)
    dear = dataclasses.replace(SMALL, costs=CostFigures(sar_fom_fj_per_step=5.0))
    assert layer_cost(300, 70, 8, dear).energy_adc_pj == pytest.approx(5 * one.energy_adc_pj)
    assert layer_cost(300, 70, 8, dear).energy_array_pj == pytest.approx(one.energy_array_pj)
    assert one.energy_adc_pj == pytest.approx(one.adc_conversions * 16e-3)


def test_ideal_converters_are_free():
    c = layer_cost(64, 32, 2, CrossbarConfig.ideal())
    assert c.energy_adc_pj == c.energy_dac_pj == c.area_adc_um2 == c.area_dac_um2 == 0
    assert c.latency_ns == pytest.approx(2 * (10 + 1))


def test_model_cost_sums_layers_with_programmed_conductance():
    torch.manual_seed(0)
    net = to_analog(nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 4)), SMALL)
    total = model_cost(net, batch=3)
    layers = [m for m in net.modules() if isinstance(m, AnalogLinear)]
    parts = [layer_cost(m.in_features, m.out_features, 3, SMALL,
                        mean_conductance_us=m.mean_conductance_us()) for m in layers]
    assert total.macs == 3 * (200 + 80)
    assert total.energy_pj == pytest.approx(parts[0].energy_pj + parts[1].energy_pj)
    state, _ = layers[0].programmed()
    manual = (state.g_pos.sum() + state.g_neg.sum()).item() / (2 * 200)
    assert layers[0].mean_conductance_us() == pytest.approx(manual)
    assert 0 < manual < 50  # half of every pair sits at g_min = 0
    with pytest.raises(ValueError, match="no AnalogLinear"):
        model_cost(nn.Linear(2, 2), batch=1)


@pytest.mark.parametrize(("args", "pattern"), [((0, 3, 1), "in_features=0"),
                                               ((3, 3, -1), "batch=-1"),
                                               ((3, 2.5, 1), "out_features=2.5")])
def test_bad_sizes(args, pattern):
    with pytest.raises(ValueError, match=pattern):
        layer_cost(*args, SMALL)


def test_bad_mean_conductance():
    with pytest.raises(ValueError, match=r"mean_conductance_us=500 .*\[0, 100\.0\]"):
        layer_cost(3, 3, 1, SMALL, mean_conductance_us=500)
