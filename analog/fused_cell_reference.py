"""The analog LSTM layer as a plain per-step torch loop: the reference of the fused C kernel.

One layer on one crossbar array of ``K = I + H + 1`` rows (inputs ``x``, recurrent ``h``, a
bias row driven at 1) and ``4H`` columns (gates i, f, g, o in ``torch.nn.LSTM`` order). Per step
``t`` and batch row ``b`` (units in :mod:`analog.config`: column values in device
equivalents):

1. input scaling: ``s = dac_range`` (inputs clipped to [-1, 1]) or, with ``dac_range=None``,
   the abs-max ``s = max(|x_t|, |h_{t-1}|, 1)`` of the driven vector ``[x_t, h_{t-1}, 1]``;
2. DAC: ``k = round(u / lsb)``, ``u = k * lsb`` for ``u = [x_t, 1, h_{t-1}] / s``;
3. column values ``m = u_xb @ Wxb + u_h @ Wh`` (one analog sum on the whole column: every
   row of the layer on one array, so the pre-activation is converted once; the digital
   model adds the x-and-bias rows and the h rows as two products);
4. read plus comparator noise ``m += sg * z``, ``sg = sqrt(nA * sum k^2 + nC) * sqrt(2)``
   with ``z`` from :func:`noise_values` (the ``sum k^2`` of integer DAC codes is exact, so
   both paths get the same ``sg``);
5. the nonlinear ramp ADC: ``v = m * s`` (the ramp runs at ``1/s`` of full scale, as the
   inputs do) and the gate value is ``levels[j, #{k: thresholds[j, k] <= v}]``
   (``searchsorted``, thresholds per column with the column's weight scale folded in); with
   no converter (``thresholds`` None) the exact activation of ``a = v * ks[j]``;
6. the digital cell update ``c = f * c + i * g``, ``h = o * tanh(c)``.

Training (straight-through): the gate value is the converter's output, its gradient that of
the activation at the analog pre-activation ``a = v * ks`` times the gradient of the float
layer's ``a_float = x W_ih^T + h W_hh^T + b`` (programming, DAC and noise are not
differentiated).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

GAMMA = np.uint64(0x9E3779B97F4A7C15)


@dataclass
class LayerProgram:
    """One programmed LSTM layer (tensors in the model's dtype).

    Attributes:
        wxb: ``(I + 1, 4H)`` effective normalized weights of the input rows and the bias row.
        wh: ``(H, 4H)`` effective normalized weights of the recurrent rows.
        thresholds: ``(4H, L)`` increasing per-column thresholds in units of ``v = m * s``
            (weight scale, drift gain and comparator offset folded in), ``L = 2^bits - 1``;
            None: exact activations.
        levels: ``(4H, L + 1)`` output value of each code, or None.
        ks: ``(4H,)`` weight units per unit of ``v`` (pre-activation ``a = v * ks``).
    """

    wxb: Tensor
    wh: Tensor
    thresholds: Tensor | None
    levels: Tensor | None
    ks: Tensor


@dataclass(frozen=True)
class Signal:
    """The per-step signal chain settings shared by both paths.

    Attributes:
        dac_range: fixed input range, or None for per-vector abs-max scaling.
        dac_lsb: DAC step (full scale 1), or 0.0 for no DAC rounding.
        noise_a, noise_c: ``sg^2 / 2 = noise_a * sum k^2 + noise_c`` (device equivalents^2).
        seed: 64-bit counter seed of this call's noise, or None for no noise.
    """

    dac_range: float | None
    dac_lsb: float
    noise_a: float
    noise_c: float
    seed: int | None


def mix64(z: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on a uint64 array (wrapping arithmetic)."""
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def noise_values(seed: int, word0: int, steps: int, batch: int, hidden: int,
                 table: Tensor) -> Tensor:
    """``z (T, B, 4H)``: ``table[16 bits]`` of the counter stream; word ``n`` is
    ``mix64((seed + n) * GAMMA)`` and feeds four columns, row ``(t, b)`` starts at word
    ``word0 + (t * B + b) * H``."""
    n = np.arange(steps * batch * hidden, dtype=np.uint64)
    words = mix64((n + np.uint64((seed + word0) % 2**64)) * GAMMA)
    lanes = torch.from_numpy(words.astype("<u8").view(np.uint16).astype(np.int64))
    return table[lanes].reshape(steps, batch, 4 * hidden)


def _dac(u: Tensor, signal: Signal) -> tuple[Tensor, Tensor]:
    """``(DAC(u), sum of squared codes per row)`` for scaled inputs ``u (B, n)``."""
    if signal.dac_range is not None:
        u = u.clamp(-1.0, 1.0)
    if signal.dac_lsb == 0.0:
        return u, u.square().sum(1)
    k = u.mul(1.0 / signal.dac_lsb).round_()
    return k.mul(signal.dac_lsb), k.square().sum(1)


def _gates(v: Tensor, prog: LayerProgram) -> Tensor:
    """Converter output of ``v (B, 4H)``: levels of the per-column codes, or the exact
    activations of ``v * ks``."""
    if prog.thresholds is None:
        return _activate(v * prog.ks, v.shape[1] // 4)
    codes = torch.searchsorted(prog.thresholds, v.t().contiguous(), right=True)
    return prog.levels.gather(1, codes).t()


def _activate(a: Tensor, hidden: int) -> Tensor:
    """The LSTM gate activations of ``a (B, 4H)``: sigmoid for i, f, o, tanh for g."""
    return torch.cat([torch.sigmoid(a[:, :2 * hidden]), torch.tanh(a[:, 2 * hidden:3 * hidden]),
                      torch.sigmoid(a[:, 3 * hidden:])], dim=1)


def _ste(value: Tensor, grad_source: Tensor) -> Tensor:
    """``value`` exactly, with the gradient of ``grad_source``."""
    return value.detach() + (grad_source - grad_source.detach())


def layer(x: Tensor, prog: LayerProgram, signal: Signal, h0: Tensor, c0: Tensor,
          word0: int = 0, table: Tensor | None = None,
          weights: tuple[Tensor, Tensor, Tensor] | None = None
          ) -> tuple[Tensor, Tensor, Tensor]:
    """One layer over a sequence.

    Args:
        x: ``(B, T, I)``.
        prog: the programmed layer.
        signal: DAC and noise settings (``signal.seed`` None: no noise).
        h0, c0: ``(B, H)``.
        word0: first counter word of this layer's noise.
        table: the 65536 noise values (:func:`analog.readout.normal_table`), needed with noise.
        weights: ``(W_ih (4H, I), W_hh (4H, H), bias (4H,))`` float weights for the
            straight-through gradient, or None (no gradient).

    Returns:
        ``y (B, T, H)``, final ``h`` and ``c`` ``(B, H)``.
    """
    batch, steps, _ = x.shape
    hidden = h0.shape[1]
    z = None
    if signal.seed is not None:
        z = noise_values(signal.seed, word0, steps, batch, hidden, table.to(x.dtype))
    h, c, ones, ys = h0, c0, x.new_ones(batch, 1), []
    for t in range(steps):
        xt = x[:, t]
        hd = h.detach()
        if signal.dac_range is not None:
            s = x.new_full((batch,), signal.dac_range)
        else:
            s = torch.cat([xt.detach(), hd, ones], 1).abs().amax(1)
        u, ksum = _dac(torch.cat([xt.detach(), ones, hd], 1) / s[:, None], signal)
        m = torch.mm(u[:, :-hidden].contiguous(), prog.wxb)
        m = torch.addmm(m, u[:, -hidden:].contiguous(), prog.wh)
        if z is not None:
            sg = ksum.mul(signal.noise_a).add_(signal.noise_c).sqrt_().mul_(math.sqrt(2.0))
            m = m + sg[:, None] * z[t]
        v = m * s[:, None]
        g = _gates(v, prog)
        if weights is not None:
            w_ih, w_hh, bias = weights
            a = _ste(v * prog.ks, torch.addmm(bias, xt, w_ih.t()) + h @ w_hh.t())
            g = _ste(g, _activate(a, hidden))
        c = g[:, hidden:2 * hidden] * c + g[:, :hidden] * g[:, 2 * hidden:3 * hidden]
        h = g[:, 3 * hidden:] * torch.tanh(c)
        ys.append(h)
    return torch.stack(ys, 1), h, c
