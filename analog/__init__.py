"""Analog in-memory computing: memristive crossbar simulation in physical units.

One :class:`CrossbarConfig` (uS, V, ns, bits) drives device programming
(:mod:`analog.devices`), the tiled matrix-vector product with DAC/ADC
(:mod:`analog.tile`, :mod:`analog.converters`), torch layers with hardware-aware
training (:mod:`analog.layers`) and the energy/latency/area bill (:mod:`analog.cost`).
Activations computed inside the converter (:mod:`analog.nl_adc`, nonlinear ramp ADC) need
the whole pre-activation of a column (:mod:`analog.preact`); the recurrent cells of
:mod:`analog.cells` use them, with a sequence bill in :mod:`analog.cell_cost`. The benchmark
lives in :mod:`analog.bench`.
"""

from analog.activations import Activation
from analog.cell_cost import SequenceBill, sequence_cost
from analog.cells import AnalogElman, AnalogGRU, AnalogLSTM
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
from analog.nl_adc import DigitalActivationADC, NonlinearRampADC
from analog.tile import analog_mvm

__all__ = [
    "Activation",
    "Adc",
    "AnalogElman",
    "AnalogGRU",
    "AnalogLSTM",
    "AnalogLinear",
    "CostFigures",
    "CostReport",
    "CrossbarConfig",
    "Dac",
    "DigitalActivationADC",
    "IdealAdc",
    "LinearAdc",
    "NonlinearRampADC",
    "ProgrammedLayer",
    "RampAdc",
    "SarAdc",
    "SequenceBill",
    "ThresholdAdc",
    "analog_mvm",
    "layer_cost",
    "make_adc",
    "model_cost",
    "program",
    "sequence_cost",
    "tile_grid",
    "to_analog",
]
