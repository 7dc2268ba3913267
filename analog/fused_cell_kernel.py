"""ctypes wrapper of the fused analog LSTM layer (``fused_cell.c``, compiled on first use).

:func:`forward` and :func:`backward` take time-major C-contiguous CPU tensors of one dtype
(float32 or float64). The C code calls torch's exported BLAS (``?gemm_``) for each step's
column product, the routine ``torch.mm`` calls in the reference, so without noise both
produce the same ADC codes. :mod:`analog.fused_cell` prepares the arguments.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from kernels import cpu_build

_P, _I = ctypes.c_void_p, ctypes.c_int


def _signatures() -> dict:
    out = {}
    for sfx, real in (("f32", ctypes.c_float), ("f64", ctypes.c_double)):
        out[f"fcell_fwd_{sfx}"] = ([_I] * 8 + [_P] * 3 + [real] + [_P] * 8 + [_I]
                                   + [real] * 4 + [_P] * 8, None)
        out[f"fcell_bwd_{sfx}"] = ([_I] * 3 + [_P] * 10, None)
    return out


LIBRARY = cpu_build.Library(
    "analog_cell", lambda: cpu_build.source_file(Path(__file__).with_name("fused_cell.c")),
    "fused analog LSTM kernel", _signatures())
"""The compiled kernel (built on first use; ``LIBRARY.error`` says why if impossible)."""


def unavailable_reason(dtype: torch.dtype) -> str | None:
    """Why the kernel cannot run for ``dtype`` (no compiler, no BLAS exported by torch), or
    None if it can."""
    if not LIBRARY.available():
        return f"{LIBRARY.what} unavailable: {LIBRARY.error}"
    if cpu_build.blas(dtype) is None:
        return f"torch exports no BLAS gemm for {dtype}"
    return None


@dataclass
class LayerArgs:
    """One programmed layer as the kernel reads it (tensors in the model's dtype unless
    noted).

    Attributes:
        weights: ``(Kp, Wd)`` effective normalized weights, rows ``[x, h, 1]`` then padding.
        scale: ``(Wd,)`` weight units per device equivalent; ``gain`` the drift gain.
        thresholds: ``(rows, L + 2)`` thresholds (offsets included) between -inf and +inf,
            rounded up to the model's dtype; None for exact activations.
        rows: ``(4H,)`` int32, the row of ``thresholds`` of each column (``4H`` rows, or one
            per group when all the group's columns share them).
        levels: ``(2, L + 1)`` output value of each code of the sigmoid and the tanh group.
        guess: ``(2,)`` int32, how the kernel guesses the codes of the sigmoid and the tanh
            group (0: from the sigmoid, 1: from the tanh, 2: linear ``(z - low) * inv`` with
            ``guess_low``, ``guess_inv`` ``(2,)``); the guess only speeds up the search.
        bias: whether the array has the bias row.
    """

    weights: Tensor
    scale: Tensor
    gain: float
    thresholds: Tensor | None
    rows: Tensor | None
    levels: Tensor | None
    guess: Tensor | None
    guess_low: Tensor | None
    guess_inv: Tensor | None
    bias: bool


@dataclass(frozen=True)
class Signal:
    """Input scaling, DAC and read noise: ``mode`` 0 (none), 1 (per-vector abs-max) or 2
    (fixed ``dac_range``, clipped); ``dac_lsb`` 0 for no DAC; ``noise_a`` the read-noise
    variance per squared input (``2 (read_noise_rel g_max / dG)^2``), 0 for none."""

    mode: int
    dac_range: float
    dac_lsb: float
    noise_a: float


def _p(t: Tensor | np.ndarray | None) -> ctypes.c_void_p:
    if t is None:
        return ctypes.c_void_p(None)
    return ctypes.c_void_p(t.ctypes.data if isinstance(t, np.ndarray) else t.data_ptr())


def forward(x: Tensor, layer: LayerArgs, signal: Signal, h0: Tensor, c0: Tensor,
            rng_state: np.ndarray | None, table: Tensor | None, save: bool
            ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """One layer: ``x (T, B, I)`` -> ``y, c (T, B, H)`` and, if ``save``, the gate values and
    the activation derivatives at the pre-activations ``(T, B, 4H)``. ``rng_state``: the four
    uint64 words of numpy's SFC64 state, advanced in place (None: no read noise)."""
    steps, batch, inputs = x.shape
    hidden = h0.shape[1]
    kp, wd = layer.weights.shape
    levels = 0 if layer.thresholds is None else layer.thresholds.shape[1] - 2
    y, c = x.new_empty(steps, batch, hidden), x.new_empty(steps, batch, hidden)
    gates = x.new_empty(steps, batch, 4 * hidden) if save else None
    deriv = x.new_empty(steps, batch, 4 * hidden) if save else None
    words = (batch * wd + 3) // 4 * 8 // x.element_size() + 8
    work = x.new_empty(batch * (kp + wd + 4 * hidden + 2) + 8 * hidden + words)
    lsb = signal.dac_lsb
    LIBRARY.function("fcell_fwd", x.dtype)(
        batch, steps, inputs, hidden, int(layer.bias), kp, wd, levels, _p(x),
        _p(layer.weights), _p(layer.scale), layer.gain, _p(layer.thresholds), _p(layer.rows),
        _p(layer.levels), _p(layer.guess), _p(layer.guess_low), _p(layer.guess_inv), _p(h0), _p(c0),
        signal.mode, signal.dac_range, lsb, 1.0 / lsb if lsb else 0.0, signal.noise_a,
        _p(rng_state), _p(table), _p(y), _p(c), _p(gates), _p(deriv), _p(work),
        ctypes.byref(cpu_build.blas(x.dtype)))
    return y, c, gates, deriv


def backward(w_hh: Tensor, c0: Tensor, c: Tensor, gates: Tensor, deriv: Tensor, dy: Tensor,
             dh: Tensor, dc: Tensor) -> tuple[Tensor, Tensor, Tensor]:
    """Straight-through BPTT of one layer: ``da (T, B, 4H)`` (gradient of the
    pre-activations), ``dh0`` and ``dc0`` ``(B, H)``, from ``dy (T, B, H)`` and the gradients
    ``dh, dc (B, H)`` of the final state."""
    steps, batch, hidden = c.shape
    dh, dc = dh.clone(), dc.clone()
    da = gates.new_empty(steps, batch, 4 * hidden)
    LIBRARY.function("fcell_bwd", c.dtype)(
        batch, steps, hidden, _p(w_hh), _p(c0), _p(c), _p(gates), _p(deriv), _p(dy), _p(dh),
        _p(dc), _p(da), ctypes.byref(cpu_build.blas(c.dtype)))
    return da, dh, dc
