"""Shared helpers for the quantum tests (``tests.qrnn.qrnn_cases``); the reference is
default.qubit."""

from __future__ import annotations

import pennylane as qml
import torch
from hypothesis import strategies as st

from qrnn.circuit import ENCODINGS, ENTANGLERS, ROTATIONS, BlockSpec
from qrnn.pl_circuit import block_tape, stack_results

TOL = 1e-6
"""Agreement required between executions in float64 (values and gradients)."""


def reference(spec: BlockSpec, x: torch.Tensor, weights: torch.Tensor) -> torch.Tensor:
    """The block on default.qubit (one broadcast tape, backprop through torch)."""
    result = qml.execute([block_tape(spec, x, weights)], qml.device("default.qubit"), "backprop")
    return stack_results(spec, result[0])


@st.composite
def block_specs(draw, max_qubits: int = 10, measurements=("z", "z", "probs")) -> BlockSpec:
    """Random block descriptions of every encoding/entangler/rotation kind and of the
    ``measurements`` kinds (drawn uniformly from that sequence)."""
    n = draw(st.integers(1, max_qubits))
    measurement = draw(st.sampled_from(list(measurements)))
    k = draw(st.integers(1, min(n, 3 if measurement == "probs" else n)))
    measured = tuple(draw(st.permutations(range(n)))[:k])
    return BlockSpec(
        n_qubits=n,
        n_layers=draw(st.integers(0, 3)),
        encoding=draw(st.sampled_from(sorted(ENCODINGS))),
        entangler=draw(st.sampled_from(sorted(ENTANGLERS))),
        rotation=draw(st.sampled_from(sorted(ROTATIONS))),
        measurement=measurement,
        measured=measured,
    )


def random_args(spec: BlockSpec, seed: int, batch: int | None, per_sample: bool):
    """Inputs ``([batch,] n)`` and weights (shared or ``(batch, ...)``), angles in [-pi, pi]."""
    gen = torch.Generator().manual_seed(seed)
    xshape = (spec.n_qubits,) if batch is None else (batch, spec.n_qubits)
    wshape = ((batch,) if per_sample else ()) + spec.weight_shape
    x = (torch.rand(xshape, generator=gen, dtype=torch.float64) * 2 - 1) * torch.pi
    w = (torch.rand(wshape, generator=gen, dtype=torch.float64) * 2 - 1) * torch.pi
    return x, w


def assert_paths_agree(loss, path: str, grad_atol: float, reference: str = "reference"):
    """``loss(path)`` -> ``(value, grads)`` equals ``loss(reference)``: the value to 1e-12 and
    every gradient to ``grad_atol`` (absolute)."""
    value, grads = loss(path)
    want, want_grads = loss(reference)
    torch.testing.assert_close(value, want, atol=1e-12, rtol=0)
    for g, r in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(g, r, atol=grad_atol, rtol=0)
