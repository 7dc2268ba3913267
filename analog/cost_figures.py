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
                                        conversion at 14-22 nm.
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
activation_lut_energy_pj    0.1 pJ      (assumed) one read of a 2^N-entry activation
                                        lookup table after a linear ADC, priced like a
                                        32-bit add at 45 nm (Horowitz).
activation_lut_area_um2     50.0 um^2   (assumed) one lookup-table unit per ADC.
==========================  ==========  ===============================================

:meth:`CostFigures.at_16nm` scales the three digital figures (add, multiply, lookup) from
45 nm to 16 nm by 0.28 (derived: switched capacitance x 16/45, supply (0.8 V / 0.9 V)^2),
the node at which the nonlinear-ramp paper normalises its energy.

Array energy is not a field: it follows from the crossbar physics, V_read^2 * G * t_int
per device read (0.2 V, 50 uS, 10 ns gives 20 fJ), computed in
:mod:`analog.cost` from the configuration's read voltage, conductances and integration
time.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, fields, replace


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
    activation_lut_energy_pj: float = 0.1
    activation_lut_area_um2: float = 50.0

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

    def at_16nm(self) -> CostFigures:
        """These figures with the digital ones (add, multiply, lookup) scaled from 45 nm to
        16 nm by 0.28 (see the module docstring); converters and cells unchanged."""
        k = DIGITAL_16NM
        return replace(self, digital_add_energy_pj=self.digital_add_energy_pj * k,
                       digital_mul_energy_pj=self.digital_mul_energy_pj * k,
                       activation_lut_energy_pj=self.activation_lut_energy_pj * k)


DIGITAL_16NM = (16 / 45) * (0.8 / 0.9) ** 2
