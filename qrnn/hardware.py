"""Hardware view through Qiskit: export a block, transpile it, build a NISQ noise model.

Qiskit is imported inside the functions (it takes seconds). To *run* a block under noise,
use ``Backend("qiskit.aer", shots=..., noise=NoiseConfig(...))`` from :mod:`qrnn.execute`,
which passes :func:`qrnn.noise.noise_model` to pennylane-qiskit's ``qiskit.aer`` device.

Qubit k of a block is Qiskit qubit k (Qiskit prints bit strings little-endian, qubit 0 last).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from qrnn.circuit import BlockSpec, check_inputs, check_weights
from qrnn.noise import NoiseConfig, noise_model

__all__ = ["BASES", "NoiseConfig", "TranspileReport", "noise_model", "to_qiskit",
           "transpile_report"]

BASES = {
    "ibm": ("cx", "rz", "sx", "x"),
    "ibm_heron": ("cz", "rz", "sx", "x"),
    "rigetti": ("cz", "rx", "rz"),
}
"""Named basis gate sets for :func:`transpile_report`."""


def to_qiskit(spec: BlockSpec, x, weights, measure: bool = True):
    """One sample of the block as a ``qiskit.QuantumCircuit``.

    Args:
        x: ``(n_qubits,)`` input values.
        weights: ``spec.weight_shape`` angles in radians.
        measure: append a measurement of every qubit into classical bit of the same index.
    """
    from qiskit import QuantumCircuit

    x, w = check_inputs(spec, x), check_weights(spec, weights)
    if x.ndim != 1 or w.ndim != 3:
        raise ValueError(
            f"to_qiskit exports one sample: x must be ({spec.n_qubits},) and weights "
            f"{spec.weight_shape}; got {tuple(x.shape)} and {tuple(w.shape)}"
        )
    x, w = x.detach().double().tolist(), w.detach().double()
    n = spec.n_qubits
    qc = QuantumCircuit(n, n if measure else 0)
    for q, v in enumerate(x):
        if spec.encoding in ("qlstm", "h_ry"):
            qc.h(q)
        if spec.encoding == "qlstm":
            qc.ry(float(torch.atan(torch.tensor(v))), q)
            qc.rz(float(torch.atan(torch.tensor(v * v))), q)
        elif spec.encoding == "rx":
            qc.rx(v, q)
        else:
            qc.ry(v, q)
    pairs = spec.entangler_pairs()
    for layer in range(spec.n_layers):
        for c, t in pairs:
            qc.cx(c, t)
        for q in range(n):
            angles = w[layer, q].tolist()
            if spec.rotation == "rot":
                qc.rz(angles[0], q)
                qc.ry(angles[1], q)
                qc.rz(angles[2], q)
            else:
                getattr(qc, spec.rotation)(angles[0], q)
    if measure:
        qc.measure(range(n), range(n))
    return qc


@dataclass(frozen=True)
class TranspileReport:
    """What a block costs on a device after transpilation.

    Fields:
        basis: basis gate names used.
        coupling: coupling map description (``"full"``, ``"line"``, ``"ring"`` or edge list).
        depth: circuit depth after transpilation (measurements included).
        two_qubit_gates: number of two-qubit gates after transpilation.
        ops: gate name -> count after transpilation.
    """

    basis: tuple[str, ...]
    coupling: str
    depth: int
    two_qubit_gates: int
    ops: dict


def transpile_report(
    circuit, basis="ibm", coupling="line", optimization_level: int = 1, seed: int = 0
) -> TranspileReport:
    """Transpile ``circuit`` (a ``QuantumCircuit``) and report depth and two-qubit gate count.

    Args:
        basis: a name in :data:`BASES` or a tuple of Qiskit gate names.
        coupling: ``"full"`` (all-to-all), ``"line"``, ``"ring"`` or a list of (q, q) edges.
        optimization_level: Qiskit optimization level 0..3.
        seed: transpiler seed (reproducible layout/routing).
    """
    from qiskit import transpile
    from qiskit.transpiler import CouplingMap

    if isinstance(basis, str):
        if basis not in BASES:
            raise ValueError(f"basis={basis!r} is not a known basis; choose one of {sorted(BASES)}")
        basis = BASES[basis]
    basis = tuple(basis)
    n = circuit.num_qubits
    if coupling == "full":
        cmap = None
    elif coupling == "line":
        cmap = CouplingMap.from_line(n)
    elif coupling == "ring":
        cmap = CouplingMap.from_ring(n) if n > 2 else CouplingMap.from_line(n)
    elif isinstance(coupling, (list, tuple)):
        cmap = CouplingMap([list(e) for e in coupling])
    else:
        raise ValueError(
            f"coupling={coupling!r} must be 'full', 'line', 'ring' or a list of (q, q) edges"
        )
    if optimization_level not in (0, 1, 2, 3):
        raise ValueError(f"optimization_level={optimization_level!r} must be 0, 1, 2 or 3")
    out = transpile(
        circuit,
        basis_gates=list(basis),
        coupling_map=cmap,
        optimization_level=optimization_level,
        seed_transpiler=seed,
    )
    two = sum(
        1
        for inst in out.data
        if inst.operation.num_qubits == 2 and inst.operation.name != "barrier"
    )
    return TranspileReport(
        basis=basis,
        coupling=coupling if isinstance(coupling, str) else str(list(coupling)),
        depth=out.depth(),
        two_qubit_gates=two,
        ops=dict(out.count_ops()),
    )
