"""A :class:`~qrnn.circuit.BlockSpec` as PennyLane operations and tapes.

Inputs and weights may carry a leading batch dimension; the operations are then broadcast
(PennyLane parameter broadcasting), one tape for the whole batch.
"""

from __future__ import annotations

import pennylane as qml
import torch

from qrnn.circuit import BlockSpec

_ROTATIONS = {"rx": qml.RX, "ry": qml.RY, "rz": qml.RZ}


def encoding_ops(spec: BlockSpec, x: torch.Tensor) -> list:
    """Encoding gates for inputs ``x`` of shape ``(n_qubits,)`` or ``(batch, n_qubits)``."""
    ops = []
    for q in range(spec.n_qubits):
        v = x[..., q]
        if spec.encoding in ("qlstm", "h_ry"):
            ops.append(qml.Hadamard(q))
        if spec.encoding == "qlstm":
            ops += [qml.RY(torch.atan(v), q), qml.RZ(torch.atan(v * v), q)]
        elif spec.encoding == "rx":
            ops.append(qml.RX(v, q))
        else:
            ops.append(qml.RY(v, q))
    return ops


def layer_ops(spec: BlockSpec, weights: torch.Tensor) -> list:
    """Variational layers for weights ``weight_shape`` or ``(batch, *weight_shape)``."""
    ops = []
    pairs = spec.entangler_pairs()
    for layer in range(spec.n_layers):
        ops += [qml.CNOT([c, t]) for c, t in pairs]
        for q in range(spec.n_qubits):
            w = weights[..., layer, q, :]
            if spec.rotation == "rot":
                ops.append(qml.Rot(w[..., 0], w[..., 1], w[..., 2], wires=q))
            else:
                ops.append(_ROTATIONS[spec.rotation](w[..., 0], wires=q))
    return ops


def measurements(spec: BlockSpec) -> list:
    """``expval(Z_k)`` per measured qubit, or one ``probs`` over the measured qubits."""
    if spec.measurement == "z":
        return [qml.expval(qml.Z(q)) for q in spec.wires]
    return [qml.probs(wires=list(spec.wires))]


def block_tape(spec: BlockSpec, x, weights, shots: int | None = None) -> qml.tape.QuantumScript:
    """The whole block as one (possibly broadcast) tape with ``shots`` (None = analytic)."""
    ops = encoding_ops(spec, x) + layer_ops(spec, weights)
    return qml.tape.QuantumScript(ops, measurements(spec), shots=shots)


def stack_results(spec: BlockSpec, result) -> torch.Tensor:
    """Turn a tape result into ``([batch,] output_size)``: Z values stacked last, or probs."""
    if spec.measurement == "probs":
        return result[0] if isinstance(result, (tuple, list)) else result
    if not isinstance(result, (tuple, list)):
        result = (result,)
    return torch.stack([torch.as_tensor(r) for r in result], -1)
