"""``qrnn.fast``: a PennyLane device (``qml.devices.Device`` API) on the fast torch simulator.

    dev = qml.device("qrnn.fast", wires=4, seed=1234)

Runs ordinary PennyLane circuits: the gates in :data:`qrnn.sim.tape.SUPPORTED_OPS` directly,
operations with a matrix but no decomposition (``DoubleExcitationPlus``, ``BlockEncode``...)
as their matrix, a leading state preparation (``StatePrep``, ``BasisState``) as the initial
state, anything else decomposed by PennyLane (or refused with PennyLane's "not supported"
``DeviceError``). Measurements: any ``StateMeasurement`` analytic (expectation values,
variances, probabilities, states, ``SparseHamiltonian`` expectations, sums with constant
terms, custom subclasses) and any ``SampleMeasurement`` with shots (samples, counts...).
Mid-circuit measurements by deferral (``qml.measure``, ``qml.cond``, resets; a measured wire
that is used again needs a spare wire). Parameter broadcasting natively; gradients by
backprop through the torch or autograd interface (``diff_method="best"`` or ``"backprop"``;
finite-shot circuits use parameter-shift).

Not supported (refused before any simulation): noise channels and mixed states, classical
shadows, postselection, ``mcm_method`` other than ``"deferred"``, adjoint/device
derivatives; backprop is torch and autograd only (JAX gets parameter-shift); with shots (as
``default.qubit``): states, density matrices, entropies, ``SparseHamiltonian`` expectations
and backprop.
"""

from __future__ import annotations

from dataclasses import replace

import pennylane as qml
import torch
from pennylane import math
from pennylane.devices import Device, ExecutionConfig
from pennylane.devices.preprocess import (
    decompose,
    no_sampling,
    validate_device_wires,
    validate_measurements,
)
from pennylane.exceptions import DeviceError
from pennylane.measurements import ExpectationMP, SampleMeasurement, StateMeasurement
from pennylane.transforms import defer_measurements
from pennylane.transforms.core import CompilePipeline

from qrnn.device_ops import simulate, simulate_autograd
from qrnn.sim.tape import SUPPORTED_OPS

_BACKPROP_INTERFACES = (math.Interface.TORCH, math.Interface.AUTOGRAD, math.Interface.NUMPY)


def _supported(op) -> bool:
    """Applied as is: the fast gate set, or a matrix PennyLane cannot decompose."""
    return op.name in SUPPORTED_OPS or (op.has_matrix and not op.has_decomposition)


def _observable_ok(obs, expval: bool, analytic: bool) -> bool:
    """An expectation of a sum is measured term by term (wire-less terms are constants)."""
    if obs is None:
        return True
    if expval and isinstance(obs, qml.ops.Sum):
        return all(len(t.wires) == 0 or _observable_ok(t, expval, analytic) for t in obs.terms()[1])
    if expval and analytic and isinstance(obs, qml.SparseHamiltonian):
        return True
    return obs.has_diagonalizing_gates


def _analytic_ok(mp) -> bool:
    return isinstance(mp, StateMeasurement) and _observable_ok(
        mp.obs, isinstance(mp, ExpectationMP), analytic=True
    )


def _sampled_ok(mp) -> bool:
    return isinstance(mp, SampleMeasurement) and _observable_ok(
        mp.obs, isinstance(mp, ExpectationMP), analytic=False
    )


class FastQubitDevice(Device):
    """PennyLane device backed by :mod:`qrnn.sim` (complex128 state vectors in torch).

    Args:
        wires: number of wires or an iterable of wire labels (None: taken from each circuit).
        seed: int seed of the torch generator used for sampling; the same seed reproduces
            samples exactly. None draws a fresh seed.
        shots: deprecated by PennyLane; prefer ``qml.set_shots`` / ``QNode(shots=...)``.
    """

    def __init__(self, wires=None, shots=None, seed: int | None = None) -> None:
        super().__init__(wires=wires, shots=shots)
        if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int)):
            raise TypeError(f"seed={seed!r} must be an int or None")
        self._generator = torch.Generator()
        if seed is None:
            self._generator.seed()
        else:
            self._generator.manual_seed(seed)

    @property
    def name(self) -> str:
        """The name under which the device is registered."""
        return "qrnn.fast"

    def supports_derivatives(self, execution_config=None, circuit=None) -> bool:
        """Backprop (torch or autograd interface) for analytic circuits; nothing else."""
        if execution_config is None:
            return True
        if execution_config.gradient_method not in ("backprop", "best"):
            return False
        if execution_config.interface not in _BACKPROP_INTERFACES:
            return False
        return circuit is None or not circuit.shots

    def setup_execution_config(self, config=None, circuit=None) -> ExecutionConfig:
        """Resolve ``gradient_method="best"`` to backprop; keep torch parameters as torch."""
        config = config or ExecutionConfig()
        updates = {}
        if config.gradient_method == "best":
            updates["gradient_method"] = "backprop"
        backprop = updates.get("gradient_method", config.gradient_method) == "backprop"
        if config.use_device_gradient is None:
            updates["use_device_gradient"] = backprop
        if config.use_device_jacobian_product is None:
            updates["use_device_jacobian_product"] = False
        if config.grad_on_execution is None:
            updates["grad_on_execution"] = False
        mcm_method = config.mcm_config.mcm_method
        if mcm_method not in (None, "deferred"):
            raise DeviceError(
                f"mcm_method={getattr(mcm_method, 'value', mcm_method)!r} is not supported by "
                "qrnn.fast; use 'deferred' (the default)"
            )
        updates["mcm_config"] = replace(config.mcm_config, mcm_method="deferred")
        return replace(config, **updates)

    def preprocess_transforms(self, execution_config=None) -> CompilePipeline:
        """Decompose to the supported gates, check wires and measurements."""
        config = execution_config or ExecutionConfig()
        pipeline = CompilePipeline()
        pipeline.add_transform(defer_measurements, allow_postselect=False)
        pipeline.add_transform(
            decompose, stopping_condition=_supported, device_wires=self.wires, name=self.name
        )
        pipeline.add_transform(validate_device_wires, self.wires, name=self.name)
        pipeline.add_transform(
            validate_measurements,
            analytic_measurements=_analytic_ok,
            sample_measurements=_sampled_ok,
            name=self.name,
        )
        if config.gradient_method == "backprop":
            pipeline.add_transform(no_sampling, name="backprop + qrnn.fast")
        return pipeline

    def execute(self, circuits, execution_config=None):
        """Simulate each circuit; results in PennyLane's layout (torch when parameters are)."""
        config = execution_config or ExecutionConfig()
        torch_results = (
            config.gradient_method == "backprop" and config.interface == math.Interface.TORCH
        )
        if config.gradient_method == "backprop" and config.interface == math.Interface.AUTOGRAD:
            results = tuple(simulate_autograd(c, self._generator) for c in circuits)
        else:
            results = tuple(simulate(c, self._generator, torch_results) for c in circuits)
        if self.tracker.active:
            for c in circuits:
                self.tracker.update(executions=1, shots=c.shots.total_shots, batches=1)
            self.tracker.record()
        return results
