"""Input encodings as batched product states (pure functions).

Every encoding acts on each qubit separately, so the encoded state is a product state: one
2-vector per qubit, then a Kronecker product. That costs a handful of tensor ops for all
qubits at once instead of one gate application per encoding gate on the full state.
"""

from __future__ import annotations

import torch

from qrnn.sim.gates import complex_dtype, kron_tree

_Q = torch.pi / 4
# Single-qubit amplitudes (re0, im0, re1, im1) as f @ TABLE, f = cos(v / 2 + SHIFT):
#   ry:   RY(v)|0>   = (cos v/2, sin v/2)
#   rx:   RX(v)|0>   = (cos v/2, -i sin v/2)
#   h_ry: RY(v)H|0>  = (cos(v/2 + pi/4), cos(v/2 - pi/4))
_LINEAR = {
    "ry": ((0.0, -2 * _Q), ((1, 0, 0, 0), (0, 0, 1, 0))),
    "rx": ((0.0, -2 * _Q), ((1, 0, 0, 0), (0, 0, 0, -1))),
    "h_ry": ((_Q, -_Q), ((1, 0, 0, 0), (0, 0, 1, 0))),
}
# qlstm: RZ(b) RY(a) H|0>, a = arctan v, b = arctan v^2:
#   (cos(a/2 + pi/4) e^{-ib/2}, cos(a/2 - pi/4) e^{ib/2}); with f = cos(angles / 2 + shift),
#   angles (a, a, b, b, b, b): amplitude r = f[r] * (f[2 + 2r], f[3 + 2r]) as (re, im).
_QLSTM_SHIFT = torch.tensor([_Q, -_Q, 0.0, 2 * _Q, 0.0, -2 * _Q], dtype=torch.float64)


def qubit_states(kind: str, x: torch.Tensor) -> torch.Tensor:
    """Single-qubit states after the encoding, starting from |0> (differentiable by autograd).

    Args:
        kind: ``"qlstm"`` (H, RY(arctan v), RZ(arctan v^2)), ``"ry"`` (RY(v)), ``"rx"``
            (RX(v)) or ``"h_ry"`` (H, RY(v)); angles in radians.
        x: ``(..., n_qubits)`` real input values.

    Returns:
        ``(..., n_qubits, 2)`` complex amplitudes of |0> and |1> per qubit.
    """
    return _encode(kind, x, derivative=False)[0]


def qubit_states_and_derivative(kind: str, x: torch.Tensor):
    """:func:`qubit_states` and its elementwise derivative d amplitude / d x (same shape)."""
    return _encode(kind, x, derivative=True)


def _encode(kind: str, x: torch.Tensor, derivative: bool):
    dt = x.dtype
    if kind == "qlstm":
        sq = x * x
        angles = torch.atan(torch.stack((x, x, sq, sq, sq, sq), -1))
        phase = torch.add(_QLSTM_SHIFT.to(dt), angles, alpha=0.5)
        f = torch.cos(phase)
        amps = f[..., :2, None] * f[..., 2:].unflatten(-1, (2, 2))  # (..., 2, [re, im])
        if not derivative:
            return torch.view_as_complex(amps), None
        # d angle / dx: arctan' = 1 / (1 + x^2), (arctan x^2)' = 2x / (1 + x^4)
        da, db = 1 / (1 + sq), 2 * x / (1 + sq * sq)
        rate = torch.stack((da, da, db, db, db, db), -1)
        df = -torch.sin(phase) * rate / 2
        damps = df[..., :2, None] * f[..., 2:].unflatten(-1, (2, 2)) + f[..., :2, None] * df[
            ..., 2:
        ].unflatten(-1, (2, 2))
        return torch.view_as_complex(amps), torch.view_as_complex(damps)
    shift, table = _LINEAR[kind]
    phase = x.unsqueeze(-1) / 2 + torch.tensor(shift, dtype=dt)
    table = torch.tensor(table, dtype=dt)
    amps = torch.view_as_complex((torch.cos(phase) @ table).unflatten(-1, (2, 2)))
    if not derivative:
        return amps, None
    damps = (-torch.sin(phase) / 2) @ table
    return amps, torch.view_as_complex(damps.unflatten(-1, (2, 2)))


def product_state(qubits: torch.Tensor) -> torch.Tensor:
    """Kronecker product of single-qubit states.

    Args:
        qubits: ``(..., n, 2)`` complex, qubit 0 first.

    Returns:
        ``(..., 2**n)`` complex state vector, qubit 0 the most significant bit.
    """
    return kron_tree(qubits.unsqueeze(-2)).squeeze(-2)


def encode(kind: str, x: torch.Tensor) -> torch.Tensor:
    """Encoded state ``(..., 2**n)`` for inputs ``x`` of shape ``(..., n)``."""
    return product_state(qubit_states(kind, x))


def zero_state(n: int, batch: int, dtype: torch.dtype) -> torch.Tensor:
    """|0...0> as ``(batch, 2**n)`` in the complex dtype matching real ``dtype``."""
    state = torch.zeros(batch, 2**n, dtype=complex_dtype(dtype))
    state[:, 0] = 1
    return state
