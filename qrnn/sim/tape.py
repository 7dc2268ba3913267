"""Simulate an arbitrary PennyLane tape with the fast torch simulator (pure functions).

Used by the ``qrnn.fast`` device. The state is ``(B, 2**n)`` complex128 (``B = 1`` for an
unbroadcast tape); every gate is applied as its (possibly broadcast) matrix, so gradients flow
through torch parameters. Measurement post-processing (shapes, eigenvalues, counts) is
PennyLane's own ``process_state`` / ``process_samples``.
"""

from __future__ import annotations

import numpy as np
import pennylane as qml
import torch
from pennylane.measurements import (
    CountsMP,
    ExpectationMP,
    ProbabilityMP,
    SampleMP,
    StateMP,
    VarianceMP,
)
from pennylane.wires import Wires

from qrnn.sim.encode import zero_state
from qrnn.sim.gates import apply_matrix
from qrnn.sim.measure import index_bits, probabilities, sample_indices

SUPPORTED_OPS = frozenset(
    {
        "Identity",
        "Hadamard",
        "PauliX",
        "PauliY",
        "PauliZ",
        "S",
        "T",
        "SX",
        "RX",
        "RY",
        "RZ",
        "Rot",
        "U3",
        "PhaseShift",
        "CNOT",
        "CY",
        "CZ",
        "SWAP",
        "CRX",
        "CRY",
        "CRZ",
        "CRot",
        "ControlledPhaseShift",
        "Toffoli",
        "QubitUnitary",
    }
)
"""Operations applied directly; PennyLane decomposes anything else into these."""
ANALYTIC_MPS = (ExpectationMP, VarianceMP, ProbabilityMP, StateMP)
SAMPLED_MPS = (ExpectationMP, VarianceMP, ProbabilityMP, SampleMP, CountsMP)


def is_torch(value) -> bool:
    """Whether ``value`` is a torch tensor."""
    return isinstance(value, torch.Tensor)


def apply_operations(state: torch.Tensor, ops, n: int) -> torch.Tensor:
    """Apply ``ops`` (wires already mapped to 0..n-1) to a ``(B, 2**n)`` complex128 state."""
    for op in ops:
        if op.name == "Identity":
            continue
        mat = torch.as_tensor(op.matrix()).to(torch.complex128)
        state = apply_matrix(state, mat, tuple(op.wires), n)
    return state


def _rotate(state: torch.Tensor, mp, n: int) -> torch.Tensor:
    ops = mp.diagonalizing_gates() if mp.obs is not None else []
    return apply_operations(state, ops, n)


def measure_analytic(mp, state: torch.Tensor, n: int, batched: bool):
    """Exact value of one measurement; ``state`` is ``(B, 2**n)``."""
    wire_order = Wires(range(n))
    if isinstance(mp, ExpectationMP) and isinstance(mp.obs, qml.ops.Sum):
        coeffs, terms = mp.obs.terms()
        parts = [measure_analytic(qml.expval(t), state, n, batched) for t in terms]
        return sum(c * p for c, p in zip(coeffs, parts, strict=True))
    rotated = _rotate(state, mp, n)
    flat = rotated if batched else rotated[0]
    return mp.process_state(flat, wire_order)


def measure_sampled(mp, state, n: int, shots, batched: bool, generator: torch.Generator):
    """Finite-shot value(s) of one measurement; a tuple over bins for a shot vector."""
    if isinstance(mp, ExpectationMP) and isinstance(mp.obs, qml.ops.Sum):
        coeffs, terms = mp.obs.terms()
        parts = [measure_sampled(qml.expval(t), state, n, shots, batched, generator) for t in terms]
        if shots.has_partitioned_shots:
            bins = range(len(parts[0]))
            return tuple(sum(c * p[i] for c, p in zip(coeffs, parts, strict=True)) for i in bins)
        return sum(c * p for c, p in zip(coeffs, parts, strict=True))
    probs = probabilities(_rotate(state, mp, n).detach())
    idx = sample_indices(probs, shots.total_shots, generator)  # (B, total)
    samples = index_bits(idx, n).numpy()  # (B, total, n)
    wire_order = Wires(range(n))
    results, lower = [], 0
    for bin_shots in shots:
        rng = (lower, lower + bin_shots)
        per_item = [mp.process_samples(s, wire_order, shot_range=rng) for s in samples]
        results.append(_stack(per_item) if batched else per_item[0])
        lower += bin_shots
    return tuple(results) if shots.has_partitioned_shots else results[0]


def _stack(items):
    if isinstance(items[0], dict):
        return items
    return np.stack([np.asarray(i) for i in items])


def simulate(circuit: qml.tape.QuantumScript, generator: torch.Generator, torch_results: bool):
    """Execute one tape: the result in PennyLane's layout (single value or tuple).

    Analytic results are torch tensors when ``torch_results`` is set or a parameter is a torch
    tensor (backprop), else numpy arrays; sampled results are numpy arrays.
    """
    circuit = circuit.map_to_standard_wires()
    n = max(circuit.num_wires, 1)
    batched = circuit.batch_size is not None
    state = zero_state(n, circuit.batch_size or 1, torch.float64)
    state = apply_operations(state, circuit.operations, n)
    use_torch = torch_results or any(
        is_torch(p) for p in circuit.get_parameters(trainable_only=False)
    )
    if circuit.shots:
        results = tuple(
            measure_sampled(mp, state, n, circuit.shots, batched, generator)
            for mp in circuit.measurements
        )
        if circuit.shots.has_partitioned_shots:
            results = tuple(zip(*results, strict=True))
            results = tuple(r[0] if len(r) == 1 else r for r in results)
            return results
    else:
        results = tuple(measure_analytic(mp, state, n, batched) for mp in circuit.measurements)
        if not use_torch:
            results = tuple(_to_numpy(r) for r in results)
    return results[0] if len(results) == 1 else results


def _to_numpy(value):
    if is_torch(value):
        return value.detach().numpy()
    return value
