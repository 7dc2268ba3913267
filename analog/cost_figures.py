"""Per-operation energy, latency and area figures used by :mod:`analog.cost`.

Every figure is a field of the frozen dataclass :class:`CostFigures` with its unit in
the name and its source in the table below. "(derived)" marks a figure computed from a
published method or model rather than quoted; "(assumed)" marks an order-of-magnitude
placeholder that a user with a real design should replace.

==========================  ==========  ===============================================
field                       default     source
==========================  ==========  ===============================================
sar_fom_fj_per_step         1.0 fJ      (derived) Walden figure of merit E = FOM * 2^N
                                        fitted to NeuroSim's 25-42 fJ per 5-bit SAR
                                        conversion at 14-22 nm (REFERENCES.md table).
ramp_energy_fj_per_cycle    1.0 fJ      (assumed) one comparator decision plus counter
                                        toggle per clock cycle; the shared ramp generator
                                        is amortized over the columns.
dac_energy_fj               10.0 fJ     (assumed) charging one row line to V_read for
                                        one conversion (about 250 fF at 0.2 V).
digital_add_energy_pj       0.1 pJ      Horowitz, ISSCC 2014, 32-bit integer add, 45 nm
                                        (partial-sum accumulation).
digital_mul_energy_pj       0.2 pJ      Horowitz, ISSCC 2014, 8-bit integer mult, 45 nm
                                        (ADC codes times 8-bit scales; a 32-bit mult is
                                        3.1 pJ). Both digital figures are 45 nm: an
                                        overestimate next to the 14-22 nm converters.
cell_area_um2               0.048 um^2  1T1R RRAM bitcell, Intel 22FFL (Jain et al.,
                                        ISSCC 2019), per device.
sar_area_um2_per_step       2.0 um^2    (assumed) capacitive DAC unit + logic per LSB
                                        step: a 5-bit SAR is 64 um^2.
ramp_area_um2_per_bit       10.0 um^2   (assumed) per-column comparator share and one
                                        counter/latch bit per output bit.
dac_area_um2                5.0 um^2    (assumed) one row driver.
==========================  ==========  ===============================================

Array energy is not a field: it follows from the crossbar physics, V_read^2 * G * t_int
per device read (0.2 V, 50 uS, 10 ns gives 20 fJ, REFERENCES.md), computed in
:mod:`analog.cost` from the configuration's read voltage, conductances and integration
time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields


@dataclass(frozen=True)
class CostFigures:
    """Per-operation figures (see the module docstring for sources). All must be >= 0."""

    sar_fom_fj_per_step: float = 1.0
    ramp_energy_fj_per_cycle: float = 1.0
    dac_energy_fj: float = 10.0
    digital_add_energy_pj: float = 0.1
    digital_mul_energy_pj: float = 0.2
    cell_area_um2: float = 0.048
    sar_area_um2_per_step: float = 2.0
    ramp_area_um2_per_bit: float = 10.0
    dac_area_um2: float = 5.0

    def __post_init__(self) -> None:
        for f in fields(self):
            value = getattr(self, f.name)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise TypeError(f"CostFigures.{f.name} must be a number, got {value!r}")
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"CostFigures.{f.name}={value!r} is not allowed: expected a finite "
                    "number >= 0"
                )
