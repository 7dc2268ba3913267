"""Builders of the registered analog models (``analog_lstm``, ``analog_gru``,
``analog_elman`` in ``experiments.models``): a preset configuration with the run's options
applied, then the cell. Options:

- ``preset``: ``"rram_realistic"`` (default), ``"neurram"`` or ``"ideal"`` (exact converters
  and devices: the float cell);
- ``activation``: ``"nl_adc"`` (gate activations inside a nonlinear ramp ADC) or
  ``"digital"`` (linear ADC of kind ``linear_adc``, then the exact activation);
- ``adc_bits`` (1..12), ``linear_adc`` (``"ramp"`` or ``"sar"``);
- ``prog_noise``, ``read_noise`` (fractions of g_max) and ``dac_range`` (fixed input full
  scale): None keeps the preset's value.
"""

from __future__ import annotations

import dataclasses

from analog.cells import AnalogElman, AnalogGRU, AnalogLSTM
from analog.config import CrossbarConfig

PRESETS = ("rram_realistic", "neurram", "ideal")


def preset_config(preset: str = "rram_realistic", activation: str = "nl_adc",
                  adc_bits: int = 5, linear_adc: str = "ramp", prog_noise: float | None = None,
                  read_noise: float | None = None, dac_range: float | None = None
                  ) -> CrossbarConfig:
    """The configuration the options describe (``"ideal"`` ignores the converter options)."""
    if preset not in PRESETS:
        raise ValueError(f"preset={preset!r} is unknown; allowed: {', '.join(PRESETS)}")
    config = getattr(CrossbarConfig, preset)()
    if preset != "ideal":
        kind = "nl_ramp" if activation == "nl_adc" else linear_adc
        config = dataclasses.replace(config, adc_kind=kind, adc_bits=adc_bits)
    changes = {name: value for name, value in (("prog_noise_rel", prog_noise),
                                               ("read_noise_rel", read_noise),
                                               ("dac_range", dac_range)) if value is not None}
    return dataclasses.replace(config, **changes)


def _builder(cls):
    def build(input_size: int, hidden_size: int, *, backend: str = "torch", num_layers: int = 1,
              seed: int = 0, activation: str = "nl_adc", **options):
        config = preset_config(activation=activation, **options)
        style = None if config.adc_kind == "ideal" else activation
        return cls(input_size, hidden_size, num_layers=num_layers, config=config,
                   activation=style, seed=seed, backend=backend)
    build.__name__ = f"build_{cls.kind}"
    return build


build_analog_lstm = _builder(AnalogLSTM)
build_analog_gru = _builder(AnalogGRU)
build_analog_elman = _builder(AnalogElman)
