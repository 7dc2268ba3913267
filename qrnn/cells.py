"""What every quantum recurrent body shares: backend, shots, noise, seed, checks, cost.

A body (:class:`~qrnn.qlstm.QLSTM`, :class:`~qrnn.qgru.QGRU`, :class:`~qrnn.qgru.QRNN`,
:class:`~qrnn.reservoir.QuantumReservoir`, :class:`~qrnn.qfwp.QFWP`) obeys the package's
sequence contract (:mod:`kernels.contract`): ``x (batch, time, input_size)`` float32/float64
-> ``(y (batch, time, output_size), state)``, ``state=None`` starting from zeros. Its circuits
run through one :class:`~qrnn.execute.BlockExecutor` per circuit description, so the cell
code is the same on every backend; the parameters do not depend on the backend
(``load_state_dict`` moves weights between backends, and ``body.backend = "default.qubit"``
switches an existing body).

Names: ``n_layers`` is the depth of each variational circuit; ``num_layers`` counts stacked
recurrent layers, and quantum bodies have one (``num_layers=1``).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor, nn

from kernels.contract import check_sequence, check_sizes, derive_seed
from qrnn.circuit import BlockSpec
from qrnn.execute import Backend, BlockExecutor
from qrnn.noise import NoiseConfig
from qrnn.sim.block import check_shots


@dataclass(frozen=True)
class Circuit:
    """One circuit role of a body, for :meth:`QuantumBody.circuit_cost`.

    Fields:
        role: what it computes (e.g. ``"gates"``, ``"hidden"``).
        spec: its description.
        count: how many circuits of this role run per time step and sample.
        stage: position in the step's chain of dependent calls (0 first); circuits of one
            stage can run side by side, later stages wait for earlier ones.
    """

    role: str
    spec: BlockSpec
    count: int
    stage: int


class QuantumBody(nn.Module):
    """Base of the quantum recurrent bodies: validated sizes, backend and shots.

    Args:
        input_size, hidden_size: feature and hidden widths (ints >= 1).
        num_layers: stacked recurrent layers; only 1 is supported.
        backend: ``"fast"`` (qrnn's simulator) or any installed PennyLane device name
            (``"default.qubit"``, ``"lightning.qubit"``, ``"qiskit.aer"``...); settable.
        shots: None (exact, differentiable) or a positive int of shots per circuit call.
        noise: a :class:`~qrnn.noise.NoiseConfig` (only with ``backend="qiskit.aer"``).
        seed: the run's seed (int >= 0); shot sampling draws from its ``"shots"`` stream.
        path: fast-path choice of the ``"fast"`` simulator (``"auto"``, ``"reference"``,
            ``"cpu"``; :func:`qrnn.sim.fused.compiled`).
    """

    output_size: int

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 backend: str = "fast", shots: int | None = None,
                 noise: NoiseConfig | None = None, seed: int = 0, path: str = "auto") -> None:
        super().__init__()
        check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        if num_layers != 1:
            raise ValueError(f"num_layers={num_layers}: quantum bodies have one recurrent layer "
                             "(num_layers=1); deepen each circuit with n_layers instead")
        check_shots(shots)
        derive_seed(seed, "shots")  # validates seed
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, 1
        self.shots, self.noise, self.seed, self.path = shots, noise, seed, path
        self.backend = backend

    @property
    def backend(self) -> str:
        """Where the circuits run: ``"fast"`` or a PennyLane device name (settable)."""
        return self._backend.name

    @backend.setter
    def backend(self, name: str) -> None:
        self._backend = Backend(name, shots=self.shots, seed=derive_seed(self.seed, "shots"),
                                noise=self.noise, path=self.path)
        self._executors: dict[BlockSpec, BlockExecutor] = {}

    def executor(self, spec: BlockSpec) -> BlockExecutor:
        """The executor of ``spec`` on this body's backend (kept: its shot stream goes on)."""
        if spec not in self._executors:
            self._executors[spec] = BlockExecutor(spec, self._backend)
        return self._executors[spec]

    def check_input(self, x: Tensor, dtype: torch.dtype) -> Tensor:
        """``x`` validated against the contract (one-line errors) and cast to ``dtype``."""
        check_sequence(x, self.input_size)
        return x.to(dtype)

    def circuits(self) -> list[Circuit]:
        """The circuits of one time step (overridden by each body)."""
        raise NotImplementedError

    def circuit_cost(self, basis: str = "ibm", coupling: str = "line",
                     optimization_level: int = 1) -> dict:
        """Hardware cost of one time step, from Qiskit transpilation of every circuit role.

        Each role is exported with generic angles (no rotation the identity, so nothing is
        optimized away) and transpiled for ``basis``/``coupling``
        (:func:`qrnn.hardware.transpile_report`).

        Returns:
            ``{"circuits_per_step": executions per time step and sample,
            "two_qubit_per_step": two-qubit gates summed over them,
            "depth_per_step": transpiled depth along the chain of dependent stages (the
            deepest circuit of each stage, summed), "roles": {role: {"count", "depth",
            "two_qubit_gates", "n_qubits"}}}``. Shots multiply the executions.
        """
        from qrnn.hardware import to_qiskit, transpile_report

        roles, stages = {}, {}
        for c in self.circuits():
            x = torch.full((c.spec.n_qubits,), 0.5, dtype=torch.float64)
            w = torch.full(c.spec.weight_shape, 0.3, dtype=torch.float64)
            report = transpile_report(to_qiskit(c.spec, x, w), basis=basis, coupling=coupling,
                                      optimization_level=optimization_level)
            roles[c.role] = {"count": c.count, "depth": report.depth,
                             "two_qubit_gates": report.two_qubit_gates,
                             "n_qubits": c.spec.n_qubits}
            stages[c.stage] = max(stages.get(c.stage, 0), report.depth)
        return {
            "circuits_per_step": sum(r["count"] for r in roles.values()),
            "two_qubit_per_step": sum(r["count"] * r["two_qubit_gates"] for r in roles.values()),
            "depth_per_step": sum(stages.values()),
            "roles": roles,
        }

    def hardware_cost(self, steps: int) -> dict:
        """The report's cost columns for one sequence of ``steps`` time steps: transpiled depth
        and two-qubit gates per step (:meth:`circuit_cost`, IBM basis on a line), circuit
        executions per sequence and sample, and shots per execution (0: exact)."""
        cost = self.circuit_cost()
        return {"depth_per_step": cost["depth_per_step"],
                "two_qubit_per_step": cost["two_qubit_per_step"],
                "executions_per_sequence": cost["circuits_per_step"] * steps,
                "shots": self.shots or 0}


def check_fit(input_size: int, hidden_size: int, n_qubits: int, measured: int) -> None:
    """One-line errors unless ``[x_t, h]`` fits ``n_qubits`` and ``h`` fits ``measured``."""
    if not isinstance(n_qubits, int) or isinstance(n_qubits, bool) or n_qubits < 1:
        raise ValueError(f"n_qubits={n_qubits!r}: must be an integer >= 1")
    if input_size + hidden_size > n_qubits:
        raise ValueError(f"input_size + hidden_size = {input_size} + {hidden_size} does not fit "
                         f"n_qubits={n_qubits} (one input value per qubit); raise n_qubits or "
                         "lower the sizes")
    if hidden_size > measured:
        raise ValueError(f"hidden_size={hidden_size} exceeds the {measured} measured qubits")


def pad_inputs(parts: list[Tensor], n_qubits: int) -> Tensor:
    """``cat(parts, -1)`` padded with zeros to ``n_qubits`` values (an unused qubit reads 0)."""
    v = torch.cat(parts, -1)
    missing = n_qubits - v.shape[-1]
    return v if missing == 0 else nn.functional.pad(v, (0, missing))


def circuit_weights(count: int, spec: BlockSpec, scale: float = 0.01) -> nn.Parameter:
    """``(count, *spec.weight_shape)`` weights ``scale * N(0, 1)`` from torch's global RNG (the
    caller seeds it, e.g. ``experiments.models.build_model``)."""
    return nn.Parameter(scale * torch.randn(count, *spec.weight_shape))
