"""Analog in-memory computing: memristive crossbar simulation in physical units.

One :class:`CrossbarConfig` (uS, V, ns, bits) drives device programming
(:mod:`analog.devices`), the tiled matrix-vector product with DAC/ADC
(:mod:`analog.tile`, :mod:`analog.converters`), torch layers with hardware-aware
training (:mod:`analog.layers`) and the energy/latency/area bill (:mod:`analog.cost`).
The benchmark lives in :mod:`analog.bench`.
"""

from analog.config import CrossbarConfig
from analog.converters import (
    Adc,
    Dac,
    IdealAdc,
    LinearAdc,
    RampAdc,
    SarAdc,
    ThresholdAdc,
    make_adc,
)
from analog.cost import CostReport, layer_cost, model_cost
from analog.cost_figures import CostFigures
from analog.devices import ProgrammedLayer, program, tile_grid
from analog.layers import AnalogLinear, to_analog
from analog.tile import analog_mvm

__all__ = [
    "Adc",
    "AnalogLinear",
    "CostFigures",
    "CostReport",
    "CrossbarConfig",
    "Dac",
    "IdealAdc",
    "LinearAdc",
    "ProgrammedLayer",
    "RampAdc",
    "SarAdc",
    "ThresholdAdc",
    "analog_mvm",
    "layer_cost",
    "make_adc",
    "model_cost",
    "program",
    "tile_grid",
    "to_analog",
]
