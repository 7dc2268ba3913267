"""Quantum fast weight programmer (Chen 2024): a classical slow programmer writes the angles of
a variational circuit at every time step.

Slow programmer (classical, trained)::

    e_t = Linear(input_size -> latent)(x_t)
    L_t = Linear(latent -> n_layers)(e_t);  Q_t = Linear(latent -> n_qubits)(e_t)
    Theta_t = decay * Theta_{t-1} + outer(L_t, Q_t),  Theta_0 = 0     (n_layers, n_qubits)

Fast programmer (the circuit, one per sample): H on every qubit, RY(x_t[i]) on qubit i < input_size
(the other qubits read 0), ``n_layers`` layers of brick CNOTs + RY(Theta_t); read <Z> of the first
``n_outputs`` qubits: ``y_t`` (``output_size = n_outputs``). The paper's Linear(4 -> 1) is the
task head the trainer adds: with ``latent = n_qubits = 8``, ``n_layers = 2``, 4 outputs and input
1 the model has 16 + 18 + 72 + 5 = 111 parameters, all classical. Every sample carries its own
``Theta_t``, so the circuit runs with per-sample weights; as no measured value feeds back, the
circuits of every sample and step run in one batched call with weights ``(batch * time,
n_layers, n_qubits, 1)``. State: ``Theta (B, n_layers, n_qubits)``.

On the ``"fast"`` backend with exact values the whole sequence (programmer, accumulation,
circuits, and the backward pass) is one compiled call, :class:`~qrnn.qfwp_fused.FusedQFWP`;
``path="reference"`` keeps the per-step torch code below (also inside the simulator), which
every other backend runs.
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from qrnn.cells import Circuit, QuantumBody, pad_inputs
from qrnn.circuit import BlockSpec
from qrnn.qfwp_fused import MAX_QUBITS, FusedQFWP, resolve_path


class QFWP(QuantumBody):
    """Quantum fast weight programmer body (see module docstring).

    Args:
        input_size: width of ``x_t`` (<= ``n_qubits``).
        hidden_size: the latent width of the slow programmer's encoder (8 in the paper).
        n_qubits: qubits of the circuit (8). n_layers: its variational layers (2).
        n_outputs: measured qubits, the width of ``y_t`` (4).
        decay: the factor on ``Theta_{t-1}`` (1 = the paper's pure accumulation), in [0, 1].
        path: ``"auto"`` (the fused kernel on the ``"fast"`` backend with exact values up to
            16 qubits, the per-step code otherwise), ``"reference"`` (the per-step torch code,
            also inside the simulator) or ``"cpu"`` (the fused kernel, a one-line error if it
            cannot run).
        num_layers, backend, shots, noise, seed: see :class:`~qrnn.cells.QuantumBody`.

    ``forward(x (B, T, input_size), state=None | Theta (B, n_layers, n_qubits))`` returns
    ``(y (B, T, n_outputs), Theta_T (B, n_layers, n_qubits))``.
    """

    def __init__(self, input_size: int, hidden_size: int = 8, *, n_qubits: int = 8,
                 n_layers: int = 2, n_outputs: int = 4, decay: float = 1.0,
                 num_layers: int = 1, backend: str = "fast", shots: int | None = None,
                 noise=None, seed: int = 0, path: str = "auto") -> None:
        super().__init__(input_size, hidden_size, num_layers=num_layers, backend=backend,
                         shots=shots, noise=noise, seed=seed, path=path)
        for field, value in (("n_qubits", n_qubits), ("n_layers", n_layers),
                             ("n_outputs", n_outputs)):
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{field}={value!r}: must be an integer >= 1")
        if input_size > n_qubits:
            raise ValueError(f"input_size={input_size} does not fit n_qubits={n_qubits} (one "
                             "input value per qubit)")
        if n_outputs > n_qubits:
            raise ValueError(f"n_outputs={n_outputs} exceeds n_qubits={n_qubits}")
        if not (isinstance(decay, (int, float)) and math.isfinite(decay) and 0 <= decay <= 1):
            raise ValueError(f"decay={decay!r}: must be a number in [0, 1]")
        if path == "cpu" and n_qubits > MAX_QUBITS:
            raise ValueError(f"path='cpu' runs the fused kernel, which takes n_qubits <= "
                             f"{MAX_QUBITS}; n_qubits={n_qubits} needs path='auto' or "
                             "'reference' (the per-step code)")
        self.n_qubits, self.n_layers, self.decay = n_qubits, n_layers, float(decay)
        self.output_size = n_outputs
        self.spec = BlockSpec(n_qubits, n_layers, "h_ry", "brick", "ry",
                              measured=tuple(range(n_outputs)))
        self.encoder = nn.Linear(input_size, hidden_size)
        self.layer_head = nn.Linear(hidden_size, n_layers)
        self.qubit_head = nn.Linear(hidden_size, n_qubits)

    def circuits(self) -> list[Circuit]:
        return [Circuit("fast programmer", self.spec, 1, 0)]

    @property
    def fused(self) -> bool:
        """Whether :meth:`forward` may run the fused kernel (``"fast"`` backend, exact values,
        ``path`` not ``"reference"``, at most 16 qubits; ``"auto"`` still falls back to the
        per-step path, warning once, where no C compiler works)."""
        return (self.backend == "fast" and self.shots is None and self.path != "reference"
                and self.n_qubits <= MAX_QUBITS)

    def forward(self, x: Tensor, state=None) -> tuple[Tensor, Tensor]:
        x = self.check_input(x, self.encoder.weight.dtype)
        batch, steps = x.shape[:2]
        shape = (batch, self.n_layers, self.n_qubits)
        if state is not None:
            if not isinstance(state, Tensor) or tuple(state.shape) != shape:
                got = tuple(state.shape) if isinstance(state, Tensor) else type(state).__name__
                raise ValueError(f"state has shape {got}; expected Theta (batch, n_layers, "
                                 f"n_qubits) = {shape}")
            state = state.to(x.dtype)
        if self.fused and resolve_path(self.path, x) == "cpu":
            return FusedQFWP.apply(
                x, state, self.encoder.weight, self.encoder.bias, self.layer_head.weight,
                self.layer_head.bias, self.qubit_head.weight, self.qubit_head.bias,
                self.decay, self.output_size)
        e = self.encoder(x)  # (B, T, latent): all steps at once, they do not feed back
        delta = self.layer_head(e)[..., :, None] * self.qubit_head(e)[..., None, :]
        theta = x.new_zeros(shape) if state is None else state
        thetas = []
        for t in range(steps):  # Theta_t = decay * Theta_{t-1} + outer(L_t, Q_t), per sample
            theta = delta[:, t] if self.decay == 0 else self.decay * theta + delta[:, t]
            thetas.append(theta)
        # no measured value feeds back, so every (sample, step) circuit runs in one batched
        # call with its own weights: (B * T, n_layers, n_qubits, 1)
        weights = torch.stack(thetas, 1).reshape(batch * steps, self.n_layers, self.n_qubits, 1)
        inputs = pad_inputs([x.reshape(batch * steps, -1)], self.n_qubits)
        y = self.executor(self.spec).compile(weights)(inputs)
        return y.reshape(batch, steps, -1), theta
