"""Run one :class:`~qrnn.circuit.BlockSpec` on the fast simulator or any PennyLane device.

    ex = BlockExecutor(spec, Backend("default.qubit", shots=None))
    block = ex.compile(weights)        # once per forward pass (a tensor or a list of tensors)
    gates, outs = block.split([4, 2])  # circuits that read different inputs, one binding
    z = gates(x_t)                     # every time step: (batch, [C,] output_size), autograd

``compile`` returns a :class:`~qrnn.circuit.CircuitBlock` on every backend, so a recurrent
cell is written once: ``split``, shots (the executor's seeded stream) and per-sample weights
``(batch, *weight_shape)`` work alike. ``Backend("fast")`` compiles to
:class:`qrnn.sim.CompiledBlock` (the weights are bound once here); a PennyLane backend gives a
:class:`PennyLaneBlock`, which builds one tape per circuit per call, broadcast over the batch
where the device broadcasts natively and one tape per sample otherwise; all tapes of a call go
to the device in one ``qml.execute`` batch with the torch interface.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from kernels.contract import check_path
from qrnn.circuit import BlockSpec, CircuitBlock, check_inputs, common_batch
from qrnn.noise import NoiseConfig
from qrnn.sim.block import METHODS, CompiledBlock, check_shots, stack_weights
from qrnn.sim.fused import PATHS

__all__ = ["Backend", "BlockExecutor", "NoiseConfig", "PennyLaneBlock", "available_devices",
           "run_block"]

_NATIVE_BROADCAST_CHECK = "broadcast_expand"


@dataclass(frozen=True)
class Backend:
    """How a block executes.

    Fields:
        name: ``"fast"`` (qrnn's torch simulator) or a PennyLane device name
            (``"default.qubit"``, ``"lightning.qubit"``, ``"qiskit.aer"``, ``"qrnn.fast"``...).
        shots: None for exact values, or a positive int (finite-shot estimates).
        seed: int seed for sampling (fast path / device seed); None for a fresh one.
        method: fast-path method, ``"auto"``, ``"pauli"``, ``"unitary"`` or ``"gates"``.
        noise: a :class:`NoiseConfig`, only with ``name="qiskit.aer"``.
        diff_method: PennyLane differentiation method (``"best"`` picks backprop/adjoint/
            parameter-shift per device).
        path: fast-path choice of the ``"fast"`` simulator's compiled kernels: ``"auto"``,
            ``"reference"`` (plain torch) or ``"cpu"`` (see :func:`qrnn.sim.fused.compiled`).
    """

    name: str = "fast"
    shots: int | None = None
    seed: int | None = None
    method: str = "auto"
    noise: NoiseConfig | None = None
    diff_method: str = "best"
    path: str = "auto"

    def __post_init__(self) -> None:
        if not isinstance(self.name, str):
            raise TypeError(f"Backend.name must be a str, got {self.name!r}")
        if self.name != "fast":
            available = available_devices()
            if self.name not in available:
                raise ValueError(
                    f"Backend.name={self.name!r} is not 'fast' or an installed PennyLane device; "
                    f"installed: {', '.join(sorted(available))}"
                )
        try:
            check_shots(self.shots)
        except ValueError as err:
            raise ValueError(f"Backend.{err}") from None
        if self.seed is not None and (
            isinstance(self.seed, bool) or not isinstance(self.seed, int)
        ):
            raise TypeError(f"Backend.seed={self.seed!r} must be an int or None")
        if self.method not in METHODS:
            raise ValueError(
                f"Backend.method={self.method!r} is not allowed; choose one of {METHODS}"
            )
        if self.noise is not None and (
            self.name != "qiskit.aer" or not isinstance(self.noise, NoiseConfig)
        ):
            raise ValueError(
                f"Backend.noise={self.noise!r} needs a NoiseConfig and name='qiskit.aer' "
                f"(got name={self.name!r})"
            )
        try:
            check_path(self.path, PATHS[2:])
        except ValueError as err:
            raise ValueError(f"Backend.{err}") from None


def available_devices() -> set[str]:
    """Names of the PennyLane devices installed (entry points), including ``qrnn.fast``."""
    from pennylane.devices.device_constructor import plugin_devices

    return set(plugin_devices)


def as_backend(backend) -> Backend:
    """A :class:`Backend` from a Backend or a device name string."""
    if isinstance(backend, Backend):
        return backend
    if isinstance(backend, str):
        return Backend(backend)
    raise TypeError(f"backend must be a Backend or a device name str, got {backend!r}")


class BlockExecutor:
    """Executes one block description on one backend; keeps the device (and its RNG) alive.

    Args:
        spec: the circuit description.
        backend: a :class:`Backend` or a device name (``"fast"``, ``"default.qubit"``...).
    """

    def __init__(self, spec: BlockSpec, backend="fast") -> None:
        if not isinstance(spec, BlockSpec):
            raise TypeError(f"spec must be a BlockSpec, got {type(spec).__name__}")
        self.spec = spec
        self.backend = as_backend(backend)
        self._generator = torch.Generator()
        if self.backend.seed is None:
            self._generator.seed()
        else:
            self._generator.manual_seed(self.backend.seed)
        self._device = None
        self.native_broadcast = False

    @property
    def device(self):
        """The PennyLane device (created on first use; None for the fast path)."""
        if self._device is None and self.backend.name != "fast":
            self._device = make_device(self.backend, self.spec.n_qubits)
            self.native_broadcast = broadcasts_natively(self._device)
        return self._device

    def compile(self, weights) -> CircuitBlock:
        """Bind ``weights`` once (a tensor, or a sequence of C tensors); returns a
        :class:`~qrnn.circuit.CircuitBlock` (see module docstring)."""
        backend = self.backend
        if backend.name == "fast":
            generator = self._generator if backend.shots is not None else None
            return CompiledBlock(self.spec, weights, backend.method, path=backend.path,
                                 shots=backend.shots, generator=generator)
        return PennyLaneBlock(self, weights)

    def __call__(self, x, weights) -> torch.Tensor:
        """One-off execution: ``compile(weights)(x)``."""
        return self.compile(weights)(x)


def make_device(backend: Backend, n_qubits: int):
    """Create the PennyLane device for ``backend`` on ``n_qubits`` wires (seeded, noisy)."""
    import pennylane as qml

    kwargs = {}
    if backend.name.startswith("qiskit."):
        if backend.seed is not None:
            kwargs["seed_simulator"] = backend.seed
        if backend.noise is not None:
            from qrnn.noise import noise_model

            kwargs["noise_model"] = noise_model(backend.noise)
    elif backend.seed is not None:
        kwargs["seed"] = backend.seed
    return qml.device(backend.name, wires=n_qubits, **kwargs)


def broadcasts_natively(device) -> bool:
    """Whether ``device`` runs a broadcast tape as one simulation (else one per sample)."""
    target = getattr(device, "target_device", None)
    if target is not None:  # legacy device behind PennyLane's facade
        return bool(target.capabilities().get("supports_broadcasting", False))
    names = [t.tape_transform.__name__ for t in device.preprocess_transforms()]
    return _NATIVE_BROADCAST_CHECK not in names


class PennyLaneBlock(CircuitBlock):
    """A block on a PennyLane device: the :class:`~qrnn.circuit.CircuitBlock` interface of
    :class:`~qrnn.sim.CompiledBlock` (``split``, the backend's shots, per-sample weights)."""

    def __init__(self, executor: BlockExecutor, weights) -> None:
        self.spec = executor.spec
        self.executor = executor
        self.shots = executor.backend.shots
        self.multi = isinstance(weights, Sequence) and not isinstance(weights, torch.Tensor)
        self.weights = list(stack_weights(self.spec, weights if self.multi else [weights]))
        self.n_circuits = len(self.weights)

    def split(self, sizes: Sequence[int]) -> list[PennyLaneBlock]:
        """Consecutive groups of this block's circuits (see :meth:`CompiledBlock.split`)."""
        groups, start = [], 0
        for size in self._check_split(sizes):
            group = copy.copy(self)
            group.multi, group.n_circuits = True, size
            group.weights = self.weights[start : start + size]
            groups.append(group)
            start += size
        return groups

    def __call__(self, x) -> torch.Tensor:
        """Outputs ``([batch,] [C,] output_size)`` for inputs ``([batch,] n_qubits)``."""
        import pennylane as qml

        from qrnn.pl_circuit import block_tape, stack_results

        spec, backend = self.spec, self.executor.backend
        x = check_inputs(spec, x)
        device = self.executor.device
        batches = [common_batch(x, w) for w in self.weights]
        native = self.executor.native_broadcast
        tapes, counts = [], []
        for w, batch in zip(self.weights, batches, strict=True):
            if batch is None or native:
                tapes.append(block_tape(spec, x, w, backend.shots))
                counts.append(None)
            else:
                for b in range(batch):
                    xb = x[b] if x.ndim == 2 else x
                    wb = w[b] if w.ndim == 4 else w
                    tapes.append(block_tape(spec, xb, wb, backend.shots))
                counts.append(batch)
        results = qml.execute(tapes, device, diff_method=backend.diff_method, interface="torch")
        outs, pos = [], 0
        for count in counts:
            if count is None:
                outs.append(stack_results(spec, results[pos]))
                pos += 1
            else:
                outs.append(
                    torch.stack([stack_results(spec, r) for r in results[pos : pos + count]])
                )
                pos += count
        dtype = torch.promote_types(x.dtype, self.weights[0].dtype)
        outs = [o.to(dtype) for o in outs]
        return torch.stack(outs, -2) if self.multi else outs[0]


def run_block(spec: BlockSpec, x, weights, backend="fast") -> torch.Tensor:
    """Execute a block once: ``([batch,] [C,] output_size)`` (see :class:`BlockExecutor`)."""
    return BlockExecutor(spec, backend)(x, weights)
