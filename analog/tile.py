"""Tiled analog matrix-vector product.

A layer larger than one tile is split into ``R x C`` tiles (:func:`analog.devices.
tile_grid`). Every tile integrates its rows' currents on its columns; each tile's column
values are digitized by the configured ADC (partial sums per row tile) and the digital
periphery multiplies by the weight scales and adds the partial sums of the row tiles.

Signal chain of :func:`analog_mvm` for an input ``x`` (batch, in_features):

1. input scaling: ``dac_range=None`` divides each input vector by its largest magnitude
   (digital abs-max scaling, undone at the output); a fixed ``dac_range`` divides by it;
2. DAC: the scaled inputs (full scale 1 = ``read_voltage_v``) are clipped and quantized;
3. array: column values ``m = x_n @ W_n`` per row tile, in device equivalents
   (``I / (V_read * dG)``, see :mod:`analog.config`);
4. read noise plus comparator noise, one Gaussian draw per column value
   (:func:`standard_normal`): each device's conductance fluctuates by
   ``N(0, (read_noise_rel * g_max)^2)`` per read, so a column value gets variance
   ``2 (read_noise_rel * g_max / dG)^2 * sum_i x_n,i^2`` (two devices per weight; exact
   in distribution for independent Gaussian device noise) plus the ADC's
   ``noise_std^2``;
5. ADC per tile, then scale, sum over row tiles, undo input scaling, apply the drift
   compensation gain, add the digital bias. Linear ADCs
   (:class:`analog.converters.LinearAdc`) take a fast path that works in LSB units and
   folds the output levels into the scales; every other ADC goes through
   ``adc.convert``; tests hold the two paths together.

For a linear ADC on float32 CPU tensors without autograd, steps 1-2 and 4-5 run as two
compiled C passes around the ``bmm`` of step 3, :func:`analog.readout.inputs` and
:func:`analog.readout.readout` (``path="auto"`` or ``"compiled"``). The readout draws the
same distribution of noise (the quantiles of :func:`standard_normal`, picked by a
counter-based generator seeded from ``rng``) and produces the same ADC codes; the torch path
is the reference (``path="reference"``) and the fallback without a C compiler.

The input is any matrix whose columns are the layer's rows: RNN cells pass their
already-concatenated ``[x, h]``.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from torch import Tensor

from analog import readout as compiled_readout
from analog.config import CrossbarConfig
from analog.converters import Adc, Dac, LinearAdc
from analog.devices import ProgrammedLayer
from kernels.contract import REFERENCE, check_path
from kernels.cpu_build import warn_once


def check_input(x: Tensor, in_features: int) -> None:
    """Raise a one-line error unless ``x`` is a (batch, in_features) floating tensor."""
    if not isinstance(x, Tensor):
        raise TypeError(f"x must be a torch.Tensor, got {type(x).__name__}")
    if x.ndim != 2 or x.shape[1] != in_features:
        raise ValueError(f"x has shape {tuple(x.shape)}: expected (batch, {in_features})")
    if not x.is_floating_point():
        raise TypeError(f"x has dtype {x.dtype}: expected a floating dtype")


def scale_inputs(x: Tensor, config: CrossbarConfig) -> tuple[Tensor, Tensor | float]:
    """Normalize inputs to the DAC's full scale 1: returns ``(x / s, s)`` with ``s`` the
    per-row abs-max ``(batch, 1)`` when ``dac_range`` is None (all-zero rows stay zero),
    else ``dac_range``."""
    if config.dac_range is not None:
        return x / config.dac_range, config.dac_range
    s = x.abs().amax(dim=1, keepdim=True).clamp_min_(torch.finfo(x.dtype).tiny)
    return x / s, s


def _erfinv_uniform(shape: tuple[int, ...], rng: np.random.Generator) -> Tensor:
    """``erfinv((k + 1/2) / 32768)`` for ``k`` uniform on [-32768, 32767], float32: a
    standard normal sample divided by sqrt(2) (see :func:`standard_normal`)."""
    n = math.prod(shape)
    bits = torch.from_numpy(rng.bit_generator.random_raw(-(-n // 4)).view(np.int16)[:n])
    return bits.float().add_(0.5).mul_(1.0 / 32768.0).erfinv_().reshape(shape)


def standard_normal(shape: tuple[int, ...], rng: np.random.Generator) -> Tensor:
    """Standard normal float32 samples of ``shape`` by inverse-CDF sampling from 16
    random bits each: ``z = sqrt(2) * erfinv((k + 1/2) / 32768)`` with ``k`` uniform on
    [-32768, 32767], i.e. the N(0, 1) quantiles at the centres of 65536 equiprobable
    bins (tails cut at 4.4 sigma; variance 1 - 3e-4), four samples per 64-bit draw of
    ``rng``'s bit generator (cheaper than ``torch.randn``)."""
    return _erfinv_uniform(shape, rng).mul_(math.sqrt(2.0))


def analog_mvm(x: Tensor, layer: ProgrammedLayer, adc: Adc, config: CrossbarConfig,
               rng: np.random.Generator | None = None, bias: Tensor | None = None,
               path: str = "auto") -> Tensor:
    """Analog product ``x @ W.T`` of a programmed layer, plus the digital ``bias``.

    Args:
        x: inputs, shape ``(batch, in_features)`` (for an RNN cell, the concatenated
            ``[x_t, h_{t-1}]``), in the layer's input units.
        layer: the programmed state from :func:`analog.devices.program`.
        adc: the column converter (e.g. from :func:`analog.converters.make_adc`); its
            offsets must broadcast to ``(R, batch, C * tile_cols)``.
        config: the crossbar configuration the layer was programmed with.
        rng: source of read and comparator noise (needed when either is nonzero).
        bias: ``(out_features,)`` added digitally in output units, or None.
        path: ``"auto"`` runs the steps before and after the array product as compiled
            passes (:mod:`analog.readout`) where they apply (a linear ADC, float32 CPU
            tensors, no gradient to keep) and the torch path otherwise (warned once when
            only the C compiler is missing); ``"reference"`` forces the torch path;
            ``"compiled"`` forces the compiled passes (an error where they cannot run).

    Returns:
        ``(batch, out_features)`` in output units (weight units x input units).
    """
    check_input(x, layer.in_features)
    check_path(path)
    n_r, rows, _ = layer.weights.shape
    read_sigma = config.read_noise_rel * config.g_max_us / config.window_us
    noisy = read_sigma > 0 or adc.noise_std > 0
    if noisy and rng is None:
        raise ValueError("rng=None is not allowed with read or comparator noise: "
                         "expected a numpy.random.Generator")
    if path != REFERENCE and _fusable(x, adc, bias, path):
        return _fused_mvm(x, layer, adc, config, rng if noisy else None, read_sigma, bias)
    exact = config.dac_bits is None and config.dac_range is None and adc.kind == "ideal"
    # scaling is the identity when nothing between DAC and ADC depends on the input scale
    xn, s = (x, 1.0) if exact and not noisy else scale_inputs(x, config)
    if config.dac_range is not None:
        xn = xn.clamp_(-1.0, 1.0)  # abs-max scaled inputs are within [-1, 1] already
    if config.dac_bits is not None:
        xn = Dac(config.dac_bits, 1.0).quantize_(xn)
    batch = x.shape[0]
    if n_r * rows != layer.in_features:
        xn = torch.nn.functional.pad(xn, (0, n_r * rows - layer.in_features))
    xt = xn.reshape(batch, n_r, rows).transpose(0, 1)
    # a linear ADC is evaluated in LSB units: 1/LSB is folded into the small input tensor
    unit = 1.0 / adc.lsb if isinstance(adc, LinearAdc) else 1.0
    m = torch.bmm(xt * unit if unit != 1.0 else xt, layer.weights.to(x.dtype))
    if noisy:
        sigma = xt.square().sum(dim=2, keepdim=True).mul_(2 * read_sigma**2)
        sigma = sigma.add_(adc.noise_std**2).sqrt_().mul_(math.sqrt(2.0) * unit)
        m = m.addcmul_(_erfinv_uniform(tuple(m.shape), rng).to(m.dtype), sigma)
    scale = layer.scale.to(x.dtype)
    if isinstance(adc, LinearAdc):
        y = _digitize_linear(m, adc, scale)
    else:
        q = adc.convert(m)
        y = torch.mul(q[0], scale[0])
        for r in range(1, n_r):
            y = y.addcmul_(q[r], scale[r])
    if layer.out_features != y.shape[1]:
        y = y[:, : layer.out_features]
    if not isinstance(s, float) or s != 1.0:
        y = y.mul_(s)
    y = y.mul_(layer.output_gain) if layer.output_gain != 1.0 else y
    return y if bias is None else y + bias


def _fusable(x: Tensor, adc: Adc, bias: Tensor | None, path: str) -> bool:
    """Whether the compiled passes (:mod:`analog.readout`) apply; ``path="compiled"`` turns
    "no" into a one-line error, ``"auto"`` warns once if only the C compiler is missing."""
    why = None
    if not isinstance(adc, LinearAdc):
        why = f"the {adc.kind} ADC is not linear"
    elif not all(t.dtype == torch.float32 and t.is_cpu for t in (x, bias, adc.offset)
                 if isinstance(t, Tensor)):
        why = "the tensors are not all float32 on the CPU"
    elif torch.is_grad_enabled() and (x.requires_grad or (bias is not None
                                                          and bias.requires_grad)):
        why = "a gradient is needed"
    elif not compiled_readout.available():
        why = f"fused ADC kernel unavailable ({compiled_readout.LIBRARY.error})"
        if path == "auto":
            warn_once("adc", f"{why}; running the torch path instead")
    if why is not None and path == "compiled":
        raise ValueError(f"path='compiled' cannot run here: {why}; use path='auto' or "
                         "'reference'")
    return why is None


def _fused_mvm(x: Tensor, layer: ProgrammedLayer, adc: LinearAdc, config: CrossbarConfig,
               rng: np.random.Generator | None, read_sigma: float, bias: Tensor | None
               ) -> Tensor:
    """:func:`analog_mvm` for a linear ADC as input pass, ``bmm``, readout pass (see
    the compiled passes); ``rng`` is None without noise."""
    n_r, rows, _ = layer.weights.shape
    unit = 1.0 / adc.lsb
    noise = None if rng is None else (2 * read_sigma**2, adc.noise_std**2)
    xt, s, sigma = compiled_readout.inputs(x, n_r, rows, unit, config.dac_range, config.dac_bits,
                                      noise)
    m = torch.bmm(xt, layer.weights.to(x.dtype))
    seed = 0 if rng is None else int(rng.bit_generator.random_raw())
    return compiled_readout.readout(m, layer.scale.to(x.dtype), adc.lsb, adc.bits, adc.offset,
                               sigma, seed, s, layer.output_gain,
                               None if bias is None else bias.detach(), layer.out_features)


def _digitize_linear(m_lsb: Tensor, adc: LinearAdc, scale: Tensor) -> Tensor:
    """Fast path of ``sum_r adc.convert(m_r) * scale_r`` for column values already in LSB
    units, ``m_lsb`` (R, batch, width), overwritten. Same codes as ``adc.convert``:
    ``floor(m - offset / LSB)`` clipped to [-2^(N-1), 2^(N-1) - 1]; the output level
    ``(code + 1/2) * LSB`` is folded into the scales."""
    if isinstance(adc.offset, Tensor) or adc.offset:
        m_lsb = m_lsb.sub_(adc.offset / adc.lsb)
    half = float(2 ** (adc.bits - 1))
    codes = m_lsb.floor_().clamp_(-half, half - 1.0)
    k = scale * adc.lsb
    y = torch.mul(codes[0], k[0])
    for r in range(1, codes.shape[0]):
        y = y.addcmul_(codes[r], k[r])
    return y.add_(k.sum(dim=0).mul_(0.5))
