"""Quantum LSTM: every affine map of the LSTM cell replaced by a variational circuit.

``variant="chen2020"`` (default; Chen, Yoo & Fang 2020): six circuits of ``n_qubits`` qubits
(4 for ``QLSTM(1, 3)``), each: per qubit H, RY(arctan v_i), RZ(arctan v_i^2), then
``n_layers`` (2) layers of CNOT(i, i+1 mod n) for all i, CNOT(i, i+2 mod n) for all i and
Rot on every qubit; read <Z_k> of every qubit. With ``v_t = [x_t, h_{t-1}]`` (zero-padded to
n_qubits)::

    f, i, o = sigmoid(VQC_1(v_t)), sigmoid(VQC_2(v_t)), sigmoid(VQC_4(v_t))
    c_t = f * c_{t-1} + i * tanh(VQC_3(v_t))                  # n_qubits wide
    h_t = VQC_5(o * tanh(c_t))[:hidden_size]
    y_t = VQC_6(o * tanh(c_t))                                 # n_qubits wide (output_size)

The paper's output layer Linear(4 -> 1) is the task head the trainer adds on ``y``: with it,
``QLSTM(1, 3)`` has 6 x 2 x 4 x 3 + 5 = 149 trainable parameters. Weights start at
0.01 N(0, 1).

``variant="chen2022"`` (a later QLSTM of the same author): four circuits on
``input_size + hidden_size`` qubits (6 for ``QLSTM(1, 5)``), H + RY(v) encoding, ``n_layers``
(5) layers of brick CNOTs + RY, <Z> of the first ``hidden_size`` qubits as the gates::

    c_t = f * c_{t-1} + i * tanh(VQC_3(v_t)); h_t = o * tanh(c_t); y_t = h_t

126 parameters with its Linear(5 -> 1) head. State: ``(h, c)``.

On the ``"fast"`` backend with exact values, chen2020 runs the whole sequence as one fused
kernel (:func:`qrnn.sim.recurrent.run_sequence`: readout build, time loop and BPTT in
compiled C); ``path="reference"`` keeps the per-step code below, which every other backend
runs.
"""

from __future__ import annotations

import torch
from torch import Tensor

from kernels.contract import check_choice
from qrnn.cells import Circuit, QuantumBody, check_fit, circuit_weights, pad_inputs
from qrnn.circuit import BlockSpec
from qrnn.sim.block import PAULI_MAX_QUBITS
from qrnn.sim.recurrent import run_sequence

VARIANTS = ("chen2020", "chen2022")
_DEFAULT_LAYERS = {"chen2020": 2, "chen2022": 5}


class QLSTM(QuantumBody):
    """Quantum LSTM body (see module docstring).

    Args:
        input_size, hidden_size: widths of ``x_t`` and ``h_t``.
        n_qubits: qubits per circuit; default ``input_size + hidden_size``.
        n_layers: variational layers per circuit; default 2 (chen2020) or 5 (chen2022).
        variant: ``"chen2020"`` or ``"chen2022"``.
        num_layers, backend, shots, noise, seed, path: see :class:`~qrnn.cells.QuantumBody`.

    Shapes: ``x (B, T, input_size)`` -> ``y (B, T, output_size)``, state ``(h (B, hidden),
    c (B, width))``; ``output_size`` and ``width`` are ``n_qubits`` (chen2020) or
    ``hidden_size`` (chen2022).
    """

    def __init__(self, input_size: int, hidden_size: int, *, n_qubits: int | None = None,
                 n_layers: int | None = None, variant: str = "chen2020", num_layers: int = 1,
                 backend: str = "fast", shots: int | None = None, noise=None, seed: int = 0,
                 path: str = "auto") -> None:
        check_choice("variant", variant, VARIANTS)
        n_qubits = input_size + hidden_size if n_qubits is None else n_qubits
        n_layers = _DEFAULT_LAYERS[variant] if n_layers is None else n_layers
        super().__init__(input_size, hidden_size, num_layers=num_layers, backend=backend,
                         shots=shots, noise=noise, seed=seed, path=path)
        check_fit(input_size, hidden_size, n_qubits, n_qubits)
        self.variant, self.n_qubits = variant, n_qubits
        if variant == "chen2020":
            self.spec = BlockSpec(n_qubits, n_layers, "qlstm", "ring2", "rot")
            self.weights = circuit_weights(6, self.spec)
            self.width = self.output_size = n_qubits
        else:
            self.spec = BlockSpec(n_qubits, n_layers, "h_ry", "brick", "ry",
                                  measured=tuple(range(hidden_size)))
            self.weights = circuit_weights(4, self.spec)
            self.width = self.output_size = hidden_size
        self.n_layers = n_layers

    @property
    def fused(self) -> bool:
        """Whether :meth:`forward` runs the fused sequence (chen2020, ``"fast"`` backend,
        exact values, ``path`` not ``"reference"``, at most 6 qubits)."""
        return (self.variant == "chen2020" and self.backend == "fast" and self.shots is None
                and self.path != "reference" and self.n_qubits <= PAULI_MAX_QUBITS)

    def circuits(self) -> list[Circuit]:
        if self.variant == "chen2020":
            return [Circuit("gates", self.spec, 4, 0), Circuit("hidden+output", self.spec, 2, 1)]
        return [Circuit("gates", self.spec, 4, 0)]

    def forward(self, x: Tensor, state=None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        x = self.check_input(x, self.weights.dtype)
        if self.fused:
            ys, hs, c = run_sequence(self.spec, self.weights, x, state, self.hidden_size,
                                     self.path)
            return ys, (hs[:, -1], c)
        batch, steps = x.shape[:2]
        if state is None:
            h = x.new_zeros(batch, self.hidden_size)
            c = x.new_zeros(batch, self.width)
        else:
            h, c = state
        block = self.executor(self.spec).compile(list(self.weights.unbind(0)))
        chen2020 = self.variant == "chen2020"
        gates, outs = block.split([4, 2]) if chen2020 else (block, None)
        ys = []
        for t in range(steps):
            z = gates(pad_inputs([x[:, t], h], self.n_qubits))  # (B, 4, width)
            f, i, o = torch.sigmoid(z[:, 0]), torch.sigmoid(z[:, 1]), torch.sigmoid(z[:, 3])
            c = f * c + i * torch.tanh(z[:, 2])
            u = o * torch.tanh(c)
            if chen2020:
                zz = outs(u)  # (B, 2, n_qubits)
                h = zz[:, 0, : self.hidden_size]
                ys.append(zz[:, 1])
            else:
                h = u
                ys.append(u)
        return torch.stack(ys, 1), (h, c)
