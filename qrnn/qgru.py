"""Quantum GRU and quantum Elman RNN: the QLSTM construction on the other classical cells.

Every affine map of the classical cell is a variational circuit of the QLSTM kind (H,
RY(arctan v), RZ(arctan v^2) encoding, ``n_layers`` x (ring + distance-2 CNOTs, Rot), <Z> of
the first ``hidden_size`` qubits), its inputs zero-padded to ``n_qubits``::

    QGRU:  r = sigmoid(VQC_r([x_t, h])), z = sigmoid(VQC_z([x_t, h])),
           n = tanh(VQC_n([x_t, r * h])), h_t = (1 - z) * n + z * h
    QRNN:  h_t = tanh(VQC([x_t, h]))

``y_t = h_t`` (``output_size = hidden_size``); the state is ``h``. Weights 0.01 N(0, 1).

On the ``"fast"`` backend with exact values both run the whole sequence as one fused kernel
(:func:`qrnn.sim.recurrent_gated.gated_sequence`, compiled C); ``path="reference"`` keeps
the per-step code below, which every other backend runs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from qrnn.cells import Circuit, QuantumBody, check_fit, circuit_weights, pad_inputs
from qrnn.circuit import BlockSpec
from qrnn.sim.block import PAULI_MAX_QUBITS
from qrnn.sim.recurrent_gated import gated_sequence


class _GatedCircuits(QuantumBody):
    """Shared construction of :class:`QGRU` and :class:`QRNN` (``count`` circuits)."""

    count = 1

    def __init__(self, input_size: int, hidden_size: int, *, n_qubits: int | None = None,
                 n_layers: int = 2, num_layers: int = 1, backend: str = "fast",
                 shots: int | None = None, noise=None, seed: int = 0,
                 path: str = "auto") -> None:
        n_qubits = input_size + hidden_size if n_qubits is None else n_qubits
        super().__init__(input_size, hidden_size, num_layers=num_layers, backend=backend,
                         shots=shots, noise=noise, seed=seed, path=path)
        check_fit(input_size, hidden_size, n_qubits, n_qubits)
        self.n_qubits, self.n_layers = n_qubits, n_layers
        self.spec = BlockSpec(n_qubits, n_layers, "qlstm", "ring2", "rot",
                              measured=tuple(range(hidden_size)))
        self.weights = circuit_weights(self.count, self.spec)
        self.output_size = hidden_size

    @property
    def fused(self) -> bool:
        """Whether :meth:`forward` runs the fused sequence (``"fast"`` backend, exact values,
        ``path`` not ``"reference"``, at most 6 qubits)."""
        return (self.backend == "fast" and self.shots is None and self.path != "reference"
                and self.n_qubits <= PAULI_MAX_QUBITS)

    def _fused_forward(self, x: Tensor, state, cell: str) -> tuple[Tensor, Tensor]:
        x = self.check_input(x, self.weights.dtype)
        hs = gated_sequence(self.spec, self.weights, x, state, cell=cell, path=self.path)
        return hs, hs[:, -1]

    def _start(self, x: Tensor, state):
        x = self.check_input(x, self.weights.dtype)
        h = x.new_zeros(x.shape[0], self.hidden_size) if state is None else state
        return x, h, self.executor(self.spec).compile(list(self.weights.unbind(0)))


class QGRU(_GatedCircuits):
    """Quantum GRU body: three circuits (reset, update, candidate); see module docstring.

    Args: as :class:`~qrnn.qlstm.QLSTM` without ``variant``. Shapes: ``x (B, T, input_size)``
    -> ``y (B, T, hidden_size)``, state ``h (B, hidden_size)``.
    """

    count = 3

    def circuits(self) -> list[Circuit]:
        return [Circuit("reset+update", self.spec, 2, 0), Circuit("candidate", self.spec, 1, 1)]

    def forward(self, x: Tensor, state=None) -> tuple[Tensor, Tensor]:
        if self.fused:
            return self._fused_forward(x, state, "gru")
        x, h, block = self._start(x, state)
        gates, candidate = block.split([2, 1])
        ys = []
        for t in range(x.shape[1]):
            rz = torch.sigmoid(gates(pad_inputs([x[:, t], h], self.n_qubits)))  # (B, 2, H)
            r, z = rz[:, 0], rz[:, 1]
            n = torch.tanh(candidate(pad_inputs([x[:, t], r * h], self.n_qubits))[:, 0])
            h = (1 - z) * n + z * h
            ys.append(h)
        return torch.stack(ys, 1), h


class QRNN(_GatedCircuits):
    """Quantum Elman RNN body: one circuit, ``h_t = tanh(VQC([x_t, h_{t-1}]))``.

    Args: as :class:`~qrnn.qlstm.QLSTM` without ``variant``. Shapes: ``x (B, T, input_size)``
    -> ``y (B, T, hidden_size)``, state ``h (B, hidden_size)``.
    """

    count = 1

    def circuits(self) -> list[Circuit]:
        return [Circuit("cell", self.spec, 1, 0)]

    def forward(self, x: Tensor, state=None) -> tuple[Tensor, Tensor]:
        if self.fused:
            return self._fused_forward(x, state, "elman")
        x, h, block = self._start(x, state)
        ys = []
        for t in range(x.shape[1]):
            h = torch.tanh(block(pad_inputs([x[:, t], h], self.n_qubits))[:, 0])
            ys.append(h)
        return torch.stack(ys, 1), h
