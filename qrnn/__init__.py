"""Quantum recurrent models: one circuit description, several executions.

Models (sequence bodies, ``x (batch, time, features)`` -> ``(y, state)``, on ``backend="fast"``
or any PennyLane device, ``shots=``, ``seed=``): :class:`QLSTM` (``qrnn.qlstm``),
:class:`QGRU` and :class:`QRNN` (``qrnn.qgru``), :class:`QuantumReservoir`
(``qrnn.reservoir``), :class:`QFWP` (``qrnn.qfwp``); what they share is in ``qrnn.cells``.

A :class:`BlockSpec` describes a variational block (encoding, entangler, rotation layers,
measurement). It runs on ``"fast"`` (:mod:`qrnn.sim`, a batched torch statevector simulator,
differentiable by autograd) or on any PennyLane device (``"default.qubit"``,
``"lightning.qubit"``, ``"qiskit.aer"``, ``"qrnn.fast"``...), analytic or with shots.

How a recurrent cell uses it (weights built into one unitary once per forward pass, reused
by every time step and batch item; several circuits that read the same input fused)::

    import torch
    import qrnn

    spec = qrnn.BlockSpec(n_qubits=4, n_layers=2, encoding="qlstm", entangler="ring2")
    gen = torch.Generator().manual_seed(0)
    gates = [torch.nn.Parameter(spec.init_weights(gen)) for _ in range(4)]  # f, i, g, o
    ex = qrnn.BlockExecutor(spec, qrnn.Backend("fast"))  # or Backend("default.qubit")

    def forward(x):                        # x: (batch, time, 4)
        block = ex.compile(gates)          # (1) once per forward pass
        for t in range(x.shape[1]):
            z = block(x[:, t])             # (3) (batch, 4 circuits, 4) <Z_k>, autograd
            ...

    # circuits reading different inputs, built once: gates4, outs2 = block6.split([4, 2])
    # (2) per-sample weights (fast weight programmer): a leading batch dimension
    theta = torch.zeros(32, *spec.weight_shape, dtype=torch.float64)
    z = ex.compile(theta)(torch.rand(32, 4, dtype=torch.float64))  # (32, 4)

Hardware view: :func:`qrnn.hardware.to_qiskit`, :func:`qrnn.hardware.transpile_report`,
and ``Backend("qiskit.aer", shots=..., noise=NoiseConfig(...))`` for NISQ noise. The PennyLane
device ``qml.device("qrnn.fast", wires=n)`` runs ordinary circuits on the same simulator.
Imports are lazy: ``import qrnn`` loads neither PennyLane nor Qiskit.
"""

from __future__ import annotations

from importlib import import_module

_EXPORTS = {
    "QLSTM": "qrnn.qlstm",
    "QGRU": "qrnn.qgru",
    "QRNN": "qrnn.qgru",
    "QFWP": "qrnn.qfwp",
    "QuantumReservoir": "qrnn.reservoir",
    "QuantumNeuronRNN": "qrnn.neuron_rnn",
    "QuantumNeuronConfig": "qrnn.neuron_rnn",
    "NeuronSpec": "qrnn.neuron",
    "BlockSpec": "qrnn.circuit",
    "CircuitBlock": "qrnn.circuit",
    "CompiledBlock": "qrnn.sim.block",
    "run_fast": "qrnn.sim.block",
    "Backend": "qrnn.execute",
    "BlockExecutor": "qrnn.execute",
    "NoiseConfig": "qrnn.noise",
    "run_block": "qrnn.execute",
    "FastQubitDevice": "qrnn.device",
    "to_qiskit": "qrnn.hardware",
    "transpile_report": "qrnn.hardware",
}
__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name == "run_fast":
        return import_module("qrnn.sim.block").run_block
    if name in _EXPORTS:
        return getattr(import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'qrnn' has no attribute {name!r}")
