"""Fused LSTM / GRU / Elman layers and the linear-recurrence scan, with BPTT backward.

Same call signatures as :mod:`kernels.reference` (plus keyword-only ``num_heads`` for
head-wise recurrent matrices, layout in :mod:`kernels.reference`, and ``path``):

- ``path="auto"`` (default): CUDA tensors run the Triton kernels of :mod:`kernels.triton_cells`
  (fp32/bf16; recurrent weights loaded once per program, time loop inside the kernel), CPU
  tensors the compiled C loops of :mod:`kernels.cpu` (fp32/fp64), except a large float32
  LSTM forward with no backward to follow, which goes to torch's oneDNN LSTM
  (:data:`ONEDNN_MIN_BATCH`, :func:`lstm_engine` says which engine runs). If the C library cannot be
  compiled, CPU calls warn once and run :mod:`kernels.reference`.
- ``path="triton"`` forces the Triton kernels (on CPU tensors only under
  ``TRITON_INTERPRET=1``, float32: this is how the tests run them without a GPU);
  ``path="cpu"`` forces the C loops; ``path="reference"`` runs :mod:`kernels.reference`
  (the package-wide fast-path convention of :mod:`kernels.contract`).

Only the recurrence is a custom :class:`torch.autograd.Function`; the input projection
``x @ W_ih^T + b`` is one ordinary matmul before it and the recurrent weight gradient one
matmul (einsum over heads) after the backward time loop, as in FlashRNN. Shapes: ``x``
``(B, T, I)``, states ``(B, H)``, ``y`` ``(B, T, H)`` (a transposed view of the kernels'
time-major output, as the kernels keep each step contiguous).
"""

from __future__ import annotations

import contextlib

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from kernels import checks, cpu, cpu_build, reference
from kernels.contract import REFERENCE, check_path

COMPILED_PATHS = ("cpu", "triton")
ONEDNN_MIN_BATCH = 16
ONEDNN_MIN_HIDDEN = 256
"""``path="auto"`` hands an LSTM forward that needs no backward (inference), float32 on the
CPU with one head, to torch's own LSTM (oneDNN) from this batch and hidden size on, where
oneDNN's forward kept up with or beat the C loop in ``qrnn bench classical``; below it the C
loop is as fast or faster. ``path="cpu"`` always runs the C loop."""


def lstm_engine(x: Tensor, hidden: int, num_heads: int, needs_grad: bool, path: str = "auto"
                ) -> str:
    """Which engine ``lstm_layer`` runs for these arguments: ``"onednn"``, ``"cpu"`` (the C
    loop, or the reference where it cannot be compiled), ``"triton"`` or ``"reference"``."""
    check_path(path, COMPILED_PATHS)
    if path != "auto":
        return path
    if x.is_cuda:
        return "triton"
    if (not needs_grad and x.dtype == torch.float32 and num_heads == 1
            and x.shape[0] >= ONEDNN_MIN_BATCH and hidden >= ONEDNN_MIN_HIDDEN):
        return "onednn"
    return "cpu"


def _impl(x: Tensor, path: str):
    """The kernel module for ``x`` and ``path``, or ``None`` for the reference."""
    if check_path(path, COMPILED_PATHS) == REFERENCE:
        return None
    if path == "triton" or (path == "auto" and x.is_cuda):
        if not x.is_cuda and x.dtype != torch.float32:
            raise TypeError(f"x has dtype {x.dtype}; the Triton interpreter on the CPU runs "
                            "float32 only")
        try:
            from kernels import triton_cells  # Triton is optional: import only when used
        except ImportError as err:
            raise ImportError(f"the fused path on {x.device} needs Triton ({err}); install "
                              "the [gpu] extra or use backend='torch'") from None
        return triton_cells
    if x.is_cuda:
        raise ValueError("path='cpu' needs CPU tensors, got x on " + str(x.device))
    if cpu.available():
        return cpu
    cpu_build.warn_once("cells", f"fused CPU kernels unavailable ({cpu_build.CELLS.error}); "
                        "running the reference loop instead")
    return None


def _weight_grad(dg: Tensor, h0: Tensor, y: Tensor, num_heads: int) -> Tensor:
    """``sum_{t,b} dg_t^T h_{t-1}`` in the compact head-wise layout ``(G*H, D)``; time-major
    ``dg (T, B, G*H)`` and ``y (T, B, H)``."""
    h_prev = torch.cat([h0.unsqueeze(0), y[:-1]], dim=0)
    n, hidden = y.shape[0] * y.shape[1], h0.shape[1]
    if num_heads == 1:
        return dg.reshape(n, -1).T @ h_prev.reshape(n, hidden)
    d = hidden // num_heads
    dw = torch.einsum("ngku,nkv->gkuv", dg.reshape(n, -1, num_heads, d),
                      h_prev.reshape(n, num_heads, d))
    return dw.reshape(-1, d)


class _LSTM(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, w, h0, c0, impl, save):
        y, c, acts = impl.lstm_forward(xp, w, h0, c0, save)
        ctx.impl, ctx.num_heads = impl, h0.shape[1] // w.shape[1]
        ctx.save_for_backward(w, h0, c0, y, c, acts)
        return y, c[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dc_t):
        w, h0, c0, y, c, acts = ctx.saved_tensors
        dg, dh0, dc0 = ctx.impl.lstm_backward(w, c0, c, acts, dy.contiguous(), dc_t.contiguous())
        dw = _weight_grad(dg, h0, y, ctx.num_heads) if ctx.needs_input_grad[1] else None
        return dg, dw, dh0, dc0, None, None


class _GRU(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, w, b_hh, h0, impl, save):
        y, acts = impl.gru_forward(xp, w, b_hh, h0, save)
        ctx.impl, ctx.num_heads = impl, h0.shape[1] // w.shape[1]
        ctx.save_for_backward(w, h0, y, acts)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        w, h0, y, acts = ctx.saved_tensors
        dgx, dgh, dh0 = ctx.impl.gru_backward(w, h0, y, acts, dy.contiguous())
        dw = _weight_grad(dgh, h0, y, ctx.num_heads) if ctx.needs_input_grad[1] else None
        db = dgh.sum(dim=(0, 1)) if ctx.needs_input_grad[2] else None
        return dgx, dw, db, dh0, None, None


class _Elman(torch.autograd.Function):
    @staticmethod
    def forward(ctx, xp, w, h0, relu, impl):
        y = impl.elman_forward(xp, w, h0, relu)
        ctx.impl, ctx.relu, ctx.num_heads = impl, relu, h0.shape[1] // w.shape[1]
        ctx.save_for_backward(w, h0, y)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        w, h0, y = ctx.saved_tensors
        dg, dh0 = ctx.impl.elman_backward(w, y, ctx.relu, dy.contiguous())
        dw = _weight_grad(dg, h0, y, ctx.num_heads) if ctx.needs_input_grad[1] else None
        return dg, dw, dh0, None, None


class _Scan(torch.autograd.Function):
    """``h_t = a_t h_{t-1} + b_t``; backward is the same scan run backwards in time."""

    @staticmethod
    def forward(ctx, a, b, h0, impl):
        y = impl.scan(a, b, h0)
        ctx.impl = impl
        ctx.save_for_backward(a, h0, y)
        return y

    @staticmethod
    @once_differentiable
    def backward(ctx, dy):
        a, h0, y = ctx.saved_tensors
        a_next = torch.cat([a[:, 1:], torch.zeros_like(a[:, :1])], dim=1)
        g = ctx.impl.scan(a_next.flip(1).contiguous(), dy.flip(1).contiguous(),
                          torch.zeros_like(h0)).flip(1)
        h_prev = torch.cat([h0.unsqueeze(1), y[:, :-1]], dim=1)
        return g * h_prev, g, a[:, 0] * g[:, 0], None


def _serial(impl, x: Tensor, gates: int, weight_hh: Tensor):
    """On the CPU path, keep MKL on this thread for the projection and the recurrence when the
    steps are small (see :data:`kernels.cpu.SERIAL_FLOPS`); a no-op on the Triton path."""
    if impl is not cpu:
        return contextlib.nullcontext()
    return cpu.serial_blas(2 * x.shape[0] * weight_hh.shape[0] * weight_hh.shape[1])


def _needs_grad(*tensors: Tensor | None) -> bool:
    """Whether a backward can follow (else the forward keeps no per-step activations)."""
    return torch.is_grad_enabled() and any(t is not None and t.requires_grad for t in tensors)


def _projection(x: Tensor, weight_ih: Tensor, *biases: Tensor | None) -> Tensor:
    """Time-major input projection ``(T, B, G*H)`` of ``x (B, T, I)``: one ``addmm`` on the
    time-major copy of ``x`` (faster than a matmul on the transposed view, which strides)."""
    batch, steps, inputs = x.shape
    xt = x.transpose(0, 1).reshape(steps * batch, inputs)
    present = [b for b in biases if b is not None]
    if not present:
        return (xt @ weight_ih.T).view(steps, batch, -1)
    bias = present[0] if len(present) == 1 else present[0] + present[1]
    return torch.addmm(bias, xt, weight_ih.T).view(steps, batch, -1)


def lstm_layer(x, h0, c0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, *,
               num_heads: int = 1, path: str = "auto") -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """Fused :func:`kernels.reference.lstm_layer`: ``y (B, T, H)``, final ``(h, c)`` ``(B, H)``."""
    checks.cell(x, {"h0": h0, "c0": c0}, weight_ih, weight_hh, bias_ih, bias_hh, 4, num_heads)
    save = _needs_grad(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)
    if lstm_engine(x, h0.shape[1], num_heads, save, path) == "onednn":
        return _onednn_lstm(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh)
    impl = _impl(x, path)
    if impl is None:
        return reference.lstm_layer(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh,
                                    num_heads=num_heads)
    with _serial(impl, x, 4, weight_hh):
        y, c_t = _LSTM.apply(_projection(x, weight_ih, bias_ih, bias_hh),
                             weight_hh.contiguous(), h0.contiguous(), c0.contiguous(), impl, save)
    return y.transpose(0, 1), (y[-1], c_t)


def _onednn_lstm(x, h0, c0, weight_ih, weight_hh, bias_ih, bias_hh):
    """One layer through torch's LSTM operator (oneDNN on the CPU), torch.nn's gate order."""
    weights = [weight_ih, weight_hh]
    biases = [b if b is not None else weight_ih.new_zeros(weight_ih.shape[0])
              for b in (bias_ih, bias_hh)]
    y, h, c = torch.lstm(x, (h0[None], c0[None]), [*weights, *biases], True, 1, 0.0, False,
                         False, True)
    return y, (h[0], c[0])


def gru_layer(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None, *,
              num_heads: int = 1, path: str = "auto") -> tuple[Tensor, Tensor]:
    """Fused :func:`kernels.reference.gru_layer`: ``y (B, T, H)`` and the final ``h (B, H)``."""
    hidden = checks.cell(x, {"h0": h0}, weight_ih, weight_hh, bias_ih, bias_hh, 3, num_heads)
    impl = _impl(x, path)
    if impl is None:
        return reference.gru_layer(x, h0, weight_ih, weight_hh, bias_ih, bias_hh,
                                   num_heads=num_heads)
    b_hh = x.new_zeros(3 * hidden) if bias_hh is None else bias_hh.contiguous()
    save = _needs_grad(x, h0, weight_ih, weight_hh, bias_ih, bias_hh)
    with _serial(impl, x, 3, weight_hh):
        y = _GRU.apply(_projection(x, weight_ih, bias_ih), weight_hh.contiguous(), b_hh,
                       h0.contiguous(), impl, save)
    return y.transpose(0, 1), y[-1]


def elman_layer(x, h0, weight_ih, weight_hh, bias_ih=None, bias_hh=None,
                nonlinearity: str = "tanh", *, num_heads: int = 1,
                path: str = "auto") -> tuple[Tensor, Tensor]:
    """Fused :func:`kernels.reference.elman_layer` (``tanh`` or ``relu``): ``y``, final ``h``."""
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity={nonlinearity!r}: allowed 'tanh' or 'relu'")
    checks.cell(x, {"h0": h0}, weight_ih, weight_hh, bias_ih, bias_hh, 1, num_heads)
    impl = _impl(x, path)
    if impl is None:
        return reference.elman_layer(x, h0, weight_ih, weight_hh, bias_ih, bias_hh,
                                     nonlinearity, num_heads=num_heads)
    with _serial(impl, x, 1, weight_hh):
        y = _Elman.apply(_projection(x, weight_ih, bias_ih, bias_hh), weight_hh.contiguous(),
                         h0.contiguous(), nonlinearity == "relu", impl)
    return y.transpose(0, 1), y[-1]


def linear_recurrence_scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None, *,
                           path: str = "auto") -> Tensor:
    """Fused :func:`kernels.scan.linear_recurrence_scan`: all ``h_t`` ``(B, T, H)`` of
    ``h_t = exp(log_a_t) h_{t-1} + exp(log_b_t)``, ``h0 (B, H)`` or ``None`` (zeros)."""
    checks.scan(log_a, log_b, h0)
    impl = _impl(log_b, path)
    if impl is None:
        from kernels.scan import linear_recurrence_scan as torch_scan

        return torch_scan(log_a, log_b, h0)
    h0 = log_b.new_zeros(log_b.shape[0], log_b.shape[2]) if h0 is None else h0.contiguous()
    return _Scan.apply(torch.exp(log_a).contiguous(), torch.exp(log_b).contiguous(), h0, impl)
