"""CrossbarConfig: presets are valid, bad input gets one clear error naming the field."""

import dataclasses

import pytest

from analog import CostFigures, CrossbarConfig


def test_presets_construct_and_differ():
    presets = [CrossbarConfig.ideal(), CrossbarConfig.rram_realistic(), CrossbarConfig.neurram()]
    assert len({dataclasses.astuple(p) for p in presets}) == 3
    ideal = presets[0]
    assert ideal.levels is None and ideal.adc_kind == "ideal" and ideal.dac_bits is None
    assert ideal.prog_noise_rel == ideal.read_noise_rel == 0
    assert ideal.stuck_on_rate == ideal.stuck_off_rate == 0
    assert CrossbarConfig.neurram().tile_rows == 256 and CrossbarConfig.neurram().g_max_us == 40


def test_realistic_preset_matches_reference_table():
    c = CrossbarConfig.rram_realistic()
    assert (c.g_min_us, c.g_max_us, c.levels) == (0.0, 100.0, 64)
    assert (c.read_voltage_v, c.tile_rows, c.tile_cols) == (0.2, 128, 64)
    assert c.stuck_on_rate + c.stuck_off_rate == pytest.approx(0.005)
    assert (c.adc_bits, c.adc_kind, c.integration_time_ns, c.clock_ghz) == (5, "ramp", 10.0, 1.0)
    # full-scale current is range * V * window
    assert c.adc_full_scale_ua == pytest.approx(c.adc_range * 0.2 * 100.0)


def test_frozen():
    with pytest.raises(dataclasses.FrozenInstanceError):
        CrossbarConfig().levels = 3


@pytest.mark.parametrize(
    ("kwargs", "pattern"),
    [
        ({"g_min_us": -1.0}, r"g_min_us=-1\.0 .*\[0\.0, inf\)"),
        ({"g_max_us": -5.0}, r"g_max_us=-5\.0"),
        ({"g_min_us": 50.0, "g_max_us": 50.0}, r"window \[50\.0, 50\.0\] uS is empty"),
        ({"g_min_us": 60.0, "g_max_us": 40.0}, r"window \[60\.0, 40\.0\] uS is empty"),
        ({"levels": 1}, r"levels=1 .*\[2, "),
        ({"levels": 0}, r"levels=0 "),
        ({"adc_bits": 0}, r"adc_bits=0 .*\[1, 16\]"),
        ({"adc_bits": 17}, r"adc_bits=17 .*\[1, 16\]"),
        ({"dac_bits": 0}, r"dac_bits=0 .*\[2, 16\]"),
        ({"dac_bits": 17}, r"dac_bits=17 .*\[2, 16\]"),
        ({"stuck_on_rate": -0.1}, r"stuck_on_rate=-0\.1 .*\[0\.0, 1\.0\]"),
        ({"stuck_off_rate": 1.5}, r"stuck_off_rate=1\.5 .*\[0\.0, 1\.0\]"),
        ({"stuck_on_rate": 0.6, "stuck_off_rate": 0.6}, r"stuck_on_rate \+ stuck_off_rate"),
        ({"tile_rows": 0}, r"tile_rows=0 .*\[1, "),
        ({"tile_cols": -3}, r"tile_cols=-3 .*\[1, "),
        ({"prog_noise_rel": float("nan")}, r"prog_noise_rel=nan"),
        ({"adc_kind": "flash"}, r"adc_kind='flash' .*'ideal', 'ramp', 'sar'"),
        ({"adc_kind": "ideal"}, r"adc_bits=5 .*adc_kind='ideal'"),
        ({"weight_scaling": "row"}, r"weight_scaling='row'"),
        ({"drift_time_s": 0.5}, r"drift_time_s=0\.5 .*\[1\.0, inf\)"),
        ({"read_voltage_v": 0.0}, r"read_voltage_v=0\.0 .*\(0\.0, 5\.0\]"),
        ({"dac_range": 0.0}, r"dac_range=0\.0"),
        ({"columns_per_adc": 0}, r"columns_per_adc=0"),
    ],
)
def test_bad_values_name_field_value_and_range(kwargs, pattern):
    with pytest.raises(ValueError, match=pattern):
        CrossbarConfig(**kwargs)


@pytest.mark.parametrize("kwargs", [{"levels": 2.5}, {"tile_rows": True}, {"adc_bits": "5"}])
def test_wrong_types_are_refused(kwargs):
    with pytest.raises(ValueError, match=next(iter(kwargs))):
        CrossbarConfig(**kwargs)


def test_non_number_is_a_type_error():
    with pytest.raises(TypeError, match="g_max_us must be a number"):
        CrossbarConfig(g_max_us="100")
    with pytest.raises(TypeError, match="costs must be a CostFigures"):
        CrossbarConfig(costs={"dac_energy_fj": 1.0})


def test_cost_figures_validation():
    with pytest.raises(ValueError, match=r"CostFigures\.cell_area_um2=-1\.0"):
        CostFigures(cell_area_um2=-1.0)
