"""CPU fast path: the recurrences of :mod:`kernels.reference` as compiled C loops.

Each function takes C-contiguous CPU tensors of one dtype (float32 or float64), already
validated by :mod:`kernels.fused`, and returns new tensors. Sequences are time-major (each
step one contiguous block): ``xp`` the input projection ``(T, B, G*H)``, ``w`` the compact
head-wise recurrent matrix ``(G*H, D)`` with ``D = H / num_heads``, states ``(B, H)``,
outputs ``(T, B, H)``. :func:`scan` alone is batch first, ``(B, T, H)``.

With one head the recurrent matmul calls torch's exported BLAS (MKL's packed ``sgemm_compute``
for float32, ``?gemm_`` otherwise; ``qrnn bench classical`` measures the two against each
other). Head-wise (block-diagonal) matrices always use the C loop. When a step's recurrent matmul is
below :data:`SERIAL_FLOPS` (about 10 us on one core), MKL runs on the calling thread alone for
the call (``MKL_Set_Num_Threads_Local(1)``, see :func:`serial_blas`): a fork/join per step
costs as much as such a step, and far more when another process holds the other core.
"""

from __future__ import annotations

import ctypes
from contextlib import contextmanager

import torch
from torch import Tensor

from kernels import cpu_build

SERIAL_FLOPS = 1 << 20  # per-step recurrent flops (2 B G H D) below which MKL runs serially
_LOCAL_THREADS = cpu_build.mkl_local_threads()


def available() -> bool:
    """Whether the C library is (or can be) compiled and loaded."""
    return cpu_build.CELLS.available()


def _p(t: Tensor | None) -> ctypes.c_void_p:
    """Address of ``t``'s data; the caller keeps ``t`` alive for the duration of the call."""
    return ctypes.c_void_p(None if t is None else t.data_ptr())


def _transposed(w: Tensor, gates: int, hidden: int) -> Tensor:
    """``WT (NH, D, G, D)`` with ``WT[k, v, g, u] = w[g*H + k*D + u, v]``: each head's block
    transposed, so the forward product is a run of contiguous axpys (``W^T`` for one head)."""
    d = w.shape[1]
    return w.view(gates, hidden // d, d, d).permute(1, 3, 0, 2).contiguous()


@contextmanager
def serial_blas(flops_per_step: int):
    """Within the block, MKL runs on the calling thread alone if ``flops_per_step`` (of the
    recurrent matmul, ``2 B G H D``) is below :data:`SERIAL_FLOPS`; the setting is restored."""
    if _LOCAL_THREADS is None or flops_per_step >= SERIAL_FLOPS:
        yield
        return
    previous = _LOCAL_THREADS(1)
    try:
        yield
    finally:
        _LOCAL_THREADS(previous)


def _cell(name: str, dtype: torch.dtype, gates: int, b: int, t: int, h: int, d: int,
          *args) -> None:
    """Run the C function ``name(B, T, H, D, *args)``; serially in MKL if the steps are small."""
    fn = cpu_build.CELLS.function(name, dtype)
    with serial_blas(2 * b * gates * h * d):
        fn(b, t, h, d, *args)


def _gemm(hidden: int, head: int, dtype: torch.dtype):
    """``byref`` of torch's BLAS pointers for one dense head, else ``None`` (the C loop)."""
    if head != hidden:
        return None
    blas = cpu_build.blas(dtype)
    return None if blas is None else ctypes.byref(blas)


def lstm_forward(xp: Tensor, w: Tensor, h0: Tensor, c0: Tensor, save: bool = True
                 ) -> tuple[Tensor, Tensor, Tensor | None]:
    """``y, c (T, B, H)`` and, if ``save``, the gate activations ``(T, B, 4H)`` (i, f, g, o)."""
    t, b, h4 = xp.shape
    h = h4 // 4
    y, c = xp.new_empty(t, b, h), xp.new_empty(t, b, h)
    acts = torch.empty_like(xp) if save else xp.new_empty(b, h4)
    tmp, wt = xp.new_empty(b + 1, h4), _transposed(w, 4, h)
    _cell("lstm_fwd", xp.dtype, 4, b, t, h, w.shape[1], _p(xp), _p(wt), _p(h0), _p(c0), _p(y),
          _p(c), _p(acts), int(save), _p(tmp), _gemm(h, w.shape[1], xp.dtype))
    return y, c, acts if save else None


def lstm_backward(w: Tensor, c0: Tensor, c: Tensor, acts: Tensor, dy: Tensor, dc_t: Tensor
                  ) -> tuple[Tensor, Tensor, Tensor]:
    """Gradient of the gate pre-activations ``(T, B, 4H)``, ``dh0`` and ``dc0`` ``(B, H)``.

    ``dy (T, B, H)`` includes the gradient of the final ``h``; ``dc_t (B, H)``.
    """
    t, b, h = c.shape
    dh, dc, dg = torch.zeros_like(c0), dc_t.clone(), torch.empty_like(acts)
    _cell("lstm_bwd", c.dtype, 4, b, t, h, w.shape[1], _p(w), _p(c0), _p(c), _p(acts), _p(dy),
          _p(dh), _p(dc), _p(dg), _gemm(h, w.shape[1], c.dtype))
    return dg, dh, dc


def gru_forward(xp: Tensor, w: Tensor, b_hh: Tensor, h0: Tensor, save: bool = True
                ) -> tuple[Tensor, Tensor | None]:
    """``y (T, B, H)`` and, if ``save``, activations ``(T, B, 4H)`` (r, z, n, W_hn h + b_hn)."""
    t, b, h3 = xp.shape
    h = h3 // 3
    y, tmp, wt = xp.new_empty(t, b, h), xp.new_empty(b + 1, h3), _transposed(w, 3, h)
    acts = xp.new_empty(t, b, 4 * h) if save else xp.new_empty(b, 4 * h)
    _cell("gru_fwd", xp.dtype, 3, b, t, h, w.shape[1], _p(xp), _p(wt), _p(b_hh), _p(h0), _p(y),
          _p(acts), int(save), _p(tmp), _gemm(h, w.shape[1], xp.dtype))
    return y, acts if save else None


def gru_backward(w: Tensor, h0: Tensor, y: Tensor, acts: Tensor, dy: Tensor
                 ) -> tuple[Tensor, Tensor, Tensor]:
    """Gradients w.r.t. the input projection and ``h @ W^T + b_hh`` ``(T, B, 3H)``, and ``dh0``."""
    t, b, h = y.shape
    dh = torch.zeros_like(h0)
    dgx, dgh = y.new_empty(t, b, 3 * h), y.new_empty(t, b, 3 * h)
    _cell("gru_bwd", y.dtype, 3, b, t, h, w.shape[1], _p(w), _p(h0), _p(y), _p(acts), _p(dy),
          _p(dh), _p(dgx), _p(dgh), _gemm(h, w.shape[1], y.dtype))
    return dgx, dgh, dh


def elman_forward(xp: Tensor, w: Tensor, h0: Tensor, relu: bool) -> Tensor:
    """``y (T, B, H)``."""
    t, b, h = xp.shape
    y, tmp, wt = torch.empty_like(xp), xp.new_empty(b + 1, h), _transposed(w, 1, h)
    _cell("elman_fwd", xp.dtype, 1, b, t, h, w.shape[1], _p(xp), _p(wt), _p(h0), int(relu), _p(y),
          _p(tmp), _gemm(h, w.shape[1], xp.dtype))
    return y


def elman_backward(w: Tensor, y: Tensor, relu: bool, dy: Tensor) -> tuple[Tensor, Tensor]:
    """Gradient of the pre-activations ``(T, B, H)`` and ``dh0 (B, H)``."""
    t, b, h = y.shape
    dh, dg = y.new_zeros(b, h), torch.empty_like(y)
    _cell("elman_bwd", y.dtype, 1, b, t, h, w.shape[1], _p(w), _p(y), int(relu), _p(dy), _p(dh),
          _p(dg), _gemm(h, w.shape[1], y.dtype))
    return dg, dh


def scan(a: Tensor, b: Tensor, h0: Tensor) -> Tensor:
    """All ``h_t = a_t * h_{t-1} + b_t`` ``(B, T, H)`` for ``a, b (B, T, H)``, ``h0 (B, H)``."""
    bsz, t, h = b.shape
    y = torch.empty_like(b)
    cpu_build.CELLS.function("scan_fwd", b.dtype)(bsz, t, h, _p(a), _p(b), _p(h0), _p(y))
    return y
