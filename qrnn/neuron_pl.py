"""Neuron circuits (:func:`qrnn.neuron.neuron_ops`) on PennyLane devices.

- ``default.qubit``, exact: every postselection is a mid-circuit ``qml.measure(q,
  postselect=0)`` simulated by tree traversal (no extra wires per measurement); the readout is
  renormalised on success by PennyLane, differentiable by backprop. The success probability
  comes from a second execution without postselection (``qml.probs`` of the measurement
  outcomes, with deferred measurements: one extra wire each). Per-sample angles broadcast:
  one tape for the whole batch.
- ``qiskit.aer``, with shots: pennylane-qiskit has no native mid-circuit measurement and no
  projector, so it cannot postselect; each measurement is deferred to one extra qubit and
  sampled, and the shots whose ancilla outcomes are not all 0 are discarded here (what
  hardware would do). Sampled estimates carry no gradient. Circuits wider than
  :data:`AER_MAX_WIRES` after deferral raise a ValueError.
"""

from __future__ import annotations

import pennylane as qml
import torch

from qrnn.neuron import Gate

AER_MAX_WIRES = 24
"""Widest circuit (qubits + one per deferred mid-circuit measurement) sent to qiskit.aer."""
SUCCESS_MAX_MEASUREMENTS = 12
"""Most mid-circuit measurements whose joint outcome distribution default.qubit enumerates to
report the exact success probability (``2**count`` outcomes)."""
BACKENDS = ("default.qubit", "qiskit.aer")


def queue(ops: list[Gate], postselect: bool = True) -> list:
    """Queue ``ops`` inside a quantum function; returns the mid-circuit measurement values.

    Angles are floats, 0-d tensors or ``(B,)`` tensors (broadcast). Without ``postselect``
    each measured ancilla is reset to ``|0>`` so that later gadgets can reuse it.
    """
    mcms = []
    for gate in ops:
        if gate.kind == "ry":
            qml.RY(gate.angle, wires=gate.wires[0])
        elif gate.kind == "cry":
            qml.CRY(gate.angle, wires=list(gate.wires))
        elif gate.kind == "z":
            qml.Z(gate.wires[0])
        elif postselect:
            mcms.append(qml.measure(gate.wires[0], postselect=0))
        else:
            mcms.append(qml.measure(gate.wires[0], reset=True))
    return mcms


def check_backend(name: str, shots: int | None) -> None:
    """Raise unless ``name`` can run postselected neuron circuits with ``shots``."""
    if name not in BACKENDS:
        raise ValueError(
            f"backend {name!r} cannot run neuron circuits (mid-circuit measurement with "
            f"postselection); allowed: fast, {', '.join(BACKENDS)}"
        )
    if name == "qiskit.aer" and shots is None:
        raise ValueError(
            "qiskit.aer cannot postselect mid-circuit measurements exactly (pennylane-qiskit "
            "defers them and has no projector); give shots=N to discard failed shots instead"
        )


def run_exact(ops: list[Gate], readout: tuple[int, ...], success: bool = False):
    """The circuit on default.qubit: readout probabilities on success, ``([B,] 2**r)``, and
    (with ``success``) the success probability ``([B,])``, else None. Angles may be floats,
    0-d tensors or ``(B,)`` tensors (broadcast)."""
    device = qml.device("default.qubit")

    def postselected():
        queue(ops)
        return qml.probs(wires=list(readout))

    kwargs = {"interface": "torch", "diff_method": "backprop", "mcm_method": "tree-traversal"}
    probs = qml.QNode(postselected, device, **kwargs)()
    if not success:
        return probs, None
    count = sum(gate.kind == "post" for gate in ops)
    if count > SUCCESS_MAX_MEASUREMENTS:
        raise ValueError(
            f"{count} mid-circuit measurements: the exact success probability on default.qubit "
            f"enumerates 2**count outcomes, allowed up to {SUCCESS_MAX_MEASUREMENTS}"
        )

    def outcomes():
        return qml.probs(op=queue(ops, postselect=False))

    kwargs["mcm_method"] = "deferred"  # tree-traversal fails on probs of several outcomes
    return probs, qml.QNode(outcomes, device, **kwargs)()[..., 0]


def check_aer_width(n_wires: int, count: int, readout: int) -> int:
    """Qubits qiskit.aer needs for ``count`` deferred measurements and ``readout`` measured
    qubits on ``n_wires``; a ValueError above :data:`AER_MAX_WIRES`."""
    width = n_wires + count + readout
    if width > AER_MAX_WIRES:
        raise ValueError(
            f"qiskit.aer would need {width} qubits ({n_wires} + one per each of {count} deferred "
            f"mid-circuit measurements + {readout} readout), more than the limit of "
            f"{AER_MAX_WIRES}; use backend 'fast' or 'default.qubit', or a shorter circuit"
        )
    return width


def run_shots(ops: list[Gate], n_wires: int, readout: tuple[int, ...], shots: int, seed):
    """One sample's circuit on qiskit.aer with ``shots``, postselected by discarding shots.

    Returns ``(probs (2**r,), success (0-d))``: the readout distribution of the kept shots and
    the kept fraction. Raises if the deferred circuit is too wide or no shot was kept.
    """
    count = sum(gate.kind == "post" for gate in ops)
    width = check_aer_width(n_wires, count, len(readout))
    kwargs = {} if seed is None else {"seed_simulator": seed}
    device = qml.device("qiskit.aer", wires=width, **kwargs)

    def sampled():
        mcms = queue(ops, postselect=False)
        return qml.sample(op=mcms + [qml.measure(q) for q in readout])

    qnode = qml.set_shots(qml.QNode(sampled, device, interface="torch"), shots)
    samples = torch.as_tensor(qnode()).reshape(shots, -1).to(torch.int64)
    kept = samples[(samples[:, :count] == 0).all(-1), count:]
    if kept.shape[0] == 0:
        raise ValueError(f"no shot of {shots} passed the postselection; raise shots")
    weights = 2 ** torch.arange(len(readout) - 1, -1, -1)
    index = (kept * weights).sum(-1)
    probs = torch.bincount(index, minlength=2 ** len(readout)).to(torch.float64)
    return probs / kept.shape[0], torch.tensor(kept.shape[0] / shots, dtype=torch.float64)


def sample_ops(ops: list[Gate], b: int) -> list[Gate]:
    """The gate list of sample ``b`` (per-sample ``(B,)`` angles indexed)."""
    out = []
    for gate in ops:
        angle = gate.angle
        if isinstance(angle, torch.Tensor) and angle.ndim > 0:
            angle = angle[b]
        out.append(Gate(gate.kind, gate.wires, angle))
    return out


__all__ = [
    "AER_MAX_WIRES",
    "BACKENDS",
    "SUCCESS_MAX_MEASUREMENTS",
    "check_aer_width",
    "check_backend",
    "queue",
    "run_exact",
    "run_shots",
    "sample_ops",
]
