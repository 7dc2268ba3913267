"""The qrnn.fast PennyLane device against default.qubit."""

from __future__ import annotations

import numpy as np
import pennylane as qml
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import unitary_group

from qrnn.device import FastQubitDevice
from tests.qrnn.qrnn_cases import TOL

N_WIRES = 3
ONE_QUBIT = ["Hadamard", "PauliX", "PauliY", "PauliZ", "S", "T", "SX"]
ONE_QUBIT_PARAM = {"RX": 1, "RY": 1, "RZ": 1, "PhaseShift": 1, "Rot": 3, "U3": 3}
TWO_QUBIT = ["CNOT", "CY", "CZ", "SWAP"]
TWO_QUBIT_PARAM = {"CRX": 1, "CRY": 1, "CRZ": 1, "ControlledPhaseShift": 1, "CRot": 3}
DECOMPOSED = {"IsingXX": 1, "MultiRZ": 1}  # not in the device's gate set


@st.composite
def gate_lists(draw):
    """Random circuits as (name, wires, number of parameters) from the supported gate set."""
    gates = []
    for _ in range(draw(st.integers(1, 12))):
        kind = draw(st.sampled_from(["1", "1p", "2", "2p", "dec", "toffoli", "unitary"]))
        wires = draw(st.permutations(range(N_WIRES)))
        if kind == "1":
            gates.append((draw(st.sampled_from(ONE_QUBIT)), wires[:1], 0))
        elif kind == "1p":
            name = draw(st.sampled_from(sorted(ONE_QUBIT_PARAM)))
            gates.append((name, wires[:1], ONE_QUBIT_PARAM[name]))
        elif kind == "2":
            gates.append((draw(st.sampled_from(TWO_QUBIT)), wires[:2], 0))
        elif kind == "2p":
            name = draw(st.sampled_from(sorted(TWO_QUBIT_PARAM)))
            gates.append((name, wires[:2], TWO_QUBIT_PARAM[name]))
        elif kind == "dec":
            name = draw(st.sampled_from(sorted(DECOMPOSED)))
            gates.append((name, wires[:2], 1))
        elif kind == "toffoli":
            gates.append(("Toffoli", wires[:3], 0))
        else:
            gates.append(("QubitUnitary", wires[: draw(st.integers(1, 2))], 0))
    return gates


def build_circuit(gates, seed: int):
    """A quantum function ``f(params)`` applying ``gates``; params ``([batch,] n_params)``."""
    rng = np.random.default_rng(seed)
    unitaries = [unitary_group.rvs(2 ** len(w), random_state=rng) for _, w, _ in gates]

    def circuit(params):
        k = 0
        for (name, wires, n_par), u in zip(gates, unitaries, strict=True):
            if name == "QubitUnitary":
                qml.QubitUnitary(u, wires=wires)
            else:
                getattr(qml, name)(*[params[..., k + i] for i in range(n_par)], wires=wires)
            k += n_par
        return (
            qml.expval(qml.Z(0)),
            qml.expval(qml.X(1) @ qml.Y(2)),
            qml.expval(0.5 * qml.Z(0) + 0.3 * qml.X(2)),
            qml.var(qml.Y(1)),
            qml.probs(wires=[2, 0]),
        )

    n_params = sum(n for _, _, n in gates)
    return circuit, n_params


def _run(device, circuit, params, **kwargs):
    return qml.QNode(circuit, device, interface="torch", **kwargs)(params)


@settings(max_examples=15, deadline=None)
@given(gates=gate_lists(), seed=st.integers(0, 2**16), batch=st.sampled_from([None, 3]))
def test_fast_device_equals_default_qubit(gates, seed, batch):
    circuit, n_params = build_circuit(gates, seed)
    gen = torch.Generator().manual_seed(seed)
    shape = (n_params,) if batch is None else (batch, n_params)
    params = (torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * np.pi
    p_fast, p_ref = params.clone().requires_grad_(), params.clone().requires_grad_()
    fast = _run(qml.device("qrnn.fast", wires=N_WIRES), circuit, p_fast)
    ref = _run(qml.device("default.qubit", wires=N_WIRES), circuit, p_ref)
    for a, b in zip(fast, ref, strict=True):
        assert a.shape == b.shape
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)
    if n_params:
        weights = [0.7, -1.3, 0.4, 2.0, 1.1]
        loss_fast = sum(w * r.sum() for w, r in zip(weights, fast, strict=True))
        loss_ref = sum(w * r.sum() for w, r in zip(weights, ref, strict=True))
        (g_fast,) = torch.autograd.grad(loss_fast, p_fast)
        (g_ref,) = torch.autograd.grad(loss_ref, p_ref)
        torch.testing.assert_close(g_fast, g_ref, atol=TOL, rtol=0)


def test_device_is_registered_and_named():
    dev = qml.device("qrnn.fast", wires=["a", "b"])
    assert isinstance(dev, FastQubitDevice) and dev.name == "qrnn.fast"

    @qml.qnode(dev)
    def bell():
        qml.Hadamard("a")
        qml.CNOT(["a", "b"])
        return qml.state()

    expected = np.array([1, 0, 0, 1]) / np.sqrt(2)
    np.testing.assert_allclose(np.asarray(bell()), expected, atol=1e-12)


def test_shots_agree_within_four_sigma_and_seed_reproduces_samples():
    def prepare(a):
        qml.RX(a, 0)
        qml.CNOT([0, 1])
        qml.RY(0.4, 1)

    def circuit(a):
        prepare(a)
        return qml.expval(qml.Z(1)), qml.probs(wires=[0]), qml.sample(wires=[0, 1])

    def analytic(a):
        prepare(a)
        return qml.expval(qml.Z(1)), qml.probs(wires=[0])

    a = torch.tensor(0.9, dtype=torch.float64)
    exact = qml.QNode(analytic, qml.device("default.qubit", wires=2))(a)
    shots = 4000
    runs = []
    for _ in range(2):
        dev = qml.device("qrnn.fast", wires=2, seed=11)
        runs.append(qml.set_shots(qml.QNode(circuit, dev), shots=shots)(a))
    z, p0, samples = runs[0]
    sigma_z = np.sqrt((1 - float(exact[0]) ** 2) / shots)
    assert abs(float(z) - float(exact[0])) <= 4 * sigma_z
    p = float(exact[1][0])
    assert abs(float(p0[0]) - p) <= 4 * np.sqrt(p * (1 - p) / shots)
    assert np.asarray(samples).shape == (shots, 2)
    np.testing.assert_array_equal(np.asarray(samples), np.asarray(runs[1][2]))
    other = qml.set_shots(qml.QNode(circuit, qml.device("qrnn.fast", wires=2, seed=12)), shots)
    assert not np.array_equal(np.asarray(other(a)[2]), np.asarray(samples))


def test_broadcast_samples_and_counts_shapes():
    dev = qml.device("qrnn.fast", wires=2, seed=1)

    @qml.set_shots(shots=50)
    @qml.qnode(dev)
    def circuit(a):
        qml.RY(a, 0)
        return qml.sample(qml.Z(0)), qml.counts(wires=[0])

    samples, counts = circuit(np.array([0.0, np.pi]))
    np.testing.assert_array_equal(np.asarray(samples), [[1] * 50, [-1] * 50])  # deterministic
    assert counts[0] == {"0": 50} and counts[1] == {"1": 50}


def test_parameter_shift_with_shots_runs_on_numpy_parameters():
    dev = qml.device("qrnn.fast", wires=1, seed=3)
    circuit = qml.set_shots(qml.QNode(lambda a: _rx_z(a), dev, interface="torch"), shots=20000)
    a = torch.tensor(0.7, dtype=torch.float64, requires_grad=True)
    value = circuit(a)
    value.backward()
    assert abs(float(value.detach()) - np.cos(0.7)) < 4 * np.sqrt((1 - np.cos(0.7) ** 2) / 20000)
    assert abs(float(a.grad) + np.sin(0.7)) < 0.05  # d cos / da, two shot-noisy terms


def _rx_z(a):
    qml.RX(a, 0)
    return qml.expval(qml.Z(0))


class _NoDecomposition(qml.operation.Operation):
    num_wires = 1
    num_params = 0


def test_unsupported_operation_is_refused_clearly():
    @qml.qnode(qml.device("qrnn.fast", wires=1))
    def circuit():
        _NoDecomposition(wires=0)
        return qml.expval(qml.Z(0))

    with pytest.raises(Exception, match="_NoDecomposition.*qrnn.fast|not supported"):
        circuit()


def test_bad_seed_is_refused():
    with pytest.raises(TypeError, match="seed=1.5 must be an int or None"):
        qml.device("qrnn.fast", wires=1, seed=1.5)
