"""Converters that output an activation of the pre-activation they convert.

:class:`NonlinearRampADC` (the method of Yang et al., "Nonlinear ramp ADC", Nat. Commun.
2025): a single-slope converter whose ramp steps are not uniform. Its thresholds sit at the
inverse of a monotone activation ``f`` (:meth:`analog.activations.Activation.thresholds`;
sigmoid ``T_k = logit(k / 2^N)``, tanh ``T_k = artanh(2k / 2^N - 1)``), so the counter
output is ``f(z)`` quantized uniformly in output space, with no lookup table and no digital
activation unit.

How the ramp is made: the ramp rises by one increment ``dT_k = T_k - T_(k-1)`` per clock
cycle, ``k = 1 .. 2^N - 1`` (``T_0 = T_1 - (T_2 - T_1)``), each increment being the
conductance of one memristor of a ramp column read at the same ``V_read`` as the array:
``g_k = dT_k / u`` with the largest increment at ``g_max`` (5-bit sigmoid: 0.125-0.726, a
5.8x spread). The devices get the configuration's programming error ``N(0, (prog_noise_rel
g_max)^2)`` (no level quantization: ramp devices are write-verified to a continuous target)
and stuck-at faults. Then ``ramp_calibration_devices`` bias-calibration devices correct the
ramp after a read-back: all but one are programmed (with the same error) in parallel to
stuck-at-OFF ramp devices, largest missing increments first; the last sets the ramp start
so that the mean threshold error is zero. ``ramp_sharing`` gives one ramp for all columns or
one per column tile. Each column has its own comparator with a static offset
``N(0, (adc_offset_lsb * LSB)^2)`` and per-conversion noise of ``adc_noise_lsb`` LSB, LSB
being the mean threshold spacing ``(T_max - T_min) / (2^N - 2)``.

Conversion is ``searchsorted(thresholds + offset, z)``, O(N) per value, never a
``2^N``-wide comparison. It is ratiometric: the array current and the ramp current are both
``V_read`` times a conductance, so the read voltage passed to ``forward`` scales both sides
and moves no code. :class:`DigitalActivationADC`, the baseline it replaces, is a linear
converter over ``[-preact_range, preact_range]`` whose reference is fixed at the design
``read_voltage_v`` (its codes drift with ``V_read``), followed by the exact activation of the
code's centre value (a ``2^N``-entry lookup table).

Both are ``nn.Module`` s applied elementwise to pre-activations of any shape; with
``columns=C`` the last dimension is the column index (per-column offsets, ramp per tile).
Their gradient is the straight-through estimator through the staircase with the derivative
of the activation: ``d out / d z = f'(z)``.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from analog.activations import Activation, resolve
from analog.config import CrossbarConfig
from kernels.contract import generator as seeded_generator


class _Staircase(torch.autograd.Function):
    """Forward: the converter output; backward: ``grad * f'(z)``."""

    @staticmethod
    def forward(ctx, z: Tensor, out: Tensor, slope: Tensor) -> Tensor:
        ctx.save_for_backward(slope)
        return out

    @staticmethod
    def backward(ctx, grad: Tensor):
        (slope,) = ctx.saved_tensors
        return grad * slope, None, None


def check_bits(bits, what: str) -> int:
    """``bits`` if an integer in 1..12, else a one-line error."""
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 12:
        raise ValueError(f"{what} bits={bits!r} is not allowed: expected an integer in [1, 12]")
    return bits


class _ActivationADC(nn.Module):
    """Shared plumbing: activation, bits, columns, comparator offsets and noise, STE."""

    def __init__(self, fn, bits: int, config: CrossbarConfig, columns: int | None,
                 seed: int, lsb: float) -> None:
        super().__init__()
        name = type(self).__name__
        self.bits = check_bits(bits, name)
        if not isinstance(config, CrossbarConfig):
            raise TypeError(f"config must be a CrossbarConfig, got {type(config).__name__}")
        if columns is not None and (isinstance(columns, bool) or not isinstance(columns, int)
                                    or columns < 1):
            raise ValueError(f"{name} columns={columns!r} is not allowed: expected an integer "
                             ">= 1 or None")
        self.activation: Activation = resolve(fn)
        self.config, self.columns, self.seed, self.lsb = config, columns, seed, lsb
        gen = seeded_generator(seed, f"{name}/offsets")
        n = 1 if columns is None else columns
        self.register_buffer("offset", torch.randn(n, 1, generator=gen, dtype=torch.float64)
                             * (config.adc_offset_lsb * lsb))
        self._noise = seeded_generator(seed, f"{name}/noise")
        self.register_buffer("levels", self.activation.levels(self.bits))

    @property
    def noise_std(self) -> float:
        """Comparator noise sigma per conversion (pre-activation units)."""
        return self.config.adc_noise_lsb * self.lsb

    def _codes(self, z: Tensor, thresholds: Tensor) -> Tensor:
        """Codes of ``z`` against thresholds ``(1, K)`` (shared) or ``(columns, K)``, plus
        each column's comparator offset (one shared table when there are no offsets)."""
        if self.columns is not None and (z.ndim == 0 or z.shape[-1] != self.columns):
            raise ValueError(f"{type(self).__name__} input has shape {tuple(z.shape)}: "
                             f"expected (..., {self.columns})")
        if thresholds.shape[0] > 1 or self.config.adc_offset_lsb > 0:
            thresholds = thresholds + self.offset
        zc = z.detach().to(torch.float64)
        if self.noise_std > 0:
            zc = zc + torch.randn(zc.shape, generator=self._noise, dtype=zc.dtype) \
                * self.noise_std
        n = thresholds.shape[0]
        flat = zc.reshape(-1, n).t().contiguous() if n > 1 else zc.reshape(1, -1)
        codes = torch.searchsorted(thresholds.to(zc.dtype).contiguous(), flat, right=True)
        return codes.t().reshape(z.shape) if n > 1 else codes.reshape(z.shape)

    def _output(self, z: Tensor, codes: Tensor) -> Tensor:
        out = self.levels[codes].to(z.dtype)
        if torch.is_grad_enabled() and z.requires_grad:
            return _Staircase.apply(z, out, self.activation.derivative(z.detach()))
        return out


def _check_voltage(read_voltage_v) -> float:
    if isinstance(read_voltage_v, bool) or not isinstance(read_voltage_v, (int, float)) \
            or not 0 < read_voltage_v <= 5 or math.isnan(read_voltage_v):
        raise ValueError(f"read_voltage_v={read_voltage_v!r} is not allowed: expected a number "
                         "in (0, 5] V")
    return float(read_voltage_v)


class NonlinearRampADC(_ActivationADC):
    """N-bit nonlinear ramp converter of ``f`` (see the module docstring).

    Args:
        fn: ``"sigmoid"``, ``"tanh"``, an :class:`analog.activations.Activation` or an
            increasing callable (checked, inverse tabulated).
        bits: 1..12.
        config: programming noise, stuck-at rates, conductance window, comparator offset
            and noise, ``ramp_sharing``, ``ramp_calibration_devices``, ``tile_cols`` and the
            design ``read_voltage_v``.
        columns: number of columns (last input dimension), or None for one converter
            applied to every element.
        seed: seeds the ramp programming, faults, offsets and noise (separate streams).

    Attributes:
        thresholds: realized thresholds ``(n_ramps, 2^N - 1)`` after programming and
            calibration (pre-activation units); ``target`` the ideal ones ``(2^N - 1,)``.
        ramp_us: programmed ramp conductances ``(n_ramps, 2^N - 1)`` (uS, spares added).
    """

    def __init__(self, fn, bits: int, config: CrossbarConfig, columns: int | None = None,
                 seed: int = 0) -> None:
        bits = check_bits(bits, "NonlinearRampADC")
        target = resolve(fn).thresholds(bits)
        span = float(target[-1] - target[0]) if target.numel() > 1 else 1.0
        super().__init__(fn, bits, config, columns, seed, span / max(1, target.numel() - 1))
        self.register_buffer("target", target)
        start = target[0] - (target[1] - target[0] if target.numel() > 1 else 1.0)
        increments = torch.diff(target, prepend=start.view(1))
        self.unit = float(increments.max()) / config.g_max_us  # pre-activation units per uS
        wanted = increments / self.unit
        if float(wanted.min()) < config.g_min_us:
            raise ValueError(f"the {bits}-bit ramp of {self.activation.name!r} needs "
                             f"increments from {float(wanted.min()):.3g} uS, below "
                             f"g_min_us={config.g_min_us}: the conductance window is too narrow")
        n_ramps = 1
        if config.ramp_sharing == "tile" and columns is not None:
            n_ramps = -(-columns // config.tile_cols)
        gen = seeded_generator(seed, "NonlinearRampADC/ramp")
        ramps = [self._program_ramp(wanted, float(start), gen) for _ in range(n_ramps)]
        self.register_buffer("ramp_us", torch.stack([g for g, _ in ramps]))
        self.register_buffer("thresholds", torch.stack([t for _, t in ramps]))

    def _program_ramp(self, wanted: Tensor, start: float, gen: torch.Generator
                      ) -> tuple[Tensor, Tensor]:
        """One ramp column: programming error, stuck-at faults, then calibration."""
        c = self.config
        sigma = c.prog_noise_rel * c.g_max_us

        def write(target: Tensor) -> Tensor:
            noise = torch.randn(target.shape, generator=gen, dtype=torch.float64) * sigma
            return (target + noise).clamp(0.0, c.g_max_us)

        g = write(wanted)
        u = torch.rand(wanted.shape, generator=gen, dtype=torch.float64)
        stuck_on = u < c.stuck_on_rate
        stuck_off = (u >= c.stuck_on_rate) & (u < c.stuck_on_rate + c.stuck_off_rate)
        g = torch.where(stuck_on, c.g_max_us, torch.where(stuck_off, c.g_min_us, g))
        spares = max(0, c.ramp_calibration_devices - 1)
        if spares and bool(stuck_off.any()):
            missing = torch.nonzero(stuck_off).flatten()
            missing = missing[torch.argsort(wanted[missing], descending=True)][:spares]
            g = g.index_add(0, missing, write(wanted[missing]))
        ramp = start + self.unit * torch.cumsum(g, 0)
        if c.ramp_calibration_devices > 0:
            shift = float((self.target - ramp).mean())
            shift += float(torch.randn((), generator=gen, dtype=torch.float64)) * sigma * \
                self.unit
            ramp = ramp + shift
        return g, ramp

    @property
    def n_ramps(self) -> int:
        """Number of programmed ramp columns."""
        return self.thresholds.shape[0]

    def codes(self, z: Tensor, read_voltage_v: float | None = None) -> Tensor:
        """Output codes (int64, shape of ``z``) of pre-activations ``z`` read at
        ``read_voltage_v`` (default the design voltage): array and ramp currents both scale
        with it (the comparator offsets do not)."""
        v = self.config.read_voltage_v if read_voltage_v is None else \
            _check_voltage(read_voltage_v)
        ratio = v / self.config.read_voltage_v
        # the ramp current scales with V_read like the array's; comparator offsets do not
        thresholds = self.thresholds * ratio
        if self.n_ramps > 1:  # the ramp of each column's tile
            thresholds = thresholds[torch.arange(self.columns) // self.config.tile_cols]
        z_current = z if ratio == 1.0 else z * ratio  # array current at this V_read
        return self._codes(z_current, thresholds)

    def forward(self, z: Tensor, read_voltage_v: float | None = None) -> Tensor:
        """``f`` quantized: the level of each code, shape and dtype of ``z``."""
        return self._output(z, self.codes(z, read_voltage_v))

    def extra_repr(self) -> str:
        return (f"fn={self.activation.name}, bits={self.bits}, columns={self.columns}, "
                f"ramps={self.n_ramps}")


class DigitalActivationADC(_ActivationADC):
    """The baseline: a linear N-bit converter of the pre-activation over
    ``[-config.preact_range, config.preact_range]`` (mid-rise, clipped; reference fixed at
    the design ``read_voltage_v``), then the exact activation of each code's centre value.

    Args: as :class:`NonlinearRampADC` (no ramp devices; ``fn`` any increasing function).
    """

    def __init__(self, fn, bits: int, config: CrossbarConfig, columns: int | None = None,
                 seed: int = 0) -> None:
        bits = check_bits(bits, "DigitalActivationADC")
        super().__init__(fn, bits, config, columns, seed, 2 * config.preact_range / 2**bits)
        k = torch.arange(1, 2**bits, dtype=torch.float64)
        self.register_buffer("thresholds", (-config.preact_range + k * self.lsb).view(1, -1))
        centres = -config.preact_range + (torch.arange(2**bits, dtype=torch.float64) + 0.5) \
            * self.lsb
        self.levels = self.activation.fn(centres)  # the lookup table

    def codes(self, z: Tensor, read_voltage_v: float | None = None) -> Tensor:
        """Output codes of ``z`` read at ``read_voltage_v``: the array current scales with
        it, the converter's reference does not."""
        v = self.config.read_voltage_v if read_voltage_v is None else \
            _check_voltage(read_voltage_v)
        ratio = v / self.config.read_voltage_v
        return self._codes(z if ratio == 1.0 else z * ratio, self.thresholds)

    def forward(self, z: Tensor, read_voltage_v: float | None = None) -> Tensor:
        """The activation of each code's centre value, shape and dtype of ``z``."""
        return self._output(z, self.codes(z, read_voltage_v))

    def extra_repr(self) -> str:
        return f"fn={self.activation.name}, bits={self.bits}, columns={self.columns}"


class ExactActivation(nn.Module):
    """Ideal converter: ``f(z)`` exactly (``adc_kind="ideal"``)."""

    def __init__(self, fn) -> None:
        super().__init__()
        self.activation = resolve(fn)

    def forward(self, z: Tensor, read_voltage_v: float | None = None) -> Tensor:
        return self.activation.fn(z)
