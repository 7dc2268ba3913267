"""One step of a small quantum block as one compiled C call: encoding, Pauli features, readout.

For a block whose encoded state is a product state, every measured quantity is linear in the
Kronecker product of the qubits' Bloch 4-vectors (``qrnn.sim.pauli``): ``out = feats @ R``
with a readout matrix ``R (4**n, M)`` built from the weights once per forward pass. In torch
a step is some 25 small operations (closed-form Bloch vectors, the derivative slots, the
Kronecker products, the product), whose per-operation overhead outweighs the arithmetic at a
few qubits. :func:`readout` does it in one pass of ``pauli.c``
(next to this module, shipped as package data), compiled on first use by
:class:`kernels.cpu_build.Library`; ``qrnn.sim.fused.PauliReadout`` calls it and keeps
its torch path as the reference and the fallback (``path="reference"``, or
:func:`available` False).
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch
from torch import Tensor

from kernels import cpu_build

ENCODINGS = ("ry", "rx", "h_ry", "qlstm")
"""Encodings the kernel computes, in the order of its ``kind`` codes (see the source)."""
ENCODING_CODES = {name: code for code, name in enumerate(ENCODINGS)}
"""Each encoding's code in the compiled kernels (pauli.c, state.c, recurrent.c)."""
MAX_QUBITS = 6
_PTR, _I32 = ctypes.c_void_p, ctypes.c_int
_SIGNATURES = {
    "pauli_readout": [_I32, _I32, _I32, _I32, _PTR, _PTR, ctypes.c_size_t, _PTR, _PTR, _PTR],
    "pauli_heisenberg": [_I32, _I32, _I32, _I32, _PTR, _PTR, _PTR, _PTR, _PTR],
    "pauli_heisenberg_backward": [_I32, _I32, _I32, _I32, _PTR, _PTR, _PTR, _PTR, _PTR, _PTR],
    "readout2": [_I32] * 4 + [_PTR] * 4,
    "readout2_backward": [_I32] * 4 + [_PTR] * 5,
    "pauli_block": [_I32] * 6 + [_PTR] * 7,
    "pauli_block_backward": [_I32] * 5 + [_PTR] * 6,
}
SOURCE = Path(__file__).with_name("pauli.c")
"""The C source (package data)."""
LIBRARY = cpu_build.Library("pauli", lambda: cpu_build.source_file(SOURCE),
                           "Pauli readout kernels", cpu_build.per_precision(_SIGNATURES))
"""The compiled kernels (built on first use; ``LIBRARY.error`` says why if impossible)."""


def available() -> bool:
    """Whether the kernels are (or can be) compiled and loaded."""
    return LIBRARY.available()


def readout(x: Tensor, r: Tensor, encoding: str, jacobian: bool = False,
            features: bool = False) -> tuple[Tensor, Tensor | None, Tensor | None]:
    """Outputs of one step, optionally with the input Jacobian and the features.

    Args:
        x: ``(B, n)`` input values, float32 or float64 on the CPU, ``1 <= n <= 6``.
        r: ``(4**n, M)`` readout matrix of the same dtype (a column slice of a wider matrix
            is read in place).
        encoding: one of :data:`ENCODINGS`.
        jacobian: also return ``d out[b, m] / d x[b, q]``.
        features: also return the Pauli features.

    Returns:
        ``(out (B, M), feats (B, 4**n) or None, jac (B, n, M) or None)``.
    """
    if encoding not in ENCODING_CODES:
        raise ValueError(f"encoding={encoding!r} is not allowed; choose one of {ENCODINGS}")
    if x.ndim != 2 or not 1 <= x.shape[1] <= MAX_QUBITS:
        raise ValueError(f"x has shape {tuple(x.shape)}: expected (B, n), 1 <= n <= {MAX_QUBITS}")
    batch, n = x.shape
    if r.ndim != 2 or r.shape[0] != 4**n or r.dtype != x.dtype:
        raise ValueError(
            f"readout has shape {tuple(r.shape)}, dtype {r.dtype}: expected ({4**n}, M) {x.dtype}"
        )
    if x.dtype not in cpu_build.PRECISIONS or not (x.is_cpu and r.is_cpu):
        raise TypeError(f"x is {x.dtype} on {x.device}: expected float32 or float64 on the CPU")
    x = x.contiguous()
    r = r if r.stride(1) == 1 else r.contiguous()
    m = r.shape[1]
    out = x.new_empty(batch, m)
    jac = x.new_empty(batch, n, m) if jacobian else None
    feats = x.new_empty(batch, 4**n) if features else None
    failed = LIBRARY.function("pauli_readout", x.dtype)(
        batch, n, m, ENCODING_CODES[encoding], x.data_ptr(), r.data_ptr(), r.stride(0),
        out.data_ptr(), _ptr(jac), _ptr(feats))
    if failed:
        raise MemoryError(f"Pauli readout kernel could not allocate {(n + 1) * 4**n} values")
    return out, feats, jac


ROTATION_CODES = {"rot": 0, "rx": 1, "ry": 2, "rz": 3}
"""Rotations of the two-layer build (:func:`readout2`), by their code in the source."""


def _check_readout2(weights: Tensor, m: int, rotation: str, image, sign) -> None:
    if rotation not in ROTATION_CODES:
        raise ValueError(f"rotation={rotation!r} is not allowed; choose one of "
                         f"{tuple(ROTATION_CODES)}")
    kk = 3 if rotation == "rot" else 1
    if (weights.ndim != 4 or weights.shape[1] != 2 or weights.shape[3] != kk
            or not 1 <= weights.shape[2] <= MAX_QUBITS or not 1 <= m <= weights.shape[2]):
        raise ValueError(f"weights have shape {tuple(weights.shape)} for m={m}: expected "
                         f"(C, 2, n, {kk}) with 1 <= m <= n <= {MAX_QUBITS}")
    if (weights.dtype not in cpu_build.PRECISIONS or not weights.is_cpu
            or not weights.is_contiguous()):
        raise TypeError(f"weights are {weights.dtype} on {weights.device}: expected contiguous "
                        "float32 or float64 on the CPU")
    _check_layer(4 ** weights.shape[2], weights.dtype, image, sign)


def _check_layer(dim: int, dtype: torch.dtype, image, sign) -> None:
    if (image is None) != (sign is None) or (image is not None and (
            image.shape != (dim,) or sign.shape != (dim,) or image.dtype != torch.int64
            or sign.dtype != dtype or not image.is_contiguous() or not sign.is_contiguous())):
        raise ValueError(f"image and sign must both be None or contiguous ({dim},) int64 and "
                         f"{dtype} tensors")


def readout2(weights: Tensor, m: int, rotation: str, image: Tensor | None = None,
             sign: Tensor | None = None) -> Tensor:
    """The readout matrix of C two-layer circuits that read <Z> of qubits ``0..m-1``.

    Built from the angles by the circuits' structure (``pauli_readout2.h``): the same matrix
    as :func:`heisenberg` of the two layers' transfer matrices, with far fewer operations.

    Args:
        weights: ``(C, 2, n, k)`` contiguous angles (k = 3 for ``"rot"``, else 1).
        m: measured qubits; rotation: ``"rot"``, ``"rx"``, ``"ry"`` or ``"rz"``.
        image, sign: the CNOT layer (:func:`qrnn.sim.pauli.clifford_action`) or None.

    Returns:
        ``(4**n, C * m)``: column ``c * m + k`` is <Z_k> of circuit c.
    """
    _check_readout2(weights, m, rotation, image, sign)
    circuits, _, n = weights.shape[:3]
    rows = weights.new_empty(4**n, circuits * m)
    failed = LIBRARY.function("readout2", weights.dtype)(
        circuits, n, m, ROTATION_CODES[rotation], weights.data_ptr(), _ptr(image), _ptr(sign),
        rows.data_ptr())
    if failed:
        raise MemoryError(f"two-layer readout kernel could not allocate {2 * 4**n} values")
    return rows


def readout2_backward(weights: Tensor, m: int, rotation: str, grad: Tensor,
                      image: Tensor | None = None, sign: Tensor | None = None) -> Tensor:
    """Gradient of :func:`readout2` in the angles, ``(C, 2, n, k)``, from ``grad`` (the
    gradient of the loss in its output, ``(4**n, C * m)``)."""
    _check_readout2(weights, m, rotation, image, sign)
    circuits, _, n = weights.shape[:3]
    if grad.shape != (4**n, circuits * m) or grad.dtype != weights.dtype:
        raise ValueError(f"grad has shape {tuple(grad.shape)}, dtype {grad.dtype}: expected "
                         f"({4**n}, {circuits * m}) {weights.dtype}")
    grad = grad.contiguous()
    g_w = torch.empty_like(weights)
    failed = LIBRARY.function("readout2_backward", weights.dtype)(
        circuits, n, m, ROTATION_CODES[rotation], weights.data_ptr(), _ptr(image), _ptr(sign),
        grad.data_ptr(), g_w.data_ptr())
    if failed:
        raise MemoryError(f"two-layer readout kernel could not allocate {3 * 4**n} values")
    return g_w


def block(x: Tensor, weights: Tensor, m: int, rotation: str, encoding: str,
          image: Tensor | None, sign: Tensor | None, jacobian: bool, features: bool):
    """:func:`readout2` and :func:`readout` of it in one call (the readout matrix is scratch):
    ``(out (B, C m), feats or None, jac or None)`` for ``x (B, n)`` and contiguous ``weights
    (C, 2, n, k)``. A NaN or infinity in ``x`` or the weights raises a ValueError (the kernel
    checks them)."""
    _check_readout2(weights, m, rotation, image, sign)
    circuits, _, n = weights.shape[:3]
    if encoding not in ENCODING_CODES:
        raise ValueError(f"encoding={encoding!r} is not allowed; choose one of {ENCODINGS}")
    if (x.shape != (x.shape[0], n) or x.shape[0] < 1 or x.dtype != weights.dtype
            or not x.is_contiguous()):
        raise ValueError(f"x has shape {tuple(x.shape)}, dtype {x.dtype}: expected contiguous "
                         f"(B >= 1, {n}) {weights.dtype}")
    return run_block(x, weights, circuits, m, ROTATION_CODES[rotation],
                     ENCODING_CODES[encoding], image, sign, jacobian, features,
                     (x.shape[0], circuits * m))


def run_block(x: Tensor, weights: Tensor, circuits: int, m: int, rot: int, kind: int,
              image: Tensor | None, sign: Tensor | None, jacobian: bool, features: bool,
              out_shape: tuple[int, ...]):
    """:func:`block` without its argument checks, for a caller that made the arguments
    itself (:class:`qrnn.sim.pauli_nodes.PauliBlock`): ``x (B, n)`` and the weights
    (``circuits`` two-layer circuits) contiguous CPU tensors of one dtype; ``rot`` and
    ``kind`` codes from :data:`ROTATION_CODES` and :data:`ENCODING_CODES`; ``out`` is
    allocated with ``out_shape`` (``B * circuits * m`` values in that order). The kernel
    still checks the sizes, and the values of ``x`` and the weights for NaN and infinity."""
    batch, n = x.shape
    out = x.new_empty(out_shape)
    jac = x.new_empty(batch, n, circuits * m) if jacobian else None
    feats = x.new_empty(batch, 4**n) if features else None
    failed = LIBRARY.function("pauli_block", x.dtype)(
        batch, circuits, n, m, rot, kind, weights.data_ptr(), _ptr(image), _ptr(sign),
        x.data_ptr(), out.data_ptr(), _ptr(jac), _ptr(feats))
    if failed:
        raise _block_error(failed, f"{(n + 1 + circuits * m) * 4**n} values")
    return out, feats, jac


def block_backward(weights: Tensor, m: int, rotation: str, image: Tensor | None,
                   sign: Tensor | None, feats: Tensor, g_out: Tensor) -> Tensor:
    """Gradient of :func:`block` in the angles, ``(C, 2, n, k)``, from the gradient of its
    output ``g_out (B, C m)`` and the features ``feats (B, 4**n)`` it returned."""
    _check_readout2(weights, m, rotation, image, sign)
    circuits, _, n = weights.shape[:3]
    width = circuits * m
    if (feats.shape != (feats.shape[0], 4**n) or g_out.shape != (feats.shape[0], width)
            or feats.dtype != weights.dtype or g_out.dtype != weights.dtype):
        raise ValueError(f"g_out has shape {tuple(g_out.shape)}, feats {tuple(feats.shape)}: "
                         f"expected (B, {width}) and (B, {4**n}) {weights.dtype}")
    return run_block_backward(weights, circuits, n, m, ROTATION_CODES[rotation], image, sign,
                              feats.contiguous(), g_out)


def run_block_backward(weights: Tensor, circuits: int, n: int, m: int, rot: int,
                       image: Tensor | None, sign: Tensor | None, feats: Tensor,
                       g_out: Tensor) -> Tensor:
    """:func:`block_backward` without its argument checks (see :func:`run_block`); the
    gradient has the weights' shape."""
    g_out = g_out if g_out.is_contiguous() else g_out.contiguous()
    g_w = torch.empty_like(weights)
    failed = LIBRARY.function("pauli_block_backward", weights.dtype)(
        feats.shape[0], circuits, n, m, rot, weights.data_ptr(), _ptr(image), _ptr(sign),
        feats.data_ptr(), g_out.data_ptr(), g_w.data_ptr())
    if failed:
        raise _block_error(failed, f"{2 * 4**n * circuits * m} values")
    return g_w


def _block_error(code: int, scratch: str) -> Exception:
    """The exception for a nonzero return ``code`` of the block kernels."""
    if code in (3, 4):
        name = "x" if code == 3 else "weights"
        return ValueError(f"{name} contains NaN or infinite values; all entries must be finite")
    if code == 2:
        return MemoryError(f"Pauli block kernel could not allocate {scratch}")
    return ValueError(f"Pauli block kernel rejected its sizes (code {code})")


def _check_heisenberg(transfer: Tensor, image: Tensor | None, sign: Tensor | None) -> None:
    if (transfer.ndim != 5 or transfer.shape[-2:] != (4, 4) or transfer.shape[1] < 1
            or not 1 <= transfer.shape[2] <= MAX_QUBITS):
        raise ValueError(f"transfer has shape {tuple(transfer.shape)}: expected (C, L >= 1, "
                         f"n, 4, 4), 1 <= n <= {MAX_QUBITS}")
    if transfer.dtype not in cpu_build.PRECISIONS or not transfer.is_cpu:
        raise TypeError(f"transfer is {transfer.dtype} on {transfer.device}: expected float32 "
                        "or float64 on the CPU")
    dim = 4 ** transfer.shape[2]
    if (image is None) != (sign is None) or (image is not None and (
            image.shape != (dim,) or sign.shape != (dim,) or image.dtype != torch.int64
            or sign.dtype != transfer.dtype)):
        raise ValueError(f"image and sign must both be None or ({dim},) int64 and "
                         f"{transfer.dtype} tensors")


def _ptr(t: Tensor | None):
    return None if t is None else t.data_ptr()


def _contiguous(t: Tensor | None) -> Tensor | None:
    return None if t is None else t.contiguous()


def heisenberg(transfer: Tensor, obs: Tensor, image: Tensor | None = None,
               sign: Tensor | None = None) -> Tensor:
    """Observables evolved back through C circuits of L layers, as a readout matrix.

    Args:
        transfer: ``(C, L, n, 4, 4)`` Pauli transfer matrices of the rotations (``T[a, b] =
            Tr(P_a G P_b G^dag) / 2``, orthogonal), float32 or float64.
        obs: ``(M, 4**n)`` Pauli coefficients of the measured observables.
        image, sign: ``(4**n,)`` int64 and real: the CNOT layer that opens each layer acts on
            a row of coefficients as ``o -> o[image] * sign``; None for no entangler.

    Returns:
        ``(4**n, C * M)``: column ``c * M + m`` holds observable m of circuit c in the Pauli
        basis of the input (product) state.
    """
    _check_heisenberg(transfer, image, sign)
    circuits, layers, n = transfer.shape[:3]
    dim = 4**n
    if obs.ndim != 2 or obs.shape[1] != dim or obs.dtype != transfer.dtype:
        raise ValueError(f"obs has shape {tuple(obs.shape)}, dtype {obs.dtype}: expected "
                         f"(M, {dim}) {transfer.dtype}")
    transfer, obs = transfer.contiguous(), obs.contiguous()
    image, sign = _contiguous(image), _contiguous(sign)
    m = obs.shape[0]
    rows = transfer.new_empty(dim, circuits * m)
    failed = LIBRARY.function("pauli_heisenberg", transfer.dtype)(
        circuits, layers, n, m, transfer.data_ptr(), obs.data_ptr(), _ptr(image), _ptr(sign),
        rows.data_ptr())
    if failed:
        raise MemoryError(f"Pauli Heisenberg kernel could not allocate {2 * dim * m} values")
    return rows


def heisenberg_backward(transfer: Tensor, rows: Tensor, grad: Tensor,
                        image: Tensor | None = None, sign: Tensor | None = None) -> Tensor:
    """Gradient of :func:`heisenberg` in ``transfer``: ``(C, L, n, 4, 4)``.

    Args:
        transfer, image, sign: as given to :func:`heisenberg`.
        rows: its output ``(4**n, C * M)``; grad: the gradient of the loss in ``rows``.
    """
    _check_heisenberg(transfer, image, sign)
    circuits, layers, n = transfer.shape[:3]
    shape = rows.shape
    if (rows.ndim != 2 or shape[0] != 4**n or shape[1] % circuits or grad.shape != shape
            or rows.dtype != transfer.dtype or grad.dtype != transfer.dtype):
        raise ValueError(f"rows {tuple(rows.shape)} and grad {tuple(grad.shape)} must both be "
                         f"({4**n}, C * M) {transfer.dtype} with C = {circuits}")
    transfer, rows, grad = transfer.contiguous(), rows.contiguous(), grad.contiguous()
    image, sign = _contiguous(image), _contiguous(sign)
    g_transfer = torch.zeros_like(transfer)
    failed = LIBRARY.function("pauli_heisenberg_backward", transfer.dtype)(
        circuits, layers, n, shape[1] // circuits, transfer.data_ptr(), _ptr(image),
        _ptr(sign), rows.data_ptr(), grad.data_ptr(), g_transfer.data_ptr())
    if failed:
        raise MemoryError(f"Pauli Heisenberg kernel could not allocate {3 * rows.numel()} "
                          "values")
    return g_transfer
