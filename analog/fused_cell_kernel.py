"""ctypes wrapper of the fused analog LSTM layer (``fused_cell.c``, compiled on first use).

:func:`forward` and :func:`backward` take time-major C-contiguous CPU tensors of one dtype
(float32 or float64); the C code calls torch's exported BLAS (``?gemm_``) for the two column
products of every step, the same routine ``torch.mm``/``torch.addmm`` call in the reference
(:mod:`analog.fused_cell_reference`), so without noise both produce the same ADC codes.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
from torch import Tensor

from analog.fused_cell_reference import LayerProgram, Signal
from kernels import cpu_build

_P, _I, _U64 = ctypes.c_void_p, ctypes.c_int, ctypes.c_uint64


def _signatures() -> dict:
    out = {}
    for sfx, real in (("f32", ctypes.c_float), ("f64", ctypes.c_double)):
        out[f"fcell_fwd_{sfx}"] = ([_I] * 5 + [_P] * 8 + [real] * 5
                                   + [_P, _U64, _U64] + [_P] * 6, None)
        out[f"fcell_bwd_{sfx}"] = ([_I] * 3 + [_P] * 10, None)
    return out


LIBRARY = cpu_build.Library(
    "analog_cell", lambda: Path(__file__).with_name("fused_cell.c").read_text(),
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


def _p(t: Tensor | None) -> ctypes.c_void_p:
    return ctypes.c_void_p(None if t is None else t.data_ptr())


def forward(x: Tensor, prog: LayerProgram, signal: Signal, h0: Tensor, c0: Tensor,
            word0: int, table: Tensor | None, save: bool
            ) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
    """One layer: ``x (T, B, I)`` -> ``y, c (T, B, H)`` and, if ``save``, the gate values and
    the activation derivatives at the pre-activations ``(T, B, 4H)``."""
    steps, batch, inputs = x.shape
    hidden = h0.shape[1]
    levels = 0 if prog.thresholds is None else prog.thresholds.shape[1]
    y, c = x.new_empty(steps, batch, hidden), x.new_empty(steps, batch, hidden)
    gates = x.new_empty(steps, batch, 4 * hidden) if save else None
    deriv = x.new_empty(steps, batch, 4 * hidden) if save else None
    work = x.new_empty(batch * (inputs + 1 + hidden + 8 * hidden + 2) + 16 * hidden + 16)
    noisy = signal.seed is not None
    thr = None
    if levels:  # each column's thresholds between the sentinels -inf and +inf
        inf = x.new_full((4 * hidden, 1), float("inf"))
        thr = torch.cat([-inf, prog.thresholds, inf], 1)
    tab = table.to(x.dtype).contiguous() if noisy else None
    lsb = signal.dac_lsb
    LIBRARY.function("fcell_fwd", x.dtype)(
        batch, steps, inputs, hidden, levels, _p(x), _p(prog.wxb), _p(prog.wh),
        _p(thr), _p(prog.levels), _p(prog.ks), _p(h0), _p(c0),
        signal.dac_range or 0.0, lsb, 1.0 / lsb if lsb else 0.0, signal.noise_a,
        signal.noise_c, _p(tab), signal.seed if noisy else 0, word0, _p(y), _p(c), _p(gates),
        _p(deriv), _p(work), ctypes.byref(cpu_build.blas(x.dtype)))
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
