"""Energy, latency and area bill of analog layers, from counted operations.

For a forward pass of ``batch`` input vectors through a layer ``in -> out`` on
``R x C`` tiles (:func:`analog.devices.tile_grid`):

=====================  =========================================================
count                  value
=====================  =========================================================
macs                   batch * in * out
array_reads            batch * R * C (one integration of one tile)
device_reads           2 * batch * in * out (both devices of every pair)
dac_conversions        batch * in * C (each tile drives its own rows)
adc_conversions        batch * R * out (every tile digitizes its partial sums)
digital_adds           batch * out * (R - 1) partial sums, + batch * out bias,
                       + batch * in abs-max compares when ``dac_range`` is None
digital_muls           batch * R * out weight scales, + batch * (in + out) input
                       scaling when ``dac_range`` is None, + batch * out drift gain
                       when drift compensation is active
=====================  =========================================================

Energy (pJ): array ``device_reads * V_read^2 * G * t_int`` (V^2 * uS * ns = fJ; ``G`` the
mean device conductance, by default the window midpoint, inputs at full scale: an upper
estimate), ADC per conversion ``2^N * ramp_energy_fj_per_cycle`` (ramp: one comparator
cycle per step) or ``sar_fom_fj_per_step * 2^N`` (SAR, Walden figure of merit), DAC
``dac_energy_fj`` per conversion, digital adds and multiplies from
:class:`analog.cost_figures.CostFigures`. Ideal converters (``adc_kind="ideal"``,
``dac_bits=None``) cost nothing, so the ideal preset's bill is array + digital only.

Latency (ns): input vectors one after another, all tiles of a layer in parallel, no
pipelining: ``batch * (t_int + t_adc + t_digital)`` with ``t_adc = cycles *
columns_per_adc / f_clk`` (ramp 2^N cycles, SAR N) and ``t_digital = (ceil(log2 R) + 1) /
f_clk`` (adder tree plus scaling). Layers of a model run one after another.

Area (um^2): all allocated tiles (padding included): ``2 * rows * cols * cell_area``
per tile, ``ceil(cols / columns_per_adc)`` ADCs per tile (SAR ``2^N *
sar_area_um2_per_step``, ramp ``N * ramp_area_um2_per_bit``) and ``rows`` DACs per tile.

TOPS/W = 2 * macs / energy_pJ; TOPS/mm^2 = 2 * macs / latency / area.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields

from torch import nn

from analog.config import CrossbarConfig
from analog.devices import tile_grid
from analog.layers import AnalogLinear


@dataclass(frozen=True)
class CostReport:
    """Counts, energy (pJ), latency (ns) and area (um^2) of one or more forward passes."""

    macs: int
    array_reads: int
    device_reads: int
    dac_conversions: int
    adc_conversions: int
    digital_adds: int
    digital_muls: int
    energy_array_pj: float
    energy_dac_pj: float
    energy_adc_pj: float
    energy_digital_pj: float
    latency_ns: float
    area_array_um2: float
    area_adc_um2: float
    area_dac_um2: float

    @property
    def energy_pj(self) -> float:
        return (self.energy_array_pj + self.energy_dac_pj + self.energy_adc_pj
                + self.energy_digital_pj)

    @property
    def area_um2(self) -> float:
        return self.area_array_um2 + self.area_adc_um2 + self.area_dac_um2

    @property
    def area_mm2(self) -> float:
        return self.area_um2 * 1e-6

    @property
    def tops_per_w(self) -> float:
        """Operations (2 per MAC) per pJ, which equals TOPS/W."""
        return 2 * self.macs / self.energy_pj if self.energy_pj > 0 else math.inf

    @property
    def tops_per_mm2(self) -> float:
        if self.latency_ns <= 0 or self.area_mm2 <= 0:
            return math.inf
        return 2 * self.macs / (self.latency_ns * 1e3) / self.area_mm2

    def __add__(self, other: CostReport) -> CostReport:
        """Two layers run one after the other: everything adds."""
        return CostReport(**{f.name: getattr(self, f.name) + getattr(other, f.name)
                             for f in fields(self)})

    def as_dict(self) -> dict:
        """Flat JSON-serializable dict of all fields and derived figures."""
        out = asdict(self)
        for name in ("energy_pj", "area_um2", "area_mm2", "tops_per_w", "tops_per_mm2"):
            out[name] = getattr(self, name)
        return out


def adc_energy_fj(config: CrossbarConfig) -> float:
    """Energy of one ADC conversion (fJ); 0 for the ideal converter."""
    if config.adc_kind == "ideal":
        return 0.0
    steps = 2**config.adc_bits
    if config.adc_kind in ("ramp", "nl_ramp"):
        return steps * config.costs.ramp_energy_fj_per_cycle
    return steps * config.costs.sar_fom_fj_per_step


def adc_cycles(config: CrossbarConfig) -> int:
    """Clock cycles per conversion: ramp 2^N, SAR N, ideal 0."""
    if config.adc_kind == "ideal":
        return 0
    return config.adc_bits if config.adc_kind == "sar" else 2**config.adc_bits


def adc_area_um2(config: CrossbarConfig) -> float:
    """Area of one ADC (um^2); 0 for the ideal converter."""
    if config.adc_kind == "ideal":
        return 0.0
    if config.adc_kind in ("ramp", "nl_ramp"):
        return config.adc_bits * config.costs.ramp_area_um2_per_bit
    return 2**config.adc_bits * config.costs.sar_area_um2_per_step


def layer_cost(in_features: int, out_features: int, batch: int, config: CrossbarConfig,
               mean_conductance_us: float | None = None, bias: bool = True) -> CostReport:
    """Bill of one forward pass of ``batch`` vectors through ``in_features ->
    out_features`` (see the module docstring for every formula).

    Args:
        mean_conductance_us: mean device conductance (uS) for the array energy; default
            the window midpoint ``(g_min + g_max) / 2``.
        bias: whether the layer adds a digital bias.
    """
    for name, value in (("in_features", in_features), ("out_features", out_features),
                        ("batch", batch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise ValueError(f"{name}={value!r} is not allowed: expected an integer >= 1")
    g_mean = (config.g_min_us + config.g_max_us) / 2 if mean_conductance_us is None \
        else mean_conductance_us
    if not 0 <= g_mean <= config.g_max_us:
        raise ValueError(f"mean_conductance_us={g_mean!r} is not allowed: expected a number "
                         f"in [0, {config.g_max_us}]")
    n_r, n_c = tile_grid(in_features, out_features, config)
    costs = config.costs
    macs = batch * in_features * out_features
    device_reads = 2 * macs
    dac_conv = batch * in_features * n_c
    adc_conv = batch * n_r * out_features
    adds = batch * out_features * (n_r - 1) + (batch * out_features if bias else 0)
    muls = batch * n_r * out_features
    if config.dac_range is None:
        adds += batch * in_features
        muls += batch * (in_features + out_features)
    if config.drift_compensation and config.drift_time_s > config.drift_t0_s:
        muls += batch * out_features
    device_fj = config.read_voltage_v**2 * g_mean * config.integration_time_ns
    dac_fj = costs.dac_energy_fj if config.dac_bits is not None else 0.0
    t_adc = adc_cycles(config) * config.columns_per_adc / config.clock_ghz
    t_digital = (math.ceil(math.log2(n_r)) + 1) / config.clock_ghz
    tiles = n_r * n_c
    adcs_per_tile = -(-config.tile_cols // config.columns_per_adc)
    return CostReport(
        macs=macs,
        array_reads=batch * tiles,
        device_reads=device_reads,
        dac_conversions=dac_conv,
        adc_conversions=adc_conv,
        digital_adds=adds,
        digital_muls=muls,
        energy_array_pj=device_reads * device_fj * 1e-3,
        energy_dac_pj=dac_conv * dac_fj * 1e-3,
        energy_adc_pj=adc_conv * adc_energy_fj(config) * 1e-3,
        energy_digital_pj=adds * costs.digital_add_energy_pj + muls * costs.digital_mul_energy_pj,
        latency_ns=batch * (config.integration_time_ns + t_adc + t_digital),
        area_array_um2=tiles * 2 * config.tile_rows * config.tile_cols * costs.cell_area_um2,
        area_adc_um2=tiles * adcs_per_tile * adc_area_um2(config),
        area_dac_um2=(tiles * config.tile_rows * costs.dac_area_um2
                      if config.dac_bits is not None else 0.0),
    )


def model_cost(model: nn.Module, batch: int) -> CostReport:
    """Sum of :func:`layer_cost` over every :class:`analog.layers.AnalogLinear` in
    ``model`` (one forward pass of ``batch`` vectors per layer, layers in sequence), using
    each layer's programmed mean device conductance."""
    layers = [m for m in model.modules() if isinstance(m, AnalogLinear)]
    if not layers:
        raise ValueError("model contains no AnalogLinear layer: convert it with to_analog "
                         "first")
    reports = [layer_cost(m.in_features, m.out_features, batch, m.config,
                          mean_conductance_us=m.mean_conductance_us(),
                          bias=m.bias is not None) for m in layers]
    total = reports[0]
    for report in reports[1:]:
        total = total + report
    return total
