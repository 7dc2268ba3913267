"""Energy, latency and area bill of a whole sequence through an analog recurrent cell
(:mod:`analog.cells`), for both activation styles.

Per time step, per input vector, per layer with ``rows = in + H + 1`` (the bias row) and
``cols`` gate columns (LSTM ``4H``, GRU ``4H`` as ``[r | z | n_x | n_h]``, Elman ``H``) on
``R x C`` tiles:

=======================  ==============================================================
count                    value
=======================  ==============================================================
macs                     gates * H * (in + H) (the torch.nn cell's multiply-adds)
device_reads             2 * rows * cols (every device of the array, both of each pair)
dac_conversions          rows * C (each column tile drives its own rows)
conversions              cols: one per column (the row tiles are summed in analog)
activation_lookups       ``"digital"``: one per activation column (sigmoid/tanh gates);
                         ``"nl_adc"``: none (the code is the activation)
ramp_reads               ``"nl_adc"``: one pass of every programmed ramp per step
digital_activations      H per step for the LSTM's ``tanh(c)`` and the GRU's candidate
                         (digital arguments, both styles), priced as lookups
digital_muls, _adds      cell update per hidden unit: LSTM 3 and 1, GRU 2 and 3, Elman 0;
                         plus rows compares and rows multiplies for abs-max input
                         scaling when ``dac_range`` is None
=======================  ==============================================================

Energy (pJ): array ``device_reads * V_read^2 * G * t_int`` (``G`` the programmed mean device
conductance); DAC ``dac_energy_fj``; a conversion of a ramp or nonlinear ramp converter
``2^N * ramp_energy_fj_per_cycle``, of a SAR ``2^N * sar_fom_fj_per_step``; the nonlinear
ramp's own devices ``V_read^2 * (1 / f_clk) * sum_k sum_(i<=k) g_i`` per ramp and step (the
ramp column conducts the cumulative conductance during cycle ``k``); lookups
``activation_lut_energy_pj``; digital operations from :class:`analog.cost_figures.
CostFigures`. Ideal converters (``adc_kind="ideal"``) and an ideal DAC cost nothing.

Latency (ns), vectors and steps one after another, layers in sequence, no pipelining: per
layer and step ``t_int + cycles / f_clk * columns_per_adc + (1 lookup cycle if "digital")
+ update cycles / f_clk`` (LSTM and GRU 3 cycles, Elman 0), cycles 2^N for ramps, N for SAR.

Area (um^2): ``2 * tile_rows * tile_cols * cell_area`` per tile, one converter per
``columns_per_adc`` columns of every column tile (not per row tile), ``tile_rows`` DACs per
tile, the ramp columns' devices (``2^N - 1`` plus the calibration devices each) and, for
``"digital"``, one lookup unit per activation converter.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from analog.cells import AnalogGRU, AnalogLSTM, _AnalogRecurrent
from analog.cost import adc_area_um2, adc_cycles, adc_energy_fj
from analog.nl_adc import NonlinearRampADC

UPDATE = {"analog_lstm": (3, 1, 3), "analog_gru": (2, 3, 3), "analog_elman": (0, 0, 0)}
"""(multiplies, adds, cycles) of the digital cell update per hidden unit."""


@dataclass(frozen=True)
class SequenceBill:
    """Counts, energy (pJ), latency (ns) and area (um^2) of ``batch`` sequences."""

    macs: int
    device_reads: int
    dac_conversions: int
    conversions: int
    activation_lookups: int
    ramp_reads: int
    digital_muls: int
    digital_adds: int
    energy_array_pj: float
    energy_dac_pj: float
    energy_adc_pj: float
    energy_ramp_pj: float
    energy_activation_pj: float
    energy_digital_pj: float
    latency_ns: float
    area_array_um2: float
    area_adc_um2: float
    area_dac_um2: float
    area_ramp_um2: float
    area_activation_um2: float

    @property
    def energy_pj(self) -> float:
        return sum(getattr(self, f.name) for f in fields(self) if f.name.startswith("energy"))

    @property
    def area_mm2(self) -> float:
        return 1e-6 * sum(getattr(self, f.name) for f in fields(self)
                          if f.name.startswith("area"))

    @property
    def tops_per_w(self) -> float:
        """Operations (2 per MAC) per pJ, which equals TOPS/W."""
        return 2 * self.macs / self.energy_pj if self.energy_pj > 0 else math.inf

    @property
    def tops(self) -> float:
        """Throughput: operations per ns / 1000."""
        return 2 * self.macs / self.latency_ns / 1e3 if self.latency_ns > 0 else math.inf

    @property
    def power_mw(self) -> float:
        """Mean power (mW): pJ per ns."""
        return self.energy_pj / self.latency_ns if self.latency_ns > 0 else 0.0

    def as_dict(self) -> dict:
        out = asdict(self)
        for name in ("energy_pj", "area_mm2", "tops_per_w", "tops", "power_mw"):
            out[name] = getattr(self, name)
        return out


def sequence_cost(model: _AnalogRecurrent, batch: int, steps: int) -> SequenceBill:
    """Bill of ``batch`` sequences of ``steps`` steps through ``model`` (see the module
    docstring for every formula), with its programmed conductances and ramps."""
    for name, value in (("batch", batch), ("steps", steps)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} is not allowed: expected an integer >= 1")
    if not isinstance(model, _AnalogRecurrent):
        raise TypeError(f"model must be an AnalogLSTM, AnalogGRU or AnalogElman, got "
                        f"{type(model).__name__}")
    c, costs, style = model.config, model.config.costs, model.activation
    muls_u, adds_u, update_cycles = UPDATE[model.kind]
    h = model.hidden_size
    totals = {f.name: 0.0 for f in fields(SequenceBill)}
    digital_act = h if isinstance(model, (AnalogLSTM, AnalogGRU)) else 0
    for k in range(model.num_layers):
        state = model.programmed(k)
        n_in = model.input_size if k == 0 else h
        rows, cols = state.in_features, state.out_features
        n_r, n_c = -(-rows // c.tile_rows), -(-cols // c.tile_cols)
        g_mean = float(state.g_pos.sum() + state.g_neg.sum()) / (2 * rows * cols)
        groups = model.column_groups()
        act_cols = sum(n for fn, n in groups.items() if fn != "identity")
        ideal = c.adc_kind == "ideal"
        lookups = 0 if ideal or style == "nl_adc" else act_cols
        ramps = [m for m in model.converters[k].values() if isinstance(m, NonlinearRampADC)]
        ramp_fj = sum(float(m.ramp_us.cumsum(1).sum()) for m in ramps) \
            * c.read_voltage_v**2 / c.clock_ghz
        muls = muls_u * h + (rows if c.dac_range is None else 0)
        adds = adds_u * h + (rows if c.dac_range is None else 0)
        conv_fj = 0.0 if ideal else adc_energy_fj(c)
        per_vector = {
            "macs": model.gates * h * (n_in + h),
            "device_reads": 2 * rows * cols,
            "dac_conversions": rows * n_c if c.dac_bits is not None else 0,
            "conversions": 0 if ideal else cols,
            "activation_lookups": lookups,
            "ramp_reads": len(ramps),
            "digital_muls": muls,
            "digital_adds": adds,
            "energy_array_pj": 2 * rows * cols * c.read_voltage_v**2 * g_mean
            * c.integration_time_ns * 1e-3,
            "energy_dac_pj": (rows * n_c * costs.dac_energy_fj * 1e-3
                              if c.dac_bits is not None else 0.0),
            "energy_adc_pj": (0 if ideal else cols) * conv_fj * 1e-3,
            "energy_ramp_pj": ramp_fj * 1e-3,
            "energy_activation_pj": (lookups + digital_act) * costs.activation_lut_energy_pj,
            "energy_digital_pj": muls * costs.digital_mul_energy_pj
            + adds * costs.digital_add_energy_pj,
            "latency_ns": c.integration_time_ns
            + (adc_cycles(c) * c.columns_per_adc + (1 if lookups else 0) + update_cycles)
            / c.clock_ghz,
        }
        for name, value in per_vector.items():
            totals[name] += value * batch * steps
        adcs = 0 if ideal else n_c * -(-c.tile_cols // c.columns_per_adc)
        totals["area_array_um2"] += n_r * n_c * 2 * c.tile_rows * c.tile_cols \
            * costs.cell_area_um2
        totals["area_adc_um2"] += adcs * adc_area_um2(c)
        totals["area_dac_um2"] += n_r * n_c * c.tile_rows * costs.dac_area_um2 \
            if c.dac_bits is not None else 0.0
        totals["area_ramp_um2"] += sum(m.ramp_us.numel() + m.n_ramps * c.ramp_calibration_devices
                                       for m in ramps) * costs.cell_area_um2
        totals["area_activation_um2"] += (adcs * act_cols // cols if lookups else 0) \
            * costs.activation_lut_area_um2
    counts = {f.name for f in fields(SequenceBill) if f.type == "int"}
    return SequenceBill(**{n: int(round(v)) if n in counts else v for n, v in totals.items()})
