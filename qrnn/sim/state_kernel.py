"""The ``"gates"`` method's compiled C for shared weights and <Z> readout (:file:`state.c`).

A block of C circuits on n qubits (encoding, L layers of a basis permutation and one rotation
per qubit, <Z> of some wires) is simulated on the whole batch's state vectors at once, with
its gradient by the adjoint method (no saved states, see the C source): one compiled call
forward, one backward, one autograd node (:class:`StateBlock`). In torch the same block is
some 60 tensor operations forward and backward, whose per-operation cost outweighs the
arithmetic up to about 10 qubits at batch 32. The torch code of :mod:`qrnn.sim.block` stays
the reference (``path="reference"``) and the fallback (no C compiler, other devices,
per-sample weights, probabilities, shots).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
from torch import Tensor

from kernels import cpu_build
from kernels.contract import check_path
from kernels.cpu_build import warn_once
from qrnn.sim.pauli_kernel import ENCODING_CODES, ROTATION_CODES

MAX_QUBITS = 16
"""Largest block the kernel takes (as ``STATE_MAX_QUBITS`` in the source)."""
_PTR, _I32 = ctypes.c_void_p, ctypes.c_int
_SIGNATURES = {
    "state_block": [_I32] * 7 + [_PTR] * 5,
    "state_block_backward": [_I32] * 7 + [_PTR] * 7,
}
SOURCE = Path(__file__).with_name("state.c")
"""The C source (package data)."""
LIBRARY = cpu_build.Library("state", lambda: cpu_build.source_file(SOURCE),
                           "state-vector block kernels", cpu_build.per_precision(_SIGNATURES))
"""The compiled kernels (built on first use; ``LIBRARY.error`` says why if impossible)."""


def available() -> bool:
    """Whether the kernels are (or can be) compiled and loaded."""
    return LIBRARY.available()


def compiled(t: Tensor, path: str = "auto") -> bool:
    """Whether the kernels run for tensors like ``t`` on ``path`` (``"auto"``, ``"reference"``
    or ``"cpu"``, as :func:`qrnn.sim.fused.compiled`): ``"auto"`` on the CPU when they build
    (a miss warns once), ``"cpu"`` always (a one-line error if impossible)."""
    check_path(path, ("cpu",))
    if path == "reference":
        return False
    if path == "cpu":
        if not t.is_cpu:
            raise ValueError(f"path='cpu' needs CPU tensors, got {t.device}")
        LIBRARY.require()
        return True
    if not t.is_cpu:
        return False
    if LIBRARY.available():
        return True
    warn_once("state", f"qrnn's state-vector kernels are unavailable ({LIBRARY.error}); the "
              "'gates' method runs its slower torch path")
    return False


def applies(n_qubits: int, measurement: str, per_sample: bool, shots) -> bool:
    """Whether a block of this kind can run on the kernels: shared weights, exact <Z>."""
    return n_qubits <= MAX_QUBITS and measurement == "z" and not per_sample and shots is None


def _ptr(t: Tensor | None):
    return None if t is None else t.data_ptr()


class StateBlock(torch.autograd.Function):
    """One step of C circuits on the batch's state vectors: ``(B, C, m)`` <Z> values.

    Inputs:
        x: ``(B, n)`` inputs; weights: ``(C, L, n, k)`` angles (one dtype, CPU);
        encoding, rotation: names (:data:`ENCODING_CODES`, :data:`ROTATION_CODES`);
        src: the entangler permutation (:func:`~qrnn.sim.gates.cnot_permutation`) or None;
        wires: ``(m,)`` int64 measured qubits (no gradients for the last four).

    Backward: ``state_block_backward`` (adjoint method) gives the gradients of the angles
    and, when ``x`` needs one, of the inputs.
    """

    @staticmethod
    def forward(ctx, x, weights, encoding, rotation, src, wires):
        x, weights = x.contiguous(), weights.contiguous()
        batch, n = x.shape
        circuits, layers = weights.shape[:2]
        out = x.new_empty(batch, circuits, len(wires))
        args = (batch, circuits, n, layers, len(wires), ENCODING_CODES[encoding],
                ROTATION_CODES[rotation])
        failed = LIBRARY.function("state_block", x.dtype)(
            *args, x.data_ptr(), weights.data_ptr(), _ptr(src), wires.data_ptr(),
            out.data_ptr())
        if failed:
            raise MemoryError(f"state-vector kernel rejected n={n} or could not allocate")
        ctx.args, ctx.src, ctx.wires = args, src, wires
        ctx.save_for_backward(x, weights)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, weights = ctx.saved_tensors
        grad = grad.contiguous()  # kept referenced while the kernel reads it
        g_x = x.new_empty(x.shape) if ctx.needs_input_grad[0] else None
        g_w = torch.empty_like(weights) if ctx.needs_input_grad[1] else None
        failed = LIBRARY.function("state_block_backward", x.dtype)(
            *ctx.args, x.data_ptr(), weights.data_ptr(), _ptr(ctx.src), ctx.wires.data_ptr(),
            grad.data_ptr(), _ptr(g_w), _ptr(g_x))
        if failed:
            raise MemoryError("state-vector kernel could not allocate its backward scratch")
        return g_x, g_w, None, None, None, None
