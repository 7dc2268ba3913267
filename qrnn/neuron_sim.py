"""Gate-by-gate reference execution of neuron circuits (:func:`qrnn.neuron.neuron_ops`).

The state holds the register and the ancillas, ``(B, 2**n)`` real (RY, CRY and Z are real);
a ``"post"`` gate projects its qubit on ``|0>``, renormalises and records the success
probability. This is the literal circuit the closed-form fast path
(:func:`qrnn.neuron.apply_neuron`) must agree with; it is slow by design (one torch call per
gate) and differentiable by autograd.
"""

from __future__ import annotations

import torch

from qrnn.neuron import Gate, check_success
from qrnn.sim.gates import apply_matrix

REFERENCE_MAX_QUBITS = 16
"""Largest register + ancillas the gate-by-gate reference accepts."""


def _ry(angle, batch: int, dtype: torch.dtype) -> torch.Tensor:
    """``(B, 2, 2)`` real RY matrices for a float or ``(B,)`` angle."""
    half = torch.as_tensor(angle, dtype=dtype).expand(batch) / 2
    c, s = torch.cos(half), torch.sin(half)
    return torch.stack([torch.stack([c, -s], -1), torch.stack([s, c], -1)], -2)


def _controlled(mat: torch.Tensor) -> torch.Tensor:
    """``(B, 2, 2)`` -> ``(B, 4, 4)``: identity on control 0, ``mat`` on control 1."""
    eye = torch.eye(2, dtype=mat.dtype).expand_as(mat)
    zero = torch.zeros_like(mat)
    return torch.cat([torch.cat([eye, zero], -1), torch.cat([zero, mat], -1)], -2)


def run_ops(state: torch.Tensor, ops: list[Gate], n: int, on_underflow: str = "raise"):
    """Apply ``ops`` to ``state`` ``(B, 2**n)`` real.

    Returns:
        ``(state, p, clamped)``: the final (renormalised) state, the product ``(B,)`` of the
        success probabilities of every postselection and a ``(B,)`` flag of samples clamped
        at the underflow floor (``on_underflow="clamp"``).
    """
    if n > REFERENCE_MAX_QUBITS:
        raise ValueError(
            f"{n} qubits (register + ancillas) exceed the gate-by-gate reference's limit of "
            f"{REFERENCE_MAX_QUBITS}"
        )
    batch, dtype = state.shape[0], state.dtype
    success = torch.ones(batch, dtype=dtype)
    clamped = torch.zeros(batch, dtype=torch.bool)
    for gate in ops:
        if gate.kind == "ry":
            state = apply_matrix(state, _ry(gate.angle, batch, dtype), gate.wires, n)
        elif gate.kind == "cry":
            mat = _controlled(_ry(gate.angle, batch, dtype))
            state = apply_matrix(state, mat, gate.wires, n)
        elif gate.kind == "z":
            sign = 1 - 2 * ((torch.arange(2**n) >> (n - 1 - gate.wires[0])) & 1)
            state = state * sign.to(dtype)
        elif gate.kind == "post":
            keep = ((torch.arange(2**n) >> (n - 1 - gate.wires[0])) & 1) == 0
            state = state * keep.to(dtype)
            p = state.square().sum(-1)
            p, low = check_success(p, on_underflow, f"postselection of qubit {gate.wires[0]}")
            clamped = clamped | low
            state = state * p.rsqrt()[:, None]
            success = success * p
        else:
            raise ValueError(f"unknown gate kind {gate.kind!r}; allowed: ry, cry, z, post")
    return state, success, clamped


def zero_state(batch: int, n: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    """``(B, 2**n)`` real ``|0...0>``."""
    state = torch.zeros(batch, 2**n, dtype=dtype)
    state[:, 0] = 1
    return state


__all__ = ["REFERENCE_MAX_QUBITS", "run_ops", "zero_state"]
