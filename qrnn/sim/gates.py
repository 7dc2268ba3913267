"""Batched gate matrices and their application to batched state vectors (pure functions).

States are complex tensors of shape ``(*batch, 2**n)``; qubit 0 is the most significant bit.
Gate matrices have shape ``(*batch, d, d)`` with ``d = 2**k`` for a k-qubit gate; a leading
batch of a matrix broadcasts against the state's batch (size 1 or equal).
Angles are in radians.
"""

from __future__ import annotations

from functools import lru_cache

import torch


def complex_dtype(real_dtype: torch.dtype) -> torch.dtype:
    """complex64 for float32, complex128 for float64."""
    return torch.complex128 if real_dtype == torch.float64 else torch.complex64


def _table(rows) -> torch.Tensor:
    return torch.tensor(rows, dtype=torch.float64)


_HALF_PI = torch.pi / 2
# Every rotation matrix entry is a product of cosines of linear combinations of its angles.
# For angles w (..., k): f = cos(w @ MIX + SHIFT); entries (re, im interleaved, row-major
# 2x2) = f @ ENTRIES for one-angle gates, or (f[L] * f[R]) @ ENTRIES for Rot.
_ONE_ANGLE_MIX, _ONE_ANGLE_SHIFT = _table([[0.5, 0.5]]), _table([0.0, -_HALF_PI])  # f = (c, s)
_ONE_ANGLE_ENTRIES = {
    "rx": _table([[1, 0, 0, 0, 0, 0, 1, 0], [0, 0, 0, -1, 0, -1, 0, 0]]),
    "ry": _table([[1, 0, 0, 0, 0, 0, 1, 0], [0, 0, -1, 0, 1, 0, 0, 0]]),
    "rz": _table([[1, 0, 0, 0, 0, 0, 1, 0], [0, -1, 0, 0, 0, 0, 0, 1]]),
}
# Rot(phi, theta, omega): p = (phi + omega)/2, t = theta/2, m = (phi - omega)/2;
# f = (cos p, cos t, cos m, sin p, sin t, sin m); products cp*ct, cm*st, sp*ct, sm*st.
_ROT_MIX = _table(
    [[0.5, 0, 0.5, 0.5, 0, 0.5], [0, 0.5, 0, 0, 0.5, 0], [0.5, 0, -0.5, 0.5, 0, -0.5]]
)
_ROT_SHIFT = _table([0, 0, 0, -_HALF_PI, -_HALF_PI, -_HALF_PI])
_ROT_LEFT, _ROT_RIGHT = torch.tensor([0, 2, 3, 5]), torch.tensor([1, 4, 1, 4])
_ROT_ENTRIES = _table(
    [
        [1, 0, 0, 0, 0, 0, 1, 0],  # cp*ct: re of [0,0] and [1,1]
        [0, 0, -1, 0, 1, 0, 0, 0],  # cm*st: re of [0,1] (-) and [1,0] (+)
        [0, -1, 0, 0, 0, 0, 0, 1],  # sp*ct: im of [0,0] (-) and [1,1] (+)
        [0, 0, 0, -1, 0, -1, 0, 0],  # sm*st: im of [0,1] and [1,0] (-)
    ]
)


def _as_complex_2x2(entries: torch.Tensor) -> torch.Tensor:
    """``(..., 8)`` interleaved (re, im) row-major entries -> ``(..., 2, 2)`` complex."""
    return torch.view_as_complex(entries.reshape(*entries.shape[:-1], 2, 2, 2))


def rotation_matrices(kind: str, weights: torch.Tensor) -> torch.Tensor:
    """Matrices of rotation gates, all computed at once.

    Args:
        kind: ``"rot"`` (PennyLane's Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi),
            3 angles), ``"rx"``, ``"ry"`` or ``"rz"`` (exp(-i angle P / 2), 1 angle).
        weights: ``(..., n_angles)`` real angles in radians.

    Returns:
        ``(..., 2, 2)`` complex matrices (complex64 for float32 angles, else complex128).
    """
    dt = weights.dtype
    if kind == "rot":
        f = torch.cos(weights @ _ROT_MIX.to(dt) + _ROT_SHIFT.to(dt))
        entries = (f[..., _ROT_LEFT] * f[..., _ROT_RIGHT]) @ _ROT_ENTRIES.to(dt)
    else:
        f = torch.cos(weights @ _ONE_ANGLE_MIX.to(dt) + _ONE_ANGLE_SHIFT.to(dt))
        entries = f @ _ONE_ANGLE_ENTRIES[kind].to(dt)
    return _as_complex_2x2(entries)


def rotation_vjp(kind: str, weights: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Gradient w.r.t. the angles given the gradient w.r.t. :func:`rotation_matrices`.

    Args:
        weights: ``(..., n_angles)`` angles.
        grad: ``(..., 2, 2)`` complex gradient of the matrices (PyTorch convention).

    Returns:
        ``(..., n_angles)`` real.
    """
    dt = weights.dtype
    g_entries = torch.view_as_real(grad).reshape(*grad.shape[:-2], 8)
    if kind == "rot":
        phase = weights @ _ROT_MIX.to(dt) + _ROT_SHIFT.to(dt)
        f = torch.cos(phase)
        h = g_entries @ _ROT_ENTRIES.to(dt).T  # w.r.t. the four products f[L] * f[R]
        g_f = torch.zeros_like(f)
        g_f.index_add_(-1, _ROT_LEFT, h * f[..., _ROT_RIGHT])
        g_f.index_add_(-1, _ROT_RIGHT, h * f[..., _ROT_LEFT])
        return (g_f * -torch.sin(phase)) @ _ROT_MIX.to(dt).T
    phase = weights @ _ONE_ANGLE_MIX.to(dt) + _ONE_ANGLE_SHIFT.to(dt)
    g_f = g_entries @ _ONE_ANGLE_ENTRIES[kind].to(dt).T
    return (g_f * -torch.sin(phase)) @ _ONE_ANGLE_MIX.to(dt).T


def kron_tree(mats: torch.Tensor) -> torch.Tensor:
    """Kronecker product along axis -3, in log2(count) pairwise steps.

    Args:
        mats: ``(..., m, r, c)``; factor 0 is the most significant.

    Returns:
        ``(..., r**m, c**m)`` (for state vectors use ``r = 1``).
    """
    carry = None
    while mats.shape[-3] > 1:
        if mats.shape[-3] % 2:
            last = mats[..., -1:, :, :]
            carry = last if carry is None else _kron_pairs(last, carry)
            mats = mats[..., :-1, :, :]
        mats = _kron_pairs(mats[..., 0::2, :, :], mats[..., 1::2, :, :])
    return (mats if carry is None else _kron_pairs(mats, carry))[..., 0, :, :]


def _kron_pairs(a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Elementwise-paired Kronecker products: ``(..., m, r, c) x (..., m, r', c')``."""
    out = a[..., :, None, :, None] * b[..., None, :, None, :]
    return out.flatten(-4, -3).flatten(-2, -1)


def kron_qubits(mats: torch.Tensor, lo: int, hi: int) -> torch.Tensor:
    """Kronecker product of the single-qubit matrices of qubits ``lo..hi-1``.

    Args:
        mats: ``(..., n, 2, 2)`` complex, one matrix per qubit.

    Returns:
        ``(..., 2**(hi-lo), 2**(hi-lo))``, qubit ``lo`` the most significant.
    """
    return kron_tree(mats[..., lo:hi, :, :])


def apply_group(state: torch.Tensor, mat: torch.Tensor, lo: int, k: int, n: int) -> torch.Tensor:
    """Apply a gate on the contiguous qubits ``lo..lo+k-1`` of a batch of circuits.

    Args:
        state: ``(C', B, 2**n)`` complex (C' = 1 broadcasts over circuits).
        mat: ``(C, 1, 2**k, 2**k)`` (shared by the batch) or ``(C, B, 2**k, 2**k)`` (per
            sample) complex; C' and C broadcast.

    Returns:
        ``(max(C', C), B, 2**n)``. No amplitude is copied or transposed: the group's axis is
        contracted in place (matrix from the left, or from the right when it is the last axis).
    """
    batch = state.shape[1]
    a, d, b = 2**lo, 2**k, 2 ** (n - lo - k)
    if b == 1:
        mt = mat.transpose(-1, -2)
        if mat.shape[1] == 1:
            out = state.reshape(-1, batch * a, d) @ mt[:, 0]
        else:
            out = state.reshape(-1, batch, a, d) @ mt
        return out.reshape(-1, batch, 2**n)
    out = mat.unsqueeze(2) @ state.reshape(-1, batch, a, d, b)
    return out.reshape(-1, batch, 2**n)


def apply_matrix(state: torch.Tensor, mat: torch.Tensor, wires: tuple[int, ...], n: int):
    """Apply a k-qubit gate on arbitrary (distinct) ``wires``.

    Args:
        state: ``(B, 2**n)`` complex.
        mat: ``(2**k, 2**k)`` or ``(B, 2**k, 2**k)`` complex; row/column index has ``wires[0]``
            as the most significant bit.

    Returns:
        ``(B, 2**n)``.
    """
    k = len(wires)
    batch = state.shape[0]
    view = state.reshape((batch,) + (2,) * n)
    axes = [w + 1 for w in wires]
    moved = torch.movedim(view, axes, list(range(1, k + 1))).reshape(batch, 2**k, -1)
    out = torch.matmul(mat, moved).reshape((batch,) + (2,) * n)
    return torch.movedim(out, list(range(1, k + 1)), axes).reshape(batch, 2**n)


@lru_cache(maxsize=256)
def cnot_permutation(pairs: tuple[tuple[int, int], ...], n: int) -> torch.Tensor:
    """Index array ``src`` such that ``state[..., src]`` applies the CNOTs ``pairs`` in order.

    Args:
        pairs: (control, target) qubit pairs.
        n: number of qubits.

    Returns:
        ``(2**n,)`` int64. (Cached: do not modify.)
    """
    src = torch.arange(2**n)
    for control, target in pairs:
        cbit, tbit = 1 << (n - 1 - control), 1 << (n - 1 - target)
        idx = torch.arange(2**n)
        gate_src = torch.where(idx & cbit != 0, idx ^ tbit, idx)
        src = src[gate_src]
    return src


@lru_cache(maxsize=256)
def inverse_permutation(pairs: tuple[tuple[int, int], ...], n: int) -> torch.Tensor:
    """Inverse of :func:`cnot_permutation` (``inv[src[j]] = j``); cached."""
    src = cnot_permutation(pairs, n)
    inverse = torch.empty_like(src)
    inverse[src] = torch.arange(2**n)
    return inverse


def apply_permutation(state: torch.Tensor, src: torch.Tensor) -> torch.Tensor:
    """``state[..., src]``: a basis permutation (e.g. a CNOT layer, :func:`cnot_permutation`)."""
    return state.index_select(-1, src)
