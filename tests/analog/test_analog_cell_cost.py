"""Sequence bill of the analog cells: a hand count of a small LSTM in both activation
styles; what differs between them; sequences scale linearly."""

import dataclasses

import pytest
import torch

from analog import CrossbarConfig
from analog.cell_cost import sequence_cost
from analog.cells import AnalogElman, AnalogGRU, AnalogLSTM

BASE = CrossbarConfig(tile_rows=8, tile_cols=8, dac_range=1.0, adc_bits=3, prog_noise_rel=0.0,
                      stuck_on_rate=0.0, stuck_off_rate=0.0)


def _lstm(style):
    kind = "nl_ramp" if style == "nl_adc" else "ramp"
    return AnalogLSTM(3, 2, config=dataclasses.replace(BASE, adc_kind=kind), seed=1).eval()


def test_hand_count_of_one_lstm_step_in_both_styles():
    bills = {style: sequence_cost(_lstm(style), batch=1, steps=1) for style in ("nl_adc",
                                                                               "digital")}
    model = _lstm("nl_adc")
    state = model.programmed(0)
    g_mean = float(state.g_pos.sum() + state.g_neg.sum()) / (2 * 6 * 8)
    for style, b in bills.items():
        # rows 3 + 2 + bias = 6 on one 8 x 8 tile, 8 gate columns
        assert b.macs == 4 * 2 * 5 and b.device_reads == 2 * 6 * 8
        assert b.dac_conversions == 6 and b.conversions == 8
        assert b.digital_muls == 3 * 2 and b.digital_adds == 1 * 2
        assert b.energy_array_pj == pytest.approx(96 * 0.2**2 * g_mean * 10 * 1e-3)
        assert b.energy_adc_pj == pytest.approx(8 * 8 * 1.0e-3)  # 3-bit ramp: 8 cycles x 1 fJ
        assert b.latency_ns == pytest.approx(10 + 8 + (1 if style == "digital" else 0) + 3)
    nl, dig = bills["nl_adc"], bills["digital"]
    assert nl.activation_lookups == 0 and dig.activation_lookups == 8  # 6 sigmoid + 2 tanh
    assert dig.energy_activation_pj == pytest.approx((8 + 2) * 0.1)  # + tanh(c), both styles
    assert nl.energy_activation_pj == pytest.approx(2 * 0.1)
    ramps = [m.ramp_us for m in model.converters[0].values()]
    assert nl.ramp_reads == 2 and dig.ramp_reads == 0 and dig.energy_ramp_pj == 0
    cumulative = sum(float(g.cumsum(1).sum()) for g in ramps)  # uS summed over the 7 cycles
    assert nl.energy_ramp_pj == pytest.approx(cumulative * 0.2**2 * 1.0 * 1e-3)
    assert nl.area_ramp_um2 == pytest.approx(2 * (7 + 5) * 0.048)
    assert dig.area_activation_um2 == pytest.approx(8 * 50.0) and nl.area_activation_um2 == 0


def test_bill_is_linear_in_batch_and_steps_and_counts_layers_and_gru_columns():
    model = AnalogGRU(4, 3, num_layers=2, config=dataclasses.replace(BASE, adc_kind="nl_ramp"))
    one, many = sequence_cost(model, 1, 1), sequence_cost(model, 4, 10)
    assert many.energy_pj == pytest.approx(40 * one.energy_pj)
    assert many.latency_ns == pytest.approx(40 * one.latency_ns)
    assert many.area_mm2 == pytest.approx(one.area_mm2)
    reported = model.hardware_cost(steps=10)  # what the runner stores per inference
    assert reported["energy_pj"] == pytest.approx(10 * one.energy_pj)
    assert reported["latency_ns"] == pytest.approx(10 * one.latency_ns)
    assert reported["area_mm2"] == pytest.approx(one.area_mm2)
    assert one.macs == 3 * 3 * (4 + 3) + 3 * 3 * (3 + 3)
    assert one.conversions == 2 * 12  # [r | z | n_x | n_h] per layer


def test_ideal_converters_cost_nothing_and_bad_input_is_one_line():
    bill = sequence_cost(AnalogElman(3, 4, config=CrossbarConfig.ideal()), 2, 3)
    assert bill.energy_adc_pj == bill.energy_dac_pj == bill.energy_ramp_pj == 0
    assert bill.conversions == 0 and bill.energy_pj > 0
    with pytest.raises(ValueError, match="steps=0 is not allowed: expected an integer >= 1"):
        sequence_cost(AnalogElman(3, 4, config=CrossbarConfig.ideal()), 2, 0)
    with pytest.raises(TypeError, match="model must be an AnalogLSTM, AnalogGRU or "
                                        "AnalogElman, got Linear"):
        sequence_cost(torch.nn.Linear(2, 2), 1, 1)
