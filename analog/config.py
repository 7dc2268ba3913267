"""`CrossbarConfig`: every non-ideality and circuit figure of an analog crossbar in one
frozen dataclass, in physical units (uS, V, ns, GHz, Ohm, s).

Conventions used throughout the package:

- A weight matrix ``W`` of shape ``(out, in)`` is stored transposed on the crossbar:
  inputs drive rows, outputs are read on columns.
- A weight is a differential pair ``w ~ G+ - G-``; each device lies in the conductance
  window ``[g_min_us, g_max_us]``. The window width is ``dG = g_max_us - g_min_us``.
- Inside the simulator, column currents are expressed in *device equivalents*
  ``m = I / (V_read * dG)``: one device at the top of the window read at full input
  voltage gives ``m = 1``. The ADC range ``adc_range`` is in these units, so its full-scale
  current is ``adc_range * V_read * dG`` (:attr:`CrossbarConfig.adc_full_scale_ua`).
- Noise and offsets are relative: programming and read noise as a fraction of
  ``g_max_us``, comparator offset and noise in ADC LSBs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from analog.cost_figures import CostFigures

WEIGHT_SCALINGS = ("column", "tile", "layer")
ADC_KINDS = ("ideal", "ramp", "sar", "nl_ramp")
PREACT_SUMMATIONS = ("analog", "single_tile")
RAMP_SHARINGS = ("shared", "tile")


def _check_number(name: str, value, low: float, high: float, *, low_open: bool = False,
                  high_open: bool = False) -> None:
    """Raise a one-line error unless ``value`` is a finite number in the given interval."""
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise TypeError(f"CrossbarConfig.{name} must be a number, got {value!r}")
    left, right = ("(" if low_open else "["), (")" if high_open else "]")
    allowed = f"{left}{low}, {high}{right}"
    bad_low = value <= low if low_open else value < low
    bad_high = value >= high if high_open else value > high
    if math.isnan(value) or bad_low or bad_high:
        raise ValueError(f"CrossbarConfig.{name}={value!r} is not allowed: expected a "
                         f"number in {allowed}")


def _check_int(name: str, value, low: int, high: int, *, optional: bool = False) -> None:
    if optional and value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        none = " or None" if optional else ""
        raise ValueError(f"CrossbarConfig.{name}={value!r} is not allowed: expected an "
                         f"integer in [{low}, {high}]{none}")


def _check_choice(name: str, value, choices: tuple[str, ...]) -> None:
    if value not in choices:
        raise ValueError(f"CrossbarConfig.{name}={value!r} is not allowed: expected one of "
                         f"{', '.join(repr(c) for c in choices)}")


@dataclass(frozen=True)
class CrossbarConfig:
    """One analog crossbar configuration (frozen; validated on construction).

    Devices and mapping:
        g_min_us, g_max_us: conductance window of one device (uS), 0 <= g_min < g_max.
        levels: programmable conductance levels per device (>= 2), None = continuous.
        weight_scaling: how a layer's weights are scaled into the window: ``"column"``
            (each tile column has its own scale), ``"tile"`` (one per tile) or
            ``"layer"`` (one per layer). The scales are applied digitally after the ADC.
        prog_noise_rel: programming error sigma as a fraction of g_max (static, drawn
            once per programming).
        read_noise_rel: read noise sigma per device read as a fraction of g_max (drawn
            every forward pass).
        stuck_on_rate, stuck_off_rate: probability that a device is stuck at g_max /
            g_min; each in [0, 1] and their sum <= 1.
        drift_nu, drift_nu_std: power-law drift exponent mean and spread across devices,
            G(t) = G0 * (t / t0) ** -nu with nu ~ N(drift_nu, drift_nu_std), clipped >= 0.
        drift_t0_s: time of the programming read-back (s), > 0.
        drift_time_s: time of inference since programming (s), >= drift_t0_s
            (equal means no drift).
        drift_compensation: rescale outputs digitally by one global factor per layer,
            the ratio of programmed to drifted total conductance.

    Circuit:
        read_voltage_v: read voltage at full-scale input (V), in (0, 5].
        dac_bits: input DAC resolution (signed, mid-tread, 2..16), None = exact input.
        dac_range: input value mapped to full read voltage; inputs are clipped to
            [-dac_range, dac_range]. None = per-vector abs-max scaling in the digital
            periphery (each input vector is divided by its largest magnitude and the
            outputs multiplied back).
        adc_kind: ``"ideal"`` (exact, no clipping), ``"ramp"`` (single-slope, 2^N cycles),
            ``"sar"`` (successive approximation, N cycles) or ``"nl_ramp"`` (nonlinear ramp
            whose thresholds sit at the inverse of an activation, 2^N cycles; it converts
            pre-activations, see :mod:`analog.nl_adc`). ``"ideal"`` requires adc_bits None;
            ramp and sar 1..16 bits, nl_ramp 1..12 bits.
        adc_bits: ADC resolution (bits).
        adc_range: ADC full scale in device equivalents (see module docstring); the
            ADC covers [-adc_range, adc_range].
        adc_offset_lsb: sigma of the static comparator offset per column (LSB).
        adc_noise_lsb: sigma of the comparator noise per conversion (LSB).
        columns_per_adc: columns sharing one ADC (time-multiplexed), >= 1.
        preact_summation: how the pre-activation mode (:mod:`analog.preact`) forms a
            column's whole pre-activation before one conversion: ``"analog"`` (the column
            currents of all row tiles summed on one sense node) or ``"single_tile"`` (the
            layer, bias row included, must fit in one row tile).
        preact_range: full scale of the linear converter of a pre-activation (activation
            computed digitally after it) in pre-activation units; it covers
            ``[-preact_range, preact_range]``.
        ramp_sharing: ``"shared"`` (one programmed ramp column for all columns of a
            layer) or ``"tile"`` (one ramp per column tile) for nonlinear ramp converters.
        ramp_calibration_devices: bias-calibration devices per nonlinear ramp: one sets
            the ramp start after programming, the others replace stuck-at-OFF ramp
            devices; 0 disables calibration.
        tile_rows, tile_cols: crossbar tile size (rows = inputs, columns = outputs).
        wire_resistance_ohm: line resistance per cell segment (Ohm) for the first-order
            IR-drop model of :func:`analog.ir_drop.ir_drop_gain`; 0 disables IR drop.
        integration_time_ns: integration (read) time per array read (ns), > 0.
        clock_ghz: converter and digital clock (GHz), > 0.
        costs: per-operation energy/area figures (:class:`analog.cost_figures.CostFigures`).
    """

    g_min_us: float = 0.0
    g_max_us: float = 100.0
    levels: int | None = 64
    weight_scaling: str = "column"
    prog_noise_rel: float = 0.02
    read_noise_rel: float = 0.01
    stuck_on_rate: float = 0.0025
    stuck_off_rate: float = 0.0025
    drift_nu: float = 0.0
    drift_nu_std: float = 0.0
    drift_t0_s: float = 1.0
    drift_time_s: float = 1.0
    drift_compensation: bool = True
    read_voltage_v: float = 0.2
    dac_bits: int | None = 8
    dac_range: float | None = None
    adc_kind: str = "ramp"
    adc_bits: int | None = 5
    adc_range: float = 8.0
    adc_offset_lsb: float = 0.0
    adc_noise_lsb: float = 0.0
    columns_per_adc: int = 1
    preact_summation: str = "analog"
    preact_range: float = 8.0
    ramp_sharing: str = "shared"
    ramp_calibration_devices: int = 5
    tile_rows: int = 128
    tile_cols: int = 64
    wire_resistance_ohm: float = 0.0
    integration_time_ns: float = 10.0
    clock_ghz: float = 1.0
    costs: CostFigures = field(default_factory=CostFigures)

    def __post_init__(self) -> None:
        inf = math.inf
        _check_number("g_min_us", self.g_min_us, 0.0, inf, high_open=True)
        _check_number("g_max_us", self.g_max_us, 0.0, inf, low_open=True, high_open=True)
        if self.g_max_us <= self.g_min_us:
            raise ValueError(
                f"CrossbarConfig conductance window [{self.g_min_us}, {self.g_max_us}] uS "
                "is empty: expected 0 <= g_min_us < g_max_us"
            )
        _check_int("levels", self.levels, 2, 2**20, optional=True)
        _check_choice("weight_scaling", self.weight_scaling, WEIGHT_SCALINGS)
        _check_number("prog_noise_rel", self.prog_noise_rel, 0.0, 1.0)
        _check_number("read_noise_rel", self.read_noise_rel, 0.0, 1.0)
        _check_number("stuck_on_rate", self.stuck_on_rate, 0.0, 1.0)
        _check_number("stuck_off_rate", self.stuck_off_rate, 0.0, 1.0)
        if self.stuck_on_rate + self.stuck_off_rate > 1.0:
            raise ValueError(
                f"CrossbarConfig.stuck_on_rate + stuck_off_rate = "
                f"{self.stuck_on_rate + self.stuck_off_rate!r} is not allowed: expected <= 1"
            )
        _check_number("drift_nu", self.drift_nu, 0.0, 1.0)
        _check_number("drift_nu_std", self.drift_nu_std, 0.0, 1.0)
        _check_number("drift_t0_s", self.drift_t0_s, 0.0, inf, low_open=True, high_open=True)
        _check_number("drift_time_s", self.drift_time_s, self.drift_t0_s, inf, high_open=True)
        if not isinstance(self.drift_compensation, bool):
            raise TypeError(f"CrossbarConfig.drift_compensation must be a bool, got "
                            f"{self.drift_compensation!r}")
        _check_number("read_voltage_v", self.read_voltage_v, 0.0, 5.0, low_open=True)
        _check_int("dac_bits", self.dac_bits, 2, 16, optional=True)
        if self.dac_range is not None:
            _check_number("dac_range", self.dac_range, 0.0, inf, low_open=True,
                          high_open=True)
        _check_choice("adc_kind", self.adc_kind, ADC_KINDS)
        if self.adc_kind == "ideal":
            if self.adc_bits is not None:
                raise ValueError(f"CrossbarConfig.adc_bits={self.adc_bits!r} is not allowed "
                                 "with adc_kind='ideal': expected None")
        else:
            _check_int("adc_bits", self.adc_bits, 1, 12 if self.adc_kind == "nl_ramp" else 16)
        _check_number("adc_range", self.adc_range, 0.0, inf, low_open=True, high_open=True)
        _check_number("adc_offset_lsb", self.adc_offset_lsb, 0.0, 2.0**16)
        _check_number("adc_noise_lsb", self.adc_noise_lsb, 0.0, 2.0**16)
        _check_int("columns_per_adc", self.columns_per_adc, 1, 2**16)
        _check_choice("preact_summation", self.preact_summation, PREACT_SUMMATIONS)
        _check_number("preact_range", self.preact_range, 0.0, inf, low_open=True,
                      high_open=True)
        _check_choice("ramp_sharing", self.ramp_sharing, RAMP_SHARINGS)
        _check_int("ramp_calibration_devices", self.ramp_calibration_devices, 0, 64)
        _check_int("tile_rows", self.tile_rows, 1, 2**16)
        _check_int("tile_cols", self.tile_cols, 1, 2**16)
        _check_number("wire_resistance_ohm", self.wire_resistance_ohm, 0.0, 1e4)
        _check_number("integration_time_ns", self.integration_time_ns, 0.0, 1e9,
                      low_open=True)
        _check_number("clock_ghz", self.clock_ghz, 0.0, 1e3, low_open=True)
        if not isinstance(self.costs, CostFigures):
            raise TypeError(f"CrossbarConfig.costs must be a CostFigures, got "
                            f"{type(self.costs).__name__}")

    @property
    def window_us(self) -> float:
        """Conductance window width g_max - g_min (uS)."""
        return self.g_max_us - self.g_min_us

    @property
    def adc_full_scale_ua(self) -> float:
        """ADC full-scale column current (uA): adc_range * V_read * (g_max - g_min)."""
        return self.adc_range * self.read_voltage_v * self.window_us

    @classmethod
    def ideal(cls) -> CrossbarConfig:
        """No non-ideality and infinite resolution: continuous conductances, no noise,
        faults, drift or IR drop, exact DAC and ADC. Reproduces ``F.linear`` to float
        rounding (the tiling only reorders the sums)."""
        return cls(levels=None, prog_noise_rel=0.0, read_noise_rel=0.0, stuck_on_rate=0.0,
                   stuck_off_rate=0.0, dac_bits=None, dac_range=None, adc_kind="ideal",
                   adc_bits=None)

    @classmethod
    def rram_realistic(cls) -> CrossbarConfig:
        """Realistic RRAM crossbar with typical published figures: 0-100 uS window as a
        differential pair (8-90 uS and <= 40 uS seen), 64 levels, programming error 2% of
        G_max (1-6% reported), read noise 1% per read (aihwkit's default), 0.5% stuck-at
        faults (split evenly ON/OFF; 99.8% yield reported), 0.2 V read (0.15-0.25 V),
        128 x 64 tiles, 10 ns integration, 5-bit ramp ADC at 1 GHz. Chosen here:
        8-bit DAC with per-vector abs-max input scaling (as aihwkit's default noise
        management) and an ADC range of +-8 device equivalents (160 uA full scale).
        Equals ``CrossbarConfig()``."""
        return cls()

    @classmethod
    def neurram(cls) -> CrossbarConfig:
        """The NeuRRAM chip: W. Wan et al., "A compute-in-memory chip based on resistive
        random-access memory", Nature 608, 504-512 (2022). 256 x 256 RRAM cores, weights
        as differential pairs of 1T1R devices in a window of at most 40 uS, weights
        quantized to 4 bits (sign from the pair, 8 levels per device), inputs of 1-6 bits
        (4 used here) and outputs of 1-8 bits from integrate-and-count neurons (modelled
        as an 8-bit ramp converter, all columns read in parallel). Read voltage, noise and
        fault figures are not quoted from the paper: they are this project's defaults."""
        return cls(g_min_us=0.0, g_max_us=40.0, levels=8, tile_rows=256, tile_cols=256,
                   dac_bits=4, adc_kind="ramp", adc_bits=8, adc_range=16.0)
