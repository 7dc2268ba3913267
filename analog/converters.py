"""Data converters: the input DAC and the column ADCs, all vectorized over tensors.

ADCs form a small hierarchy with one interface, :class:`Adc`:
``convert(values) -> values`` (same shape and units: the value each output code stands
for), plus ``kind``, ``bits``, ``conversion_cycles`` and ``noise_std``.

- :class:`IdealAdc`: exact.
- :class:`ThresholdAdc`: the general single-comparator-per-column converter. The output
  code is the number of thresholds at or below the input, i.e.
  ``searchsorted(thresholds + offset, value)``, and the output is ``levels[code]``. Any
  monotone transfer curve fits, in particular a nonlinear ramp whose thresholds sit at
  the inverse of an activation function (:mod:`analog.nl_adc` builds those as modules).
- :class:`RampAdc`, :class:`SarAdc` (both :class:`LinearAdc`): linear (uniform,
  mid-rise) converters over
  ``[-full_scale, full_scale]``; they compute the same codes as :class:`ThresholdAdc`
  with uniform thresholds, in closed form. They differ in timing (ramp 2^N cycles, SAR N
  cycles) and cost.

Comparator offsets are static (one per column, drawn when the ADC is built); comparator
noise is input-referred with sigma ``noise_std`` and is drawn by the caller
(:func:`analog.tile.analog_mvm` draws it together with read noise).
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor

from analog.config import CrossbarConfig


class Adc(ABC):
    """Interface of a column ADC. ``convert`` maps analog values to the values of their
    output codes (same shape, same units)."""

    kind: str = "abstract"
    bits: int | None = None
    noise_std: float = 0.0

    @property
    @abstractmethod
    def conversion_cycles(self) -> int:
        """Clock cycles per conversion (0 for an ideal converter)."""

    @abstractmethod
    def convert(self, values: Tensor) -> Tensor:
        """Values of the output codes of ``values`` (any shape, same units)."""


class IdealAdc(Adc):
    """Infinite resolution, no clipping: ``convert`` returns its input."""

    kind = "ideal"

    @property
    def conversion_cycles(self) -> int:
        return 0

    def convert(self, values: Tensor) -> Tensor:
        return values


class ThresholdAdc(Adc):
    """Converter defined by increasing thresholds ``(K,)`` and output levels ``(K + 1,)``.

    Args:
        thresholds: increasing decision thresholds, shape ``(K,)``.
        levels: output value of each code 0..K, shape ``(K + 1,)``, in the input's units.
        offset: static comparator offset, a float or a tensor broadcastable to the
            values passed to ``convert`` (e.g. one per column), in the input's units.
        noise_std: input-referred comparator noise sigma (input units), drawn by the caller.
        cycles: clock cycles per conversion (a ramp converter: K).
    """

    kind = "threshold"

    def __init__(self, thresholds: Tensor, levels: Tensor, offset: Tensor | float = 0.0,
                 noise_std: float = 0.0, cycles: int | None = None) -> None:
        if thresholds.ndim != 1 or levels.shape != (thresholds.numel() + 1,):
            raise ValueError(f"ThresholdAdc needs thresholds (K,) and levels (K+1,), got "
                             f"{tuple(thresholds.shape)} and {tuple(levels.shape)}")
        if thresholds.numel() > 1 and not bool((thresholds[1:] > thresholds[:-1]).all()):
            raise ValueError("ThresholdAdc thresholds must be strictly increasing")
        self.thresholds = thresholds
        self.levels = levels
        self.offset = offset
        self.noise_std = float(noise_std)
        self.bits = max(1, (thresholds.numel()).bit_length())
        self._cycles = thresholds.numel() if cycles is None else cycles

    @property
    def conversion_cycles(self) -> int:
        return self._cycles

    def convert(self, values: Tensor) -> Tensor:
        thresholds = self.thresholds.to(values.dtype)
        codes = torch.bucketize((values - self.offset).contiguous(), thresholds, right=True)
        return self.levels.to(values.dtype)[codes]


class LinearAdc(ThresholdAdc):
    """Uniform mid-rise converter over ``[-full_scale, full_scale]`` with ``2**bits``
    codes: LSB = 2 * full_scale / 2**bits, code = floor((v - offset + full_scale) / LSB)
    clipped to [0, 2**bits - 1], output = -full_scale + (code + 1/2) * LSB. Inside the
    range the error is at most LSB / 2; outside it the output clips to the end levels."""

    def __init__(self, bits: int, full_scale: float, offset: Tensor | float = 0.0,
                 noise_std: float = 0.0) -> None:
        if not isinstance(bits, int) or isinstance(bits, bool) or not 1 <= bits <= 16:
            raise ValueError(f"{type(self).__name__} bits={bits!r} is not allowed: expected "
                             "an integer in [1, 16]")
        if not full_scale > 0:
            raise ValueError(f"{type(self).__name__} full_scale={full_scale!r} is not "
                             "allowed: expected a number > 0")
        self.full_scale = float(full_scale)
        self.lsb = 2.0 * self.full_scale / 2**bits
        k = torch.arange(2**bits + 1, dtype=torch.float64)
        edges = -self.full_scale + k * self.lsb
        super().__init__(edges[1:-1], edges[:-1] + self.lsb / 2, offset, noise_std)
        self.bits = bits

    def convert(self, values: Tensor) -> Tensor:
        # full_scale / lsb = 2**(bits-1) is an integer, so the code shifted by it is
        # floor((v - offset) / lsb), clipped to [-2**(bits-1), 2**(bits-1) - 1].
        shifted = values - self.offset if isinstance(self.offset, Tensor) or self.offset \
            else values
        half = float(2 ** (self.bits - 1))
        codes = torch.mul(shifted, 1.0 / self.lsb).floor_().clamp_(-half, half - 1.0)
        return codes.add_(0.5).mul_(self.lsb)


class RampAdc(LinearAdc):
    """Linear single-slope (ramp) ADC: one shared ramp, one comparator and counter per
    column, 2**bits clock cycles per conversion."""

    kind = "ramp"

    @property
    def conversion_cycles(self) -> int:
        return 2**self.bits


class SarAdc(LinearAdc):
    """Linear successive-approximation ADC: one bit decided per clock cycle, bits cycles
    per conversion."""

    kind = "sar"

    @property
    def conversion_cycles(self) -> int:
        return self.bits


class Dac:
    """Signed mid-tread input DAC over ``[-full_scale, full_scale]``.

    ``bits`` (2..16) gives codes -(2**(bits-1) - 1) .. 2**(bits-1) - 1 with
    LSB = full_scale / (2**(bits-1) - 1), so zero is exact. Inputs are clipped to the
    range, then rounded to the nearest code (error <= LSB / 2). ``bits=None`` only clips.
    """

    def __init__(self, bits: int | None, full_scale: float) -> None:
        if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int)
                                 or not 2 <= bits <= 16):
            raise ValueError(f"Dac bits={bits!r} is not allowed: expected an integer in "
                             "[2, 16] or None")
        if not full_scale > 0:
            raise ValueError(f"Dac full_scale={full_scale!r} is not allowed: expected a "
                             "number > 0")
        self.bits = bits
        self.full_scale = float(full_scale)
        self.lsb = None if bits is None else self.full_scale / (2 ** (bits - 1) - 1)

    def convert(self, values: Tensor) -> Tensor:
        """Quantize ``values`` (any shape, input units); returns the same shape and units."""
        clipped = values.clamp(-self.full_scale, self.full_scale)
        return clipped if self.lsb is None else self.quantize_(clipped)

    def quantize_(self, values: Tensor) -> Tensor:
        """Round ``values`` already inside the range to the nearest code, in place."""
        return values if self.lsb is None else values.mul_(1.0 / self.lsb).round_().mul_(self.lsb)


def make_adc(config: CrossbarConfig, offset_shape: tuple[int, ...],
             generator: torch.Generator | None = None) -> Adc:
    """Build the ADC chosen by ``config`` in device-equivalent units (full scale
    ``config.adc_range``), with static comparator offsets of shape ``offset_shape`` drawn
    from ``generator`` (sigma ``adc_offset_lsb`` LSB)."""
    if config.adc_kind == "ideal":
        return IdealAdc()
    if config.adc_kind == "nl_ramp":
        raise ValueError("adc_kind='nl_ramp' is not allowed here: a nonlinear ramp converts a "
                         "whole pre-activation into an activation; use analog.NonlinearRampADC "
                         "or the analog cells (AnalogLSTM, AnalogGRU, AnalogElman)")
    cls = RampAdc if config.adc_kind == "ramp" else SarAdc
    lsb = 2.0 * config.adc_range / 2**config.adc_bits
    offset: Tensor | float = 0.0
    if config.adc_offset_lsb > 0:
        offset = torch.randn(offset_shape, generator=generator) * (config.adc_offset_lsb * lsb)
    return cls(config.adc_bits, config.adc_range, offset, config.adc_noise_lsb * lsb)
