"""Fused QFWP sequence: slow programmer, fast-weight accumulation and circuits in one C call.

:class:`FusedQFWP` is one autograd node for a whole :class:`~qrnn.qfwp.QFWP` sequence on the
``"fast"`` backend (exact values). Its forward (:file:`qfwp_kernel.c`, float32 and float64)
runs, per batch row, the encoder and both heads, ``Theta_t = decay * Theta_{t-1} +
outer(L_t, Q_t)``, and every step's circuit as a real state vector of ``2**n_qubits``
amplitudes (H, RY and CNOT are real gates), reading ``<Z_0..Z_{m-1}>``. Its backward recomputes
the programmer, runs the circuit and its adjoint pass only for the steps whose output gradient
is not zero (a head that reads the last step costs one circuit per sample, not ``T``), and
carries ``d loss / d Theta_t`` back in time into the six Linear tensors, ``x`` and
``Theta_0``. The per-step torch path of :class:`~qrnn.qfwp.QFWP` (``path="reference"``) is what
the tests hold it to.

Shapes: ``x (B, T, input_size)``; ``theta0 (B, n_layers, n_qubits)`` or None (zeros); the
encoder ``(latent, input_size)`` + ``(latent,)``, the layer head ``(n_layers, latent)`` +
``(n_layers,)``, the qubit head ``(n_qubits, latent)`` + ``(n_qubits,)``; returns ``y (B, T,
n_outputs)`` and ``Theta_{T-1} (B, n_layers, n_qubits)``. Angles in radians.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from kernels import cpu_build
from kernels.contract import AUTO, REFERENCE, check_path

PATHS = ("cpu",)
"""Compiled choices of ``path`` (:func:`kernels.contract.check_path`)."""
MAX_QUBITS = 16
"""Largest ``n_qubits`` the kernel takes (``FWP_MAX_QUBITS`` in :file:`qfwp_kernel.c`)."""
_FLOAT = "#define REAL float\n#define SFX(name) name##_f32\n#define MATH(fn) fn##f\n"
_UNDEF = "\n#undef REAL\n#undef SFX\n#undef MATH\n"


def _source() -> str:
    """The C text: a float32 copy of :file:`qfwp_kernel.c`, then the file as written (float64)."""
    text = cpu_build.source_file(Path(__file__).with_name("qfwp_kernel.c"))
    return _FLOAT + text + _UNDEF + text


_PTR, _I32 = ctypes.c_void_p, ctypes.c_int
_SIZES = [_I32] * 7
LIBRARY = cpu_build.Library("qfwp", _source, "fused QFWP kernels", {
    f"{name}_{suffix}": (_SIZES + [real] + [_PTR] * count, _I32)
    for name, count in (("qfwp_forward", 10), ("qfwp_backward", 18))
    for suffix, real in (("f32", ctypes.c_float), ("f64", ctypes.c_double))
})
"""The compiled kernels (built on first use; ``LIBRARY.error`` says why if impossible)."""


def resolve_path(path: str, x: Tensor) -> str:
    """``"cpu"`` or ``"reference"`` for ``path`` (validated) and input ``x``.

    ``"auto"``: the kernel for CPU tensors when it compiles, else one warning and the
    reference; ``"cpu"``: the kernel, or a one-line error if it cannot run."""
    path = check_path(path, PATHS)
    if path == AUTO:
        if not x.is_cpu:
            return REFERENCE
        if LIBRARY.available():
            return "cpu"
        cpu_build.warn_once("qfwp", f"the fused QFWP kernels are unavailable ({LIBRARY.error}); "
                            "QFWP runs its per-step torch path")
        return REFERENCE
    if path == "cpu":
        LIBRARY.require()
        if not x.is_cpu:
            raise ValueError(f"path='cpu' runs on the CPU; x is on {x.device}")
    return path


def _ptr(t: Tensor | None):
    return None if t is None else t.data_ptr()


def _check(code: int, what: str, sizes: tuple) -> None:
    """Raise for a kernel's nonzero return: 1 sizes out of range, 2 no scratch memory."""
    if code == 1:
        raise ValueError(f"fused QFWP {what} rejected the sizes (batch, steps, inputs, latent, "
                         f"n_layers, n_qubits, n_outputs) = {sizes}; n_qubits <= {MAX_QUBITS}")
    if code:
        raise MemoryError(f"fused QFWP {what} could not allocate its scratch for sizes {sizes}")


class FusedQFWP(torch.autograd.Function):
    """A QFWP sequence as one autograd node (see the module docstring for shapes).

    ``apply(x, theta0, enc_w, enc_b, layer_w, layer_b, qubit_w, qubit_b, decay, n_outputs)``:
    tensors of one dtype (float32/float64) on the CPU, ``theta0`` may be None; ``decay`` a
    float in [0, 1] and ``n_outputs`` an int (no gradients). Returns ``(y, theta_T)``. The
    backward pass is not itself differentiable (no second derivatives).
    """

    @staticmethod
    def forward(ctx, x, theta0, enc_w, enc_b, layer_w, layer_b, qubit_w, qubit_b, decay,
                n_outputs):
        tensors = [t.contiguous() for t in (x, enc_w, enc_b, layer_w, layer_b, qubit_w, qubit_b)]
        theta0 = None if theta0 is None else theta0.contiguous()
        x = tensors[0]
        batch, steps, inputs = x.shape
        sizes = (batch, steps, inputs, enc_w.shape[0], layer_w.shape[0], qubit_w.shape[0],
                 n_outputs)
        y = x.new_empty(batch, steps, n_outputs)
        theta = x.new_empty(batch, layer_w.shape[0], qubit_w.shape[0])
        _check(LIBRARY.function("qfwp_forward", x.dtype)(
            *sizes, decay, *map(_ptr, tensors), _ptr(theta0), y.data_ptr(), theta.data_ptr()),
            "forward", sizes)
        ctx.save_for_backward(*tensors, theta0)
        ctx.sizes, ctx.decay = sizes, decay
        return y, theta

    @staticmethod
    @once_differentiable
    def backward(ctx, g_y, g_theta):
        *tensors, theta0 = ctx.saved_tensors
        x = tensors[0]
        batch, steps, inputs, latent, layers, n, n_outputs = ctx.sizes
        g_y = x.new_zeros(batch, steps, n_outputs) if g_y is None else g_y.contiguous()
        g_theta = None if g_theta is None else g_theta.contiguous()
        grads = [torch.empty_like(t) for t in tensors]
        g_theta0 = None
        if theta0 is not None and ctx.needs_input_grad[1]:
            g_theta0 = torch.empty_like(theta0)
        _check(LIBRARY.function("qfwp_backward", x.dtype)(
            *ctx.sizes, ctx.decay, *map(_ptr, tensors), _ptr(theta0), g_y.data_ptr(),
            _ptr(g_theta), *map(_ptr, grads), _ptr(g_theta0)), "backward", ctx.sizes)
        g_x, *g_params = grads
        return (g_x, g_theta0, *g_params, None, None)
