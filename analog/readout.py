"""Fused input side and ADC readout of a tiled analog matrix-vector product, in compiled C.

Around the array product ``m = xt @ W`` (``torch.bmm``, column values of every row tile in
ADC LSB units) the analog chain of :func:`analog.tile.analog_mvm` is some 35 small torch
operations. :func:`inputs` does the input side in one pass over ``x`` (scaling, clipping,
DAC rounding, tiling, the noise sigma of each row tile); :func:`readout` does the rest in
one pass over ``m`` (Gaussian read and comparator noise, comparator offset, linear ADC floor
and clip, the scaled sum over row tiles, the undoing of the input scaling, the gain and the
bias). Both are C functions of ``analog/adc.c`` (shipped as package data), compiled on first
use by :class:`kernels.cpu_build.Library`. The noise is inverse-CDF sampled from
:func:`normal_table` with 16 bits of a counter-based SplitMix64 generator per value, so a
call is reproducible from its ``seed`` (and independent of how the work is split). The
functions are single-threaded: OpenMP over the batch lost badly whenever another process
held the other core (and put a second OpenMP runtime next to torch's).

:mod:`analog.tile` prepares the arguments and keeps the torch path as reference
(``path="reference"``) and as fallback (used when :func:`available` is False).
"""

from __future__ import annotations

import ctypes
import math
from pathlib import Path

import torch
from torch import Tensor

from kernels import cpu_build

_PTR, _I32, _F32 = ctypes.c_void_p, ctypes.c_int, ctypes.c_float
LIBRARY = cpu_build.Library("adc", lambda: Path(__file__).with_name("adc.c").read_text(),
                            "fused ADC kernel", {
    "adc_readout_f32": ([_I32, _I32, _I32, _I32, _PTR, _PTR, _PTR, ctypes.c_uint64, _PTR, _F32,
                         _F32, _PTR, _F32, _PTR, _F32, _PTR, _PTR], ctypes.c_int),
    "adc_inputs_f32": ([_I32, _I32, _I32, _I32, _PTR, *[_F32] * 7, _PTR, _PTR, _PTR], None),
})
"""The compiled kernels (built on first use; ``LIBRARY.error`` says why if impossible)."""
_TABLE: Tensor | None = None


def available() -> bool:
    """Whether the fused kernels are (or can be) compiled and loaded."""
    return LIBRARY.available()


def normal_table() -> Tensor:
    """The 65536 values ``erfinv((k + 1/2) / 32768)``, ``k = -32768 .. 32767``, float32: the
    quantiles of N(0, 1/2) at the centres of 65536 equiprobable bins (a uniform pick is a
    standard normal sample divided by sqrt(2), tails cut at 4.4 sigma). Built once."""
    global _TABLE
    if _TABLE is None:
        k = torch.arange(-32768, 32768, dtype=torch.float32)
        _TABLE = k.add_(0.5).mul_(1.0 / 32768.0).erfinv_()
    return _TABLE


def _ptr(t: Tensor | None) -> ctypes.c_void_p:
    return ctypes.c_void_p(None if t is None else t.data_ptr())


def _check(name: str, t: Tensor | None, shape: tuple[int, ...]) -> Tensor | None:
    """``t`` as a contiguous float32 CPU tensor of ``shape`` (any shape with that many
    elements is reshaped), or a one-line error."""
    if t is None:
        return None
    if not isinstance(t, Tensor) or t.dtype != torch.float32 or not t.is_cpu:
        what = f"{t.dtype} on {t.device}" if isinstance(t, Tensor) else type(t).__name__
        raise TypeError(f"fused ADC kernel: {name} is {what}: expected a float32 CPU tensor")
    if t.shape == shape and t.is_contiguous():
        return t
    if t.numel() != math.prod(shape):
        raise ValueError(f"fused ADC kernel: {name} has shape {tuple(t.shape)}: expected {shape}")
    return t.reshape(shape).contiguous()


def inputs(x: Tensor, tiles: int, rows: int, unit: float, dac_range: float | None,
           dac_bits: int | None, noise: tuple[float, float] | None = None
           ) -> tuple[Tensor, Tensor, Tensor | None]:
    """Input side of the tiled product in one pass: scaling, clipping, DAC, tiling.

    Args:
        x: inputs ``(B, F)`` float32, ``F <= tiles * rows``.
        tiles, rows: number of row tiles ``R`` and rows per tile.
        unit: factor applied to the DAC outputs (``1 / ADC LSB``).
        dac_range: divide by it and clip to [-1, 1]; None: divide each row by its largest
            magnitude (at least the smallest normal float).
        dac_bits: signed mid-tread DAC over [-1, 1] (2..16 bits), or None for none.
        noise: ``(a, c)``: also return ``sigma[r, b] = sqrt(a * sum_i q_i^2 + c) *
            sqrt(2) * unit`` over the DAC outputs ``q`` of row tile ``r``; None: no sigma.

    Returns:
        ``xt (R, B, rows)`` (the DAC outputs times ``unit``, zero-padded), ``s (B,)`` (the
        divisor of each row) and ``sigma (R, B)`` or None.
    """
    lib = LIBRARY.require()
    if not isinstance(x, Tensor) or x.ndim != 2 or not 0 < x.shape[1] <= tiles * rows:
        shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
        raise ValueError(f"adc inputs x has shape {shape}: expected (B, F) with "
                         f"0 < F <= {tiles} * {rows}")
    b, f = x.shape
    x = _check("x", x, (b, f))
    if dac_range is not None and not dac_range > 0:
        raise ValueError(f"adc inputs dac_range={dac_range!r} is not allowed: expected > 0")
    if dac_bits is not None and (isinstance(dac_bits, bool) or not isinstance(dac_bits, int)
                                 or not 2 <= dac_bits <= 16):
        raise ValueError(f"adc inputs dac_bits={dac_bits!r} is not allowed: expected an "
                         "integer in [2, 16] or None")
    lsb = 0.0 if dac_bits is None else 1.0 / (2 ** (dac_bits - 1) - 1)
    xt, s = x.new_empty(tiles, b, rows), x.new_empty(b)
    sigma = None if noise is None else x.new_empty(tiles, b)
    a, c = (0.0, 0.0) if noise is None else noise
    lib.adc_inputs_f32(b, f, tiles, rows, _ptr(x), 0.0 if dac_range is None else dac_range,
                       lsb, 1.0 / lsb if lsb else 0.0, unit, a, c, math.sqrt(2.0) * unit,
                       _ptr(xt), _ptr(s), _ptr(sigma))
    return xt, s, sigma


def readout(m: Tensor, scale: Tensor, lsb: float, bits: int, offset: Tensor | float = 0.0,
            sigma: Tensor | None = None, seed: int = 0, s: Tensor | None = None,
            gain: float = 1.0, bias: Tensor | None = None, n: int | None = None) -> Tensor:
    """``y[b, j] = (sum_r clamp(floor(m[r,b,j] + sigma[r,b] z - offset[r,j] / lsb),
    -2^(bits-1), 2^(bits-1) - 1) k[r,j] + kc[j]) * s[b] * gain + bias[j]`` for ``j < n``,
    with ``k = scale * lsb`` and ``kc = sum_r k[r] / 2`` (output levels at code centres).

    Args:
        m: column values in LSB units, float32 ``(R, B, W)``.
        scale: output units per column-value unit for each row tile and column ``(R, W)``
            (any shape of that size, e.g. ``(R, 1, W)``).
        lsb: ADC step in column-value units.
        bits: ADC resolution, 1..16.
        offset: comparator offset in column-value units, a float or ``(R, W)``.
        sigma: per ``(R, B)``, sqrt(2) times the noise standard deviation in LSB units (the
            values of :func:`normal_table` have standard deviation 1/sqrt(2)), or None for
            no noise.
        seed: 64-bit seed of the noise (ignored without ``sigma``).
        s: per-row output scale ``(B,)``, or None for 1.
        gain: global output gain.
        bias: ``(n,)`` or None.
        n: number of output columns (default ``W``).

    Returns:
        ``(B, n)`` float32.
    """
    lib = LIBRARY.require()
    if not isinstance(m, Tensor) or m.ndim != 3:
        raise ValueError(f"adc readout m must be a (R, B, W) tensor, got "
                         f"{tuple(m.shape) if isinstance(m, Tensor) else type(m).__name__}")
    r, b, w = m.shape
    n = w if n is None else n
    if not 0 < n <= w:
        raise ValueError(f"adc readout n={n} is not allowed: expected 1..{w}")
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 16:
        raise ValueError(f"adc readout bits={bits!r} is not allowed: expected an integer in "
                         "[1, 16]")
    if not lsb > 0:
        raise ValueError(f"adc readout lsb={lsb!r} is not allowed: expected > 0")
    if not 0 <= seed < 2**64:
        raise ValueError(f"adc readout seed={seed} is not allowed: expected 0 <= seed < 2^64")
    m, scale = _check("m", m, (r, b, w)), _check("scale", scale, (r, w))
    off = _check("offset", offset, (r, w)) if isinstance(offset, Tensor) else None
    sig = _check("sigma", sigma, (r, b))
    s = m.new_ones(b) if s is None else _check("s", s, (b,))
    bias = _check("bias", bias, (n,))
    y = m.new_empty(b, n)
    failed = lib.adc_readout_f32(
        r, b, w, n, _ptr(m), _ptr(sig), _ptr(normal_table()), seed, _ptr(off),
        0.0 if off is not None else offset / lsb, float(2 ** (bits - 1)), _ptr(scale), lsb,
        _ptr(s), gain, _ptr(bias), _ptr(y))
    if failed:
        raise MemoryError(f"adc readout could not allocate {(2 * r + 1) * w} floats")
    return y
