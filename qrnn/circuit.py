"""Circuit description of a variational recurrent block, shared by every execution path.

A block is: an input encoding on every qubit (one input value per qubit), then ``n_layers``
layers of [entangler, rotation on every qubit], then a measurement. The same
:class:`BlockSpec` drives the fast torch simulator (:mod:`qrnn.sim`), PennyLane devices
(:mod:`qrnn.execute`) and the Qiskit export (:mod:`qrnn.hardware`).

Wire convention (PennyLane's): qubit 0 is the most significant bit of a basis index.
"""

from __future__ import annotations

import abc
import math
from collections.abc import Sequence
from dataclasses import dataclass

import torch

ENCODINGS = {
    "qlstm": "H, RY(arctan v), RZ(arctan v^2) per qubit (Chen et al. QLSTM)",
    "ry": "RY(v) per qubit",
    "rx": "RX(v) per qubit",
    "h_ry": "H, RY(v) per qubit",
}
ENTANGLERS = {
    "ring": "CNOT(i, i+1 mod n) for i = 0..n-1",
    "ring2": "ring, then CNOT(i, i+2 mod n) for i = 0..n-1",
    "brick": "CNOT on pairs (0,1),(2,3),..., then (1,2),(3,4),...",
    "none": "no entangling gates",
}
ROTATIONS = {"rot": 3, "ry": 1, "rx": 1, "rz": 1}
"""Rotation kind -> number of angles per qubit (``rot`` is PennyLane's Rot(phi, theta, omega))."""
MEASUREMENTS = ("z", "probs")


def _choice(field: str, value: object, allowed) -> None:
    if value not in allowed:
        raise ValueError(
            f"BlockSpec.{field}={value!r} is not allowed; choose one of {sorted(allowed)}"
        )


@dataclass(frozen=True)
class BlockSpec:
    """A variational block: encoding, ``n_layers`` x (entangler, rotations), measurement.

    Fields:
        n_qubits: number of qubits (>= 1); also the number of input values per sample.
        n_layers: number of variational layers (>= 0).
        encoding: one of :data:`ENCODINGS`.
        entangler: one of :data:`ENTANGLERS`.
        rotation: one of :data:`ROTATIONS`.
        measurement: ``"z"`` for <Z_k> on ``measured`` qubits (output size ``len(measured)``) or
            ``"probs"`` for the joint probabilities of ``measured`` (output size
            ``2**len(measured)``, first measured qubit most significant).
        measured: qubits to read, distinct, in output order; ``None`` means all qubits.

    Shapes: inputs ``x`` are ``(n_qubits,)`` or ``(batch, n_qubits)``; weights are
    :attr:`weight_shape` (shared) or ``(batch, *weight_shape)`` (per sample).
    """

    n_qubits: int
    n_layers: int = 2
    encoding: str = "qlstm"
    entangler: str = "ring2"
    rotation: str = "rot"
    measurement: str = "z"
    measured: tuple[int, ...] | None = None

    def __post_init__(self) -> None:
        for field in ("n_qubits", "n_layers"):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"BlockSpec.{field} must be an int, got {value!r}")
        if self.n_qubits < 1:
            raise ValueError(f"BlockSpec.n_qubits={self.n_qubits} must be >= 1")
        if self.n_layers < 0:
            raise ValueError(f"BlockSpec.n_layers={self.n_layers} must be >= 0")
        _choice("encoding", self.encoding, ENCODINGS)
        _choice("entangler", self.entangler, ENTANGLERS)
        _choice("rotation", self.rotation, ROTATIONS)
        _choice("measurement", self.measurement, MEASUREMENTS)
        if self.measured is not None:
            measured = tuple(self.measured)
            bad = [q for q in measured if not isinstance(q, int) or not 0 <= q < self.n_qubits]
            if bad or not measured or len(set(measured)) != len(measured):
                raise ValueError(
                    f"BlockSpec.measured={self.measured!r} must be distinct qubit indices in "
                    f"[0, {self.n_qubits - 1}], at least one"
                )
            object.__setattr__(self, "measured", measured)

    @property
    def wires(self) -> tuple[int, ...]:
        """Measured qubits in output order (all qubits when ``measured`` is None)."""
        return self.measured if self.measured is not None else tuple(range(self.n_qubits))

    @property
    def weight_shape(self) -> tuple[int, int, int]:
        """Shape of one circuit's weights: ``(n_layers, n_qubits, angles per rotation)``."""
        return (self.n_layers, self.n_qubits, ROTATIONS[self.rotation])

    @property
    def output_size(self) -> int:
        """Number of outputs per sample: ``len(wires)`` for ``"z"``, ``2**len(wires)`` for probs."""
        return len(self.wires) if self.measurement == "z" else 2 ** len(self.wires)

    def entangler_pairs(self) -> tuple[tuple[int, int], ...]:
        """(control, target) CNOT pairs of one entangling layer, in application order."""
        n = self.n_qubits
        ring = [(i, (i + 1) % n) for i in range(n)]
        if self.entangler == "ring":
            pairs = ring
        elif self.entangler == "ring2":
            pairs = ring + [(i, (i + 2) % n) for i in range(n)]
        elif self.entangler == "brick":
            pairs = [(i, i + 1) for i in range(0, n - 1, 2)] + [
                (i, i + 1) for i in range(1, n - 1, 2)
            ]
        else:
            pairs = []
        return tuple((c, t) for c, t in pairs if c != t)

    def init_weights(
        self, generator: torch.Generator, scale: float = 0.01, dtype=torch.float64
    ) -> torch.Tensor:
        """Weights ``scale * N(0, 1)`` of shape :attr:`weight_shape` (QLSTM's 0.01 default)."""
        return scale * torch.randn(self.weight_shape, generator=generator, dtype=dtype)


class CircuitBlock(abc.ABC):
    """What :meth:`qrnn.execute.BlockExecutor.compile` returns on every backend: C circuits of
    one :class:`BlockSpec` with their weights bound, called once per time step.

    Attributes:
        spec: the circuit description.
        n_circuits: C, the number of circuits (weight tensors) bound.
        multi: whether outputs carry the circuit axis (weights were given as a sequence).
        shots: None (exact, differentiable) or the shots per sample and circuit.

    ``block(x)`` with ``x`` ``(batch, n_qubits)`` returns ``(batch, C, output_size)`` (or
    ``(batch, output_size)`` when not ``multi``); ``block.split(sizes)`` gives consecutive
    groups of circuits, each callable on its own input, sharing the one weight binding.
    """

    spec: BlockSpec
    n_circuits: int
    multi: bool
    shots: int | None

    @abc.abstractmethod
    def __call__(self, x) -> torch.Tensor:
        """Measured outputs for inputs ``x`` ``([batch,] n_qubits)``."""

    @abc.abstractmethod
    def split(self, sizes: Sequence[int]) -> list[CircuitBlock]:
        """This block's circuits in consecutive groups of ``sizes`` (each a multi block)."""

    def _check_split(self, sizes: Sequence[int]) -> list[int]:
        sizes = list(sizes)
        bad = [s for s in sizes if not isinstance(s, int) or isinstance(s, bool) or s < 1]
        if bad or sum(sizes) != self.n_circuits:
            raise ValueError(
                f"sizes={sizes} must be positive ints that sum to {self.n_circuits} circuits"
            )
        return sizes


def check_inputs(spec: BlockSpec, x, finite: bool = True) -> torch.Tensor:
    """Validate block inputs: ``(n_qubits,)`` or ``(batch, n_qubits)``, real, and finite
    unless ``finite`` is False (a compiled kernel that checks the values as it reads them)."""
    x = real_tensor("x", x, finite)
    n = spec.n_qubits
    if x.ndim not in (1, 2) or x.shape[-1] != n or (x.ndim == 2 and x.shape[0] == 0):
        raise ValueError(f"x has shape {tuple(x.shape)}; expected ({n},) or (batch>=1, {n})")
    return x


def check_weights(spec: BlockSpec, weights) -> torch.Tensor:
    """Validate weights: :attr:`BlockSpec.weight_shape` or ``(batch, *weight_shape)``."""
    weights = real_tensor("weights", weights)
    wshape = spec.weight_shape
    ok = weights.ndim in (3, 4) and tuple(weights.shape[-3:]) == wshape
    if not ok or (weights.ndim == 4 and weights.shape[0] == 0):
        raise ValueError(
            f"weights have shape {tuple(weights.shape)}; expected {wshape} (shared) or "
            f"(batch>=1, {', '.join(map(str, wshape))}) (per sample)"
        )
    return weights


def common_batch(x: torch.Tensor, weights: torch.Tensor) -> int | None:
    """Batch size shared by ``x`` (2-D if batched) and ``weights`` (4-D if batched), or None."""
    batches = {t.shape[0] for t, nd in ((x, 2), (weights, 4)) if t.ndim == nd}
    if len(batches) > 1:
        raise ValueError(
            f"batch sizes differ: x has shape {tuple(x.shape)}, weights {tuple(weights.shape)}"
        )
    return batches.pop() if batches else None


def real_tensor(name: str, value, finite: bool = True) -> torch.Tensor:
    """``value`` as a finite float32/float64 tensor, or a TypeError/ValueError naming ``name``
    (``finite=False``: the values are not checked, for a caller whose kernel checks them)."""
    if not isinstance(value, torch.Tensor):
        try:
            value = torch.as_tensor(value, dtype=torch.float64)
        except (TypeError, ValueError, RuntimeError) as err:
            raise TypeError(f"{name} must be a real tensor, got {type(value).__name__}") from err
    if value.dtype not in (torch.float32, torch.float64):
        raise TypeError(f"{name} has dtype {value.dtype}; expected torch.float32 or torch.float64")
    if not finite:
        return value
    finite_sum = math.isfinite(float(value.detach().sum()))  # one reduction in the common case
    if not finite_sum and not bool(torch.isfinite(value).all()):
        raise ValueError(f"{name} contains NaN or infinite values; all entries must be finite")
    return value


def qubit_count_error(method: str, n_qubits: int, limit: int) -> ValueError:
    """The error raised when ``n_qubits`` exceeds what ``method`` supports (``limit``)."""
    return ValueError(
        f"n_qubits={n_qubits} exceeds the {method!r} method's limit of {limit} qubits"
    )


__all__ = [
    "BlockSpec",
    "CircuitBlock",
    "ENCODINGS",
    "ENTANGLERS",
    "ROTATIONS",
    "MEASUREMENTS",
    "check_inputs",
    "check_weights",
    "common_batch",
    "real_tensor",
    "qubit_count_error",
]
