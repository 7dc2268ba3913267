"""The ``"pauli"`` method: a block's readout as one real matrix of Pauli features.

The encoded state is a product state, so its density matrix is a Kronecker product of
single-qubit ones, ``rho = (x)_q (I + r_q . sigma) / 2``, and every measured quantity is
linear in it: ``out[m] = feat @ R[:, m]`` with ``feat = (x)_q b_q`` (``b_q = (1, r_q)``, the
Bloch 4-vector of qubit q; ``4**n`` real features) and ``R[:, m]`` the m-th measured
observable evolved back through the variational layers (Heisenberg picture) in the Pauli
basis. ``R`` depends on the weights only: :func:`qrnn.sim.fused.readout_matrix` builds it
once per forward pass in real arithmetic (a rotation is a 4x4 Pauli transfer matrix, a CNOT
layer a signed permutation of Pauli strings); each step is then one product
(:class:`qrnn.sim.fused.PauliReadout`). This module holds the tables and pure functions.

At a few qubits this beats the state vector: no complex numbers, no squared amplitudes, and
the input gradient comes with the forward product (the Jacobian), so a step's backward pass
is two small products. The features grow as ``4**n`` (the state as ``2**n``), so the method
is for small blocks (``qrnn.sim.block.PAULI_MAX_QUBITS``).

Pauli strings are indexed base 4, qubit 0 the most significant digit, digits I, X, Y, Z.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import torch

_PAULIS = np.array([[[1, 0], [0, 1]], [[0, 1], [1, 0]], [[0, -1j], [1j, 0]], [[1, 0], [0, -1]]])
# Pauli transfer matrix of a rotation by angle a about an axis: CONST + cos a COS + sin a SIN
# (RX: y -> y cos a + z sin a, ...); as (3, 4, 4): the coefficients of (1, cos a, sin a).
_AXIS_ENTRIES = {  # axis: (diagonal of CONST, entries of COS, entries of SIN) as (row, col, value)
    "x": ((1, 1, 0, 0), ((2, 2, 1), (3, 3, 1)), ((2, 3, -1), (3, 2, 1))),
    "y": ((1, 0, 1, 0), ((1, 1, 1), (3, 3, 1)), ((1, 3, 1), (3, 1, -1))),
    "z": ((1, 0, 0, 1), ((1, 1, 1), (2, 2, 1)), ((1, 2, -1), (2, 1, 1))),
}
_AXES = {"rot": "zyz", "rx": "x", "ry": "y", "rz": "z"}
"""Axis of each angle; Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi)."""


def _axis_table(axis: str) -> np.ndarray:
    diagonal, cos_entries, sin_entries = _AXIS_ENTRIES[axis]
    table = np.zeros((3, 4, 4))
    table[0] = np.diag(diagonal)
    for part, entries in ((1, cos_entries), (2, sin_entries)):
        for row, col, value in entries:
            table[part, row, col] = value
    return table


def fourier_tables(table: np.ndarray, k: int, dtype: torch.dtype):
    """Evaluate ``f(w) = (x)_i (1, cos w_i, sin w_i) @ table`` and its gradient in 3 ops.

    Products of (1, cos, sin) of k angles are sums of ``cos(sigma . w)`` and ``sin(sigma . w)``
    over ``sigma`` in ``{-1, 0, 1}**k``, and so are their derivatives
    (``d cos(sigma . w) / d w_i = -sigma_i sin(sigma . w)``). Returns ``(mix, shift, out)``
    such that ``cos(w @ mix + shift) @ out`` is ``(f, df / dw_1, ..., df / dw_k)``
    concatenated, each ``table.shape[1]`` wide.
    """
    per_angle = np.array([[0, 0.5, 0.5j], [1, 0, 0], [0, 0.5, -0.5j]])  # sigma = -1, 0, 1
    expand = np.ones((1, 1))
    for _ in range(k):
        expand = np.kron(expand, per_angle)
    amp = expand @ table  # f = Re(sum_sigma amp[sigma] exp(i sigma . w))
    sigma = np.array(np.meshgrid(*[[-1, 0, 1]] * k, indexing="ij")).reshape(k, -1)
    cos_rows = [amp.real] + [-sigma[i][:, None] * amp.imag for i in range(k)]
    sin_rows = [-amp.imag] + [-sigma[i][:, None] * amp.real for i in range(k)]
    out = np.concatenate([np.concatenate(cos_rows, 1), np.concatenate(sin_rows, 1)])
    shift = np.concatenate([np.zeros(3**k), np.full(3**k, -math.pi / 2)])
    mix = np.concatenate([sigma, sigma], 1)
    return tuple(torch.as_tensor(t, dtype=dtype) for t in (mix, shift, out))


@lru_cache(maxsize=16)
def _transfer_tables(kind: str, dtype: torch.dtype):
    """:func:`fourier_tables` of the transfer matrix of rotation ``kind`` (16 entries)."""
    table = np.ones((1, 4, 4)) * np.eye(4)
    for axis in _AXES[kind]:  # later angles act after earlier ones: T = T_k ... T_1
        step = _axis_table(axis)
        table = np.einsum("jab,ibc->ijac", step, table).reshape(-1, 4, 4)
    return fourier_tables(table.reshape(-1, 16), len(_AXES[kind]), dtype)


def rotation_transfer(kind: str, weights: torch.Tensor, derivative: bool = False):
    """Pauli transfer matrices of rotation gates: ``(..., k)`` angles -> ``(..., 4, 4)`` real.

    ``T[a, b] = Tr(P_a G P_b G^dag) / 2`` (P = I, X, Y, Z), so a Bloch 4-vector evolves as
    ``b -> T b``. With ``derivative``, returns ``(T, dT)``, ``dT (..., k, 4, 4)`` the
    derivatives in each angle (:func:`fourier_tables`).
    """
    mix, shift, table = _transfer_tables(kind, weights.dtype)
    k = weights.shape[-1]
    features = torch.cos(torch.addmm(shift, weights.reshape(-1, k), mix))
    out = features @ (table if derivative else table[:, :16])
    out = out.reshape(*weights.shape[:-1], -1, 4, 4)  # (..., 1 [+ k], 4, 4)
    return (out[..., 0, :, :], out[..., 1:, :, :]) if derivative else out[..., 0, :, :]


# Bloch 4-vectors (1, <X>, <Y>, <Z>) of the encoded qubits as (x)_i (1, cos, sin)(angle i) @ table:
#   ry:    RY(v)|0>         (1, sin v, 0, cos v)
#   rx:    RX(v)|0>         (1, 0, -sin v, cos v)
#   h_ry:  RY(v)|+>         (1, cos v, 0, -sin v)
#   qlstm: RZ(b) RY(a)|+>   (1, cos a cos b, cos a sin b, -sin a), a = arctan v, b = arctan v^2
# as {(product, entry): value}; qlstm products are 3 i_a + i_b over (1, cos, sin).
_BLOCH_TERMS = {
    "ry": {(0, 0): 1, (2, 1): 1, (1, 3): 1},
    "rx": {(0, 0): 1, (2, 2): -1, (1, 3): 1},
    "h_ry": {(0, 0): 1, (1, 1): 1, (2, 3): -1},
    "qlstm": {(0, 0): 1, (4, 1): 1, (5, 2): 1, (6, 3): -1},
}


@lru_cache(maxsize=16)
def _bloch_tables(kind: str, dtype: torch.dtype):
    """``(mix, shift, table)``: ``cos(angles @ mix + shift) @ table`` is (b, d b / d angle).

    Linear encodings: :func:`fourier_tables`. qlstm (angles ``arctan t``, ``t = (v, v^2)``):
    the columns are (b, d b / d t_1, d b / d t_2); as ``d arctan(t) / d t = cos^2(arctan t)``,
    those are trigonometric polynomials of degree 3 in the angles too, fitted exactly (least
    squares on sampled angles) to the features ``cos``, ``sin`` of ``sigma . angles``,
    ``sigma`` in ``{-3..3}**2``.
    """
    angles = 2 if kind == "qlstm" else 1
    table = np.zeros((3**angles, 4))
    for (product, entry), value in _BLOCH_TERMS[kind].items():
        table[product, entry] = value
    mix, shift, out = (t.numpy() for t in fourier_tables(table, angles, torch.float64))
    if kind != "qlstm":
        return tuple(torch.as_tensor(t, dtype=dtype) for t in (mix, shift, out))
    samples = np.random.default_rng(0).uniform(-np.pi, np.pi, (400, 2))
    values = np.cos(samples @ mix + shift) @ out  # (b, d b / d a, d b / d b)
    squared_cos = np.cos(samples) ** 2
    values[:, 4:8] *= squared_cos[:, :1]
    values[:, 8:] *= squared_cos[:, 1:]
    sigma = np.array(np.meshgrid(*[np.arange(-3, 4)] * 2, indexing="ij")).reshape(2, -1)
    mix = np.concatenate([sigma, sigma], 1)
    shift = np.concatenate([np.zeros(49), np.full(49, -np.pi / 2)])
    fitted = np.linalg.lstsq(np.cos(samples @ mix + shift), values, rcond=None)[0]
    return tuple(torch.as_tensor(t, dtype=dtype) for t in (mix, shift, fitted))


def bloch_vectors(kind: str, x: torch.Tensor, derivative: bool = False):
    """Bloch 4-vectors of the encoded qubits (and their derivatives in the inputs).

    Args:
        kind: encoding name (:data:`qrnn.circuit.ENCODINGS`); x: ``(..., n)`` real inputs.
        derivative: also return ``d b / d x[..., q]``.

    Returns:
        ``(b, db)``, each ``(..., n, 4)``: ``b = (1, <X>, <Y>, <Z>)`` of qubit q encoding
        ``x[..., q]``; ``db`` is None unless ``derivative``.
    """
    mix, shift, table = _bloch_tables(kind, x.dtype)
    angles = torch.atan(torch.stack((x, x * x), -1)) if kind == "qlstm" else x.unsqueeze(-1)
    features = torch.cos(torch.addmm(shift, angles.reshape(-1, angles.shape[-1]), mix))
    out = (features @ (table if derivative else table[:, :4])).reshape(*x.shape, -1, 4)
    if not derivative:
        return out[..., 0, :], None
    if kind != "qlstm":
        return out[..., 0, :], out[..., 1, :]
    return out[..., 0, :], torch.addcmul(out[..., 1, :], out[..., 2, :], (x + x).unsqueeze(-1))


@lru_cache(maxsize=16)
def derivative_slots(n: int) -> torch.Tensor:
    """``(1 + n, n, 1)`` bool: row 0 all False, row 1 + q True in slot q.

    ``where(slots, d, v)`` on n factors gives the factors themselves and the n copies with one
    factor replaced by its derivative: the Kronecker product of those rows is the product and
    its derivatives in each factor (it is linear in each).
    """
    return torch.eye(n + 1, n, dtype=torch.bool).roll(1, 0).unsqueeze(-1)


def _cnot_table() -> tuple[np.ndarray, np.ndarray]:
    """CNOT conjugation of two-qubit Pauli strings ``4 a + b`` (control a): (image, sign)."""
    cnot = np.array([[1, 0, 0, 0], [0, 1, 0, 0], [0, 0, 0, 1], [0, 0, 1, 0]])
    strings = [np.kron(_PAULIS[a], _PAULIS[b]) for a in range(4) for b in range(4)]
    image, sign = np.zeros(16, np.int64), np.zeros(16)
    for i, string in enumerate(strings):
        moved = cnot @ string @ cnot
        coeffs = [np.trace(s.conj().T @ moved).real / 4 for s in strings]
        image[i] = int(np.argmax(np.abs(coeffs)))
        sign[i] = coeffs[image[i]]
    return image, sign


@lru_cache(maxsize=64)
def clifford_action(pairs: tuple[tuple[int, int], ...], n: int, dtype: torch.dtype):
    """The CNOT layer ``pairs`` (applied in order) on Pauli strings: ``U P_b U^dag = s_b P_a``.

    Returns ``(image, sign)``: ``(4**n,)`` int64 ``a`` and ``(4**n,)`` real ``s_b``. In the
    Heisenberg picture a row of Pauli coefficients ``o`` becomes ``o[image] * sign``.
    (Cached: do not modify.)
    """
    table_image, table_sign = _cnot_table()
    digits = np.stack([(np.arange(4**n) >> (2 * (n - 1 - q))) & 3 for q in range(n)], -1)
    sign = np.ones(4**n)
    for control, target in pairs:
        pair = 4 * digits[:, control] + digits[:, target]
        sign *= table_sign[pair]
        digits[:, control], digits[:, target] = table_image[pair] // 4, table_image[pair] % 4
    image = (digits * 4 ** np.arange(n - 1, -1, -1)).sum(-1)
    return torch.as_tensor(image), torch.as_tensor(sign, dtype=dtype)


@lru_cache(maxsize=64)
def measured_factors(n: int, wires: tuple[int, ...], probs: bool, dtype: torch.dtype):
    """The measured observables as Kronecker products: ``(ident, zpart)``, each ``(M, n, 4)``.

    Row m's factor on qubit q is ``ident[m, q] + zpart[m, q, 3] Z``: ``Z`` on ``wires[m]``
    (``"z"``) or the projector ``(I +- Z) / 2`` of outcome m on each measured wire (probs).
    """
    count = 2 ** len(wires) if probs else len(wires)
    ident = torch.zeros(count, n, 4, dtype=dtype)
    ident[..., 0] = 1.0
    zpart = torch.zeros(count, n, 4, dtype=dtype)
    for m in range(count):
        for j, w in enumerate(wires):
            if probs:
                ident[m, w, 0] = 0.5
                zpart[m, w, 3] = 0.5 - ((m >> (len(wires) - 1 - j)) & 1)
            elif j == m:
                ident[m, w, 0], zpart[m, w, 3] = 0.0, 1.0
    return ident, zpart


@lru_cache(maxsize=64)
def observable_rows(n: int, wires: tuple[int, ...], probs: bool, dtype: torch.dtype):
    """The measured observables in the Pauli basis, ``(M, 4**n)`` (:func:`measured_factors`
    multiplied out). (Cached: do not modify.)"""
    ident, zpart = measured_factors(n, wires, probs, dtype)
    return kron_vectors(ident + zpart).contiguous()


@lru_cache(maxsize=64)
def landing_strings(n: int, wires: tuple[int, ...], probs: bool, pairs: tuple, dtype: torch.dtype):
    """Where the CNOT layer before the last rotations moves the observables' Pauli strings.

    After the last rotation layer a ``"z"`` observable is X, Y or Z on its wire (3 m strings,
    wire-major), a ``probs`` projector any string on the measured wires (4**m, first wire the
    most significant digit). Returns ``(index, sign)``: ``(S * n,)`` positions ``4 q + digit``
    of the image strings' digits in an ``(n, 4)`` table, and the ``(S,)`` signs.
    """
    m = len(wires)
    if probs:
        on_wires = [[(j >> (2 * (m - 1 - i))) & 3 for i in range(m)] for j in range(4**m)]
    else:
        on_wires = [[d * (i == k) for i in range(m)] for k in range(m) for d in (1, 2, 3)]
    digits = torch.zeros(len(on_wires), n, dtype=torch.int64)
    digits[:, list(wires)] = torch.tensor(on_wires)
    sign = torch.ones(len(on_wires), dtype=dtype)
    if pairs:
        image, signs = clifford_action(pairs, n, dtype)
        moved = inverse_image(image)[(digits * 4 ** torch.arange(n - 1, -1, -1)).sum(-1)]
        sign = signs[moved]
        digits = torch.stack([(moved >> (2 * (n - 1 - q))) & 3 for q in range(n)], -1)
    return (digits + 4 * torch.arange(n)).reshape(-1), sign


@lru_cache(maxsize=64)
def inverse_image(image: torch.Tensor) -> torch.Tensor:
    """The inverse permutation of ``image`` (cached by identity: pass cached tensors)."""
    inverse = torch.empty_like(image)
    inverse[image] = torch.arange(len(image))
    return inverse


def kron_vectors(vecs: torch.Tensor) -> torch.Tensor:
    """Kronecker product of ``(..., n, d)`` vectors -> ``(..., d**n)``, factor 0 first."""
    n = vecs.shape[-2]
    if n == 1:
        return vecs[..., 0, :]
    if n % 2:
        return (kron_vectors(vecs[..., :-1, :]).unsqueeze(-1) * vecs[..., -1, None, :]).flatten(-2)
    return kron_vectors((vecs[..., 0::2, :, None] * vecs[..., 1::2, None, :]).flatten(-2))


def kron_vjp(vecs: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """Gradient of :func:`kron_vectors` w.r.t. its factors: ``(..., n, d)``, ``(..., d**n)``.

    Mirrors the pairwise recursion: for ``w = u (x) v``, ``g_u = G v`` and ``g_v = G^T u`` with
    ``G = g_w`` as a ``d x d`` matrix. Returns ``(..., n, d)``.
    """
    n, d = vecs.shape[-2:]
    if n == 1:
        return grad.unsqueeze(-2)
    if n % 2:
        head = vecs[..., :-1, :]
        g = grad.unflatten(-1, (-1, d))  # (..., d**(n-1), d)
        g_head = (g * vecs[..., -1, None, :]).sum(-1)
        g_last = (g * kron_vectors(head).unsqueeze(-1)).sum(-2)
        return torch.cat((kron_vjp(head, g_head), g_last.unsqueeze(-2)), -2)
    even, odd = vecs[..., 0::2, :], vecs[..., 1::2, :]
    if n == 2:
        g = grad.unflatten(-1, (1, d, d))
    else:
        pairs = (even.unsqueeze(-1) * odd.unsqueeze(-2)).flatten(-2)
        g = kron_vjp(pairs, grad).unflatten(-1, (d, d))
    g_even = (g * odd.unsqueeze(-2)).sum(-1)
    g_odd = (g * even.unsqueeze(-1)).sum(-2)
    return torch.stack((g_even, g_odd), -2).flatten(-3, -2)


@dataclass(frozen=True)
class ReadoutPlan:
    """Constants of one readout build (:func:`readout_plan`), so the build runs few ops.

    Fields: ``wires`` ``(m,)`` int64, or a full slice when every qubit is measured in order;
    ``ident``, ``zpart`` ``(M, n, 4)`` and ``(M, n, 1)``
    (:func:`measured_factors`, Z part as a column); ``index``, ``string_sign``
    (:func:`landing_strings`); ``z_mask`` ``(M, 3 m)`` with the signs (``"z"``); ``image``,
    ``sign`` ``(4**n, 1)``, ``inverse`` (the CNOT layer, :func:`clifford_action`, or None);
    ``kind``: the rotation.
    """

    wires: torch.Tensor | slice
    ident: torch.Tensor
    zpart: torch.Tensor
    index: torch.Tensor | None
    string_sign: torch.Tensor | None
    z_mask: torch.Tensor | None
    image: torch.Tensor | None
    sign: torch.Tensor | None
    inverse: torch.Tensor | None
    kind: str


@lru_cache(maxsize=64)
def readout_plan(kind, pairs, wires, probs, n, layers, dtype) -> ReadoutPlan:
    """The cached :class:`ReadoutPlan` of a block with ``layers >= 1``."""
    ident, zpart = measured_factors(n, wires, probs, dtype)
    index = string_sign = mask = None
    if layers >= 2:
        index, string_sign = landing_strings(n, wires, probs, pairs, dtype)
        if not probs:
            mask = torch.eye(len(wires), dtype=dtype).repeat_interleave(3, 1) * string_sign
    image = sign = inverse = None
    if pairs:
        image, sign = clifford_action(pairs, n, dtype)
        sign, inverse = sign.unsqueeze(-1), inverse_image(image)
    return ReadoutPlan(
        slice(None) if wires == tuple(range(n)) else torch.tensor(wires),
        ident,
        zpart[..., 3:],
        index,
        string_sign,
        mask,
        image,
        sign,
        inverse,
        kind,
    )
