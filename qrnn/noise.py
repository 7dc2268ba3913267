"""NISQ noise for ``qiskit.aer``: :class:`NoiseConfig` and the Qiskit noise model built from it.

Both :mod:`qrnn.execute` (which passes the model to pennylane-qiskit's ``qiskit.aer`` device)
and :mod:`qrnn.hardware` use this module; neither imports the other. Qiskit is imported inside
:func:`noise_model` (it takes seconds).
"""

from __future__ import annotations

from dataclasses import dataclass

ONE_QUBIT_GATES = ("h", "rx", "ry", "rz", "x", "y", "z", "s", "sdg", "t", "tdg", "sx", "u", "p")
"""Qiskit gate names that get the single-qubit depolarizing error."""
TWO_QUBIT_GATES = ("cx", "cz", "swap", "ecr")
"""Qiskit gate names that get the two-qubit depolarizing error."""


@dataclass(frozen=True)
class NoiseConfig:
    """Depolarizing + readout noise for ``qiskit.aer`` (probabilities in [0, 1]).

    Fields:
        p1: depolarizing probability after every single-qubit gate.
        p2: depolarizing probability after every two-qubit gate.
        readout: probability that a measured bit flips (symmetric).
    """

    p1: float = 1e-3
    p2: float = 1e-2
    readout: float = 2e-2

    def __post_init__(self) -> None:
        for field in ("p1", "p2", "readout"):
            value = getattr(self, field)
            ok = isinstance(value, (int, float)) and not isinstance(value, bool)
            if not ok or not 0.0 <= value <= 1.0:
                raise ValueError(f"NoiseConfig.{field}={value!r} must be a probability in [0, 1]")


def noise_model(config: NoiseConfig):
    """A ``qiskit_aer.noise.NoiseModel``: depolarizing after every gate, symmetric readout flips."""
    from qiskit_aer.noise import NoiseModel, ReadoutError, depolarizing_error

    if not isinstance(config, NoiseConfig):
        raise TypeError(f"config must be a NoiseConfig, got {type(config).__name__}")
    model = NoiseModel()
    if config.p1 > 0:
        model.add_all_qubit_quantum_error(depolarizing_error(config.p1, 1), list(ONE_QUBIT_GATES))
    if config.p2 > 0:
        model.add_all_qubit_quantum_error(depolarizing_error(config.p2, 2), list(TWO_QUBIT_GATES))
    if config.readout > 0:
        r = config.readout
        model.add_all_qubit_readout_error(ReadoutError([[1 - r, r], [r, 1 - r]]))
    return model
