"""``QuantumNeuronRNN``: Bausch's recurrent quantum neural network built from quantum neurons.

The cell keeps its state in a register of ``n_qubits - order`` qubits that is never
measured; the remaining ``order`` qubits are the neurons' ancillas. Every time step runs
``stages`` sweeps over the register; in a sweep, qubit ``j`` is the target of one quantum
neuron (:mod:`qrnn.neuron`) with input angle

    theta_j = bias_j + sum_f w_in[j, f] * x_t[f]  +  sum_{i != j} w_state[j, i] * bit_i,

the input written onto the ancilla by rotations with angles computed from ``x_t``, the state
by rotations controlled by the other register qubits. After each step the output is the
probability distribution of the first ``readout`` register qubits (``2**readout`` classes, the
first qubit most significant): ``y (B, T, 2**readout)``, differentiable (autograd through the
projected, renormalised state).

Success probabilities (postselection, the ancillas measured in ``|0>``) are reported per
sequence in the returned :class:`NeuronRNNState`: ``log_success``, the log-probability that
every neuron of the sequence succeeds at once, and ``repetitions``, the expected number of
neuron-circuit runs when each neuron is repeated until it succeeds (``sum 1/p``; at least
``neurons``, the count of neuron applications). The first is exact for the postselected
model; the second is the repeat-until-success cost, exact for a basis-state register and an
estimate for a register in superposition (a failure, undone, reweights the branches).

Backends: ``"fast"`` (the closed-form neuron on a real ``(B, 2**register)`` state vector,
compiled C or torch ops; ``path="reference"`` runs every neuron gate by gate with its
ancillas, as a check), ``"default.qubit"`` (mid-circuit measurements postselected on 0,
exact; one tape per output step, broadcast over the batch, so ``T`` tapes of growing length
per sequence) and ``"qiskit.aer"`` (shots, failed shots discarded; small circuits only, see
:mod:`qrnn.neuron_pl`). Success statistics are computed on ``"fast"`` only (``log_success``
is the kept fraction of shots on ``"qiskit.aer"``, NaN on ``"default.qubit"``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import torch
from torch import nn

from kernels.contract import BackendSwitch, check_path, check_sequence, derive_seed, generator
from kernels.cpu_build import warn_once
from qrnn import neuron_fused
from qrnn.neuron import NeuronSpec, apply_neuron, control_angles, neuron_ops
from qrnn.neuron_sim import REFERENCE_MAX_QUBITS, run_ops

PATHS = ("torch", "compiled")
"""Fast-path choices besides ``"auto"`` and ``"reference"`` (see :class:`QuantumNeuronRNN`)."""

MAX_QUBITS = 20
"""Largest cell (register + ancillas) the fast simulator accepts (``2**(n_qubits - order)``
real amplitudes per sample)."""
MAX_READOUT = 6
"""Most readout qubits (``2**6 = 64`` output classes)."""


@dataclass(frozen=True)
class QuantumNeuronConfig:
    """Shape and execution of a :class:`QuantumNeuronRNN`.

    Fields:
        n_qubits: all qubits of the cell, register + ``order`` ancillas, in
            ``[order + readout, MAX_QUBITS]``.
        order: RUS order of every neuron (see :class:`qrnn.neuron.NeuronSpec`).
        rounds: amplitude-amplification rounds around each RUS level.
        stages: neuron sweeps over the register per time step (>= 1).
        readout: register qubits read as the output distribution, in ``[1, MAX_READOUT]``.
        shots: None (exact) or shots per circuit (``qiskit.aer`` only).
        on_underflow: ``"raise"`` or ``"clamp"`` (see :class:`qrnn.neuron.NeuronSpec`).
    """

    n_qubits: int = 6
    order: int = 1
    rounds: int = 0
    stages: int = 1
    readout: int = 1
    shots: int | None = None
    on_underflow: str = "raise"

    def __post_init__(self) -> None:
        for field in ("n_qubits", "stages", "readout"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"QuantumNeuronConfig.{field} must be an int, got {value!r}")
        NeuronSpec(self.order, self.rounds, self.on_underflow)  # validates those three
        if self.stages < 1:
            raise ValueError(f"QuantumNeuronConfig.stages={self.stages} must be >= 1")
        if not 1 <= self.readout <= MAX_READOUT:
            raise ValueError(
                f"QuantumNeuronConfig.readout={self.readout} must be in [1, {MAX_READOUT}]"
            )
        low = self.order + self.readout
        if not low <= self.n_qubits <= MAX_QUBITS:
            raise ValueError(
                f"QuantumNeuronConfig.n_qubits={self.n_qubits} must be in [{low}, {MAX_QUBITS}]"
                f" (register of at least readout={self.readout} qubits + order={self.order} "
                f"ancillas; {MAX_QUBITS} is the quantum-neuron simulator's limit)"
            )
        if self.shots is not None and (
            isinstance(self.shots, bool) or not isinstance(self.shots, int) or self.shots < 1
        ):
            raise ValueError(f"QuantumNeuronConfig.shots={self.shots!r} must be None or >= 1")

    @property
    def register(self) -> int:
        """Qubits of the cell state: ``n_qubits - order``."""
        return self.n_qubits - self.order

    @property
    def neuron(self) -> NeuronSpec:
        return NeuronSpec(self.order, self.rounds, self.on_underflow)


@dataclass(frozen=True)
class NeuronRNNState:
    """What a :class:`QuantumNeuronRNN` carries between calls (all per sample, ``B`` rows).

    Fields:
        amplitudes: ``(B, 2**register)`` real register state (None on PennyLane backends,
            whose state stays on the device).
        log_success: ``(B,)`` summed log success probabilities of every neuron so far.
        repetitions: ``(B,)`` expected neuron-circuit runs with repeat-until-success.
        neurons: neuron applications so far (the minimum of ``repetitions``).
        clamped: ``(B,)`` True where a success probability was clamped at the underflow floor.
    """

    amplitudes: torch.Tensor | None
    log_success: torch.Tensor
    repetitions: torch.Tensor
    neurons: int
    clamped: torch.Tensor


class QuantumNeuronRNN(BackendSwitch, nn.Module):
    """Recurrent cell of quantum neurons (module docstring); ``x (B, T, input_size)`` ->
    ``(y (B, T, 2**readout), NeuronRNNState)``.

    Args:
        input_size: features per step.
        config: a :class:`QuantumNeuronConfig`.
        backend: ``"fast"``, ``"default.qubit"`` or ``"qiskit.aer"`` (settable later).
        path: how ``"fast"`` computes a neuron: ``"compiled"`` (one C call forward and backward,
            :mod:`qrnn.neuron_fused`; no amplification), ``"torch"`` (the closed form in torch
            ops), ``"reference"`` (gate by gate with the ancillas, :mod:`qrnn.neuron_sim`) or
            ``"auto"`` (compiled where it applies, else torch, warning once if no C compiler
            is found).
        seed: initialises the parameters (stream ``"qneuron/init"``) and seeds shot sampling.
        dtype: parameter dtype (the state vector runs in it).
    """

    backends = ("fast", "default.qubit", "qiskit.aer")

    def __init__(self, input_size: int, config: QuantumNeuronConfig | None = None, *,
                 backend: str = "fast", path: str = "auto", seed: int = 0,
                 dtype: torch.dtype = torch.float32) -> None:
        super().__init__()
        config = QuantumNeuronConfig() if config is None else config
        if not isinstance(config, QuantumNeuronConfig):
            raise TypeError(f"config must be a QuantumNeuronConfig, got {type(config).__name__}")
        self.config = config
        self._set_sizes(input_size, 2**config.readout, 1, backend)
        self.output_size = self.hidden_size  # the head reads the width of y from here
        self.path = check_path(path, PATHS)
        self.seed = seed
        gen = generator(seed, "qneuron/init")
        s, r = config.stages, config.register
        # near the identity: theta = 0 leaves the target alone (q(theta) ~ theta^2), so a step
        # rotates the register little until inputs or trained weights say otherwise (a
        # larger random start rotates it by O(1) per step and the 64-step readout is chaotic)
        self.bias = nn.Parameter((0.05 * torch.randn(s, r, generator=gen)).to(dtype))
        scale_in = 0.5 / math.sqrt(input_size)
        self.w_in = nn.Parameter((scale_in * torch.randn(s, r, input_size, generator=gen))
                                 .to(dtype))
        self.w_state = nn.Parameter((0.05 * torch.randn(s, r, r, generator=gen)).to(dtype))

    def initial_state(self, batch: int) -> NeuronRNNState:
        """``|0...0>`` with empty statistics."""
        dtype = self.bias.dtype
        amplitudes = torch.zeros(batch, 2**self.config.register, dtype=dtype)
        amplitudes[:, 0] = 1
        zeros = torch.zeros(batch, dtype=dtype)
        return NeuronRNNState(amplitudes, zeros, zeros, 0, torch.zeros(batch, dtype=torch.bool))

    def angles(self, x: torch.Tensor) -> torch.Tensor:
        """Input parts of every neuron's angle: ``(B, T, stages, register)`` radians."""
        return torch.einsum("btf,srf->btsr", x.to(self.bias.dtype), self.w_in) + self.bias

    def forward(self, x: torch.Tensor, state: NeuronRNNState | None = None):
        check_sequence(x, self.input_size)
        if state is not None and not isinstance(state, NeuronRNNState):
            raise TypeError(f"state must be None or a NeuronRNNState, got {type(state).__name__}")
        if state is not None and state.amplitudes is not None \
                and state.amplitudes.shape[0] != x.shape[0]:
            raise ValueError(f"state has batch {state.amplitudes.shape[0]}, x has {x.shape[0]}")
        if self.backend == "fast":
            return self._forward_fast(x, state)
        from qrnn.neuron_rnn_pl import forward_pennylane

        return forward_pennylane(self, x, state)

    def _forward_fast(self, x: torch.Tensor, state: NeuronRNNState | None):
        cfg = self.config
        r, spec = cfg.register, cfg.neuron
        if state is None or state.amplitudes is None:
            state = self.initial_state(x.shape[0])
        psi, log_s, reps, clamped = (state.amplitudes, state.log_success, state.repetitions,
                                     state.clamped)
        angles = self.angles(x)
        path = self._resolve_path(spec, self.bias.dtype)
        if path == "reference":
            step = self._reference_neuron
        else:
            controls = torch.stack([control_angles(r, j, self.w_state[s, j])
                                    for s in range(cfg.stages) for j in range(r)])

            def step(psi, angle, s, j):
                return apply_neuron(psi, r, j, angle, controls[s * r + j], spec)
        targets = tuple(range(r)) * cfg.stages
        ys = []
        for t in range(x.shape[1]):
            if path == "compiled":  # every neuron of the step in one call
                u = angles[:, t].reshape(x.shape[0], -1).T
                psi, p, low = neuron_fused.fused_neurons(psi, r, targets, u, controls, spec)
                log_s, reps = log_s + p.log().sum(0), reps + (1 / p).sum(0)
                clamped = clamped | low.any(0)
            else:
                for s in range(cfg.stages):
                    for j in range(r):
                        psi, p, low = step(psi, angles[:, t, s, j], s, j)
                        log_s, reps, clamped = log_s + p.log(), reps + 1 / p, clamped | low
            ys.append(psi.square().reshape(psi.shape[0], 2**cfg.readout, -1).sum(-1))
        neurons = state.neurons + x.shape[1] * cfg.stages * r
        return torch.stack(ys, 1), NeuronRNNState(psi, log_s, reps, neurons, clamped)

    def _resolve_path(self, spec: NeuronSpec, dtype: torch.dtype) -> str:
        """``self.path`` with ``"auto"`` resolved; ``"compiled"`` checked before any work."""
        applies = neuron_fused.applies(spec, dtype)
        if self.path == "compiled":
            if not applies:
                raise ValueError(f"path='compiled' needs rounds=0 (got {spec.rounds}); use "
                                 "path='auto' or 'torch'")
            neuron_fused.LIBRARY.require()
        if self.path != "auto":
            return self.path
        if not applies:
            return "torch"
        if neuron_fused.LIBRARY.available():
            return "compiled"
        warn_once("neuron", f"{neuron_fused.LIBRARY.error}; the quantum neuron runs in torch")
        return "torch"

    def _reference_neuron(self, psi: torch.Tensor, angle: torch.Tensor, s: int, j: int):
        """One neuron gate by gate on register + ancillas (``path="reference"``)."""
        cfg = self.config
        k = cfg.order
        if cfg.n_qubits > REFERENCE_MAX_QUBITS:
            raise ValueError(
                f"n_qubits={cfg.n_qubits} exceeds the gate-by-gate reference's limit of "
                f"{REFERENCE_MAX_QUBITS}"
            )
        full = torch.zeros(psi.shape[0], 2**cfg.n_qubits, dtype=psi.dtype)
        full = full.index_copy(1, torch.arange(0, 2**cfg.n_qubits, 2**k), psi)
        ops = self.neuron_gates(angle, s, j)
        out, p, clamped = run_ops(full, ops, cfg.n_qubits, cfg.on_underflow)
        return out[:, :: 2**k], p, clamped

    def neuron_gates(self, angle, s: int, j: int):
        """Gate list of neuron ``(stage s, target j)`` with input angle ``angle`` (``(B,)`` or
        0-d); register qubits ``0..register-1``, ancillas after them."""
        cfg = self.config
        controls = {i: self.w_state[s, j, i] for i in range(cfg.register) if i != j}
        ancillas = tuple(range(cfg.register, cfg.n_qubits))
        return neuron_ops(j, controls, angle, ancillas, cfg.rounds)

    @torch.no_grad()
    def hardware_cost(self, steps: int, x: torch.Tensor | None = None) -> dict:
        """The report's cost columns: qubits, neurons per sequence of ``steps`` steps, and
        (given inputs ``x (B, T, input_size)``) the expected neuron-circuit runs per sequence
        with repeat-until-success, averaged over ``x`` (the fast path's success statistics)."""
        cfg = self.config
        neurons = cfg.stages * cfg.register * steps
        cost = {"qubits": cfg.n_qubits, "neurons_per_sequence": neurons,
                "executions_per_sequence": neurons}
        if x is not None and self.backend == "fast":
            _, state = self(x.to(next(self.parameters()).dtype))
            cost["expected_repetitions"] = float(state.repetitions.mean())
        return cost

    def shot_seed(self) -> int:
        """Seed of the shot sampling on PennyLane devices (stream ``"qneuron/shots"``)."""
        return derive_seed(self.seed, "qneuron/shots") % 2**31


def build(input_size: int, hidden_size: int, *, backend: str = "fast", num_layers: int = 1,
          seed: int = 0, path: str = "auto", **options) -> QuantumNeuronRNN:
    """The registry's builder (model ``qneuron_rnn``): ``options`` are the fields of
    :class:`QuantumNeuronConfig`. ``hidden_size`` is not used: the width of ``y`` is
    ``2**readout`` (``output_size``)."""
    if num_layers != 1:
        raise ValueError(f"num_layers={num_layers}: qneuron_rnn is one cell; for more neuron "
                         "sweeps per step use the option stages")
    return QuantumNeuronRNN(input_size, QuantumNeuronConfig(**options), backend=backend,
                            path=path, seed=seed)


__all__ = ["MAX_QUBITS", "MAX_READOUT", "PATHS", "NeuronRNNState", "QuantumNeuronConfig",
           "QuantumNeuronRNN", "build"]
