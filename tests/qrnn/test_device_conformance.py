"""qrnn.fast on what PennyLane's device suite exercises, against default.qubit and closed forms.

One test per cause of the suite's former failures: leading state preparations, sums with a
wire-less constant, autograd backprop, operations applied by matrix, SparseHamiltonian
expectations, custom measurement classes; and the wording of a refusal.
"""

from __future__ import annotations

import numpy as np
import pennylane as qml
import pytest
import scipy.sparse
import torch
from pennylane import numpy as pnp
from pennylane.exceptions import DeviceError
from pennylane.measurements import SampleMeasurement, StateMeasurement
from scipy.stats import unitary_group

from tests.qrnn.qrnn_cases import TOL

FAST, REF = "qrnn.fast", "default.qubit"


def _both(circuit, wires, **qnode_kwargs):
    """Run ``circuit`` on both devices: (fast result, default.qubit result)."""
    return tuple(
        qml.QNode(circuit, qml.device(name, wires=wires), **qnode_kwargs)() for name in (FAST, REF)
    )


def _random_state(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    vec = rng.normal(size=2**n) + 1j * rng.normal(size=2**n)
    return vec / np.linalg.norm(vec)


def _close(a, b):
    np.testing.assert_allclose(np.asarray(a), np.asarray(b), atol=TOL, rtol=0)


@pytest.mark.parametrize(
    "prepare",
    [
        lambda: qml.StatePrep(_random_state(2, 1), wires=[2, 0]),  # only some wires
        lambda: qml.BasisState(np.array([1, 0, 1]), wires=[0, 1, 2]),
        lambda: qml.AmplitudeEmbedding([0.3, 0.1, -0.5, 0.2], wires=[1, 2], normalize=True),
        lambda: qml.BasisEmbedding(5, wires=[0, 1, 2]),
    ],
    ids=["StatePrep-subset", "BasisState", "AmplitudeEmbedding", "BasisEmbedding"],
)
def test_leading_state_preparation_is_the_initial_state(prepare):
    def circuit(with_prep=True):
        def run():
            if with_prep:
                prepare()
            qml.RX(0.4, 1)
            qml.CNOT([1, 2])
            qml.QFT(wires=[0, 1, 2])
            return qml.state(), qml.expval(qml.Z(0) @ qml.X(2))

        return run

    (state, z), (state_ref, z_ref) = _both(circuit(), 3)
    _close(state, state_ref)
    _close(z, z_ref)
    plain, _ = _both(circuit(with_prep=False), 3)
    assert np.abs(np.asarray(state) - np.asarray(plain[0])).max() > 0.1  # the prep mattered


def test_broadcast_state_preparation_and_its_gradient():
    """A batch of StatePreps with trainable amplitudes (torch): values and gradients."""
    amps = torch.tensor(
        [[0.6, 0.0, 0.8, 0.0], [0.5, 0.5, 0.5, 0.5], [0.0, 0.28, 0.0, 0.96]],
        dtype=torch.float64,
    )

    def circuit(a):
        qml.StatePrep(a, wires=[0, 1])
        qml.RY(0.7, 0)
        qml.CZ([0, 1])
        return qml.expval(qml.X(0) + 0.5 * qml.Y(1)), qml.probs(wires=[1])

    results, grads = [], []
    for name in (FAST, REF):
        a = amps.clone().requires_grad_()
        out = qml.QNode(circuit, qml.device(name, wires=2), interface="torch")(a)
        assert out[0].shape == (3,) and out[1].shape == (3, 2)
        (out[0].sum() + 0.3 * out[1][:, 1].sum()).backward()
        results.append([o.detach() for o in out])
        grads.append(a.grad)
    for a, b in zip(results[0], results[1], strict=True):
        _close(a, b)
    _close(grads[0], grads[1])
    assert grads[0].abs().max() > 0.05


def test_sum_with_wireless_identity_constant_analytic():
    coeffs = [0.7, -0.4, 1.3]

    def circuit():
        qml.RX(0.9, 0)
        qml.CNOT([0, 1])
        h = qml.Hamiltonian(coeffs, [qml.Identity(), qml.Z(0) @ qml.Z(1), qml.Z(0)])
        return qml.expval(h), qml.expval(qml.Z(1) - 2.0 * qml.Identity())

    (h, z), (h_ref, z_ref) = _both(circuit, 2)
    _close(h, h_ref)
    _close(z, z_ref)
    # closed form: after the CNOT <Z0 Z1> = 1 and <Z0> = <Z1> = cos(0.9)
    _close(h, 0.7 - 0.4 + 1.3 * np.cos(0.9))
    _close(z, np.cos(0.9) - 2.0)


def test_sum_with_wireless_identity_constant_with_shots():
    shots = 20000
    dev = qml.device(FAST, wires=1, seed=5)

    @qml.set_shots(shots=[shots, shots])
    @qml.qnode(dev)
    def circuit():
        qml.RY(0.8, 0)
        return qml.expval(0.5 * qml.Z(0) - 1.2 * qml.Identity()), qml.expval(2.5 * qml.Identity())

    bins = circuit()
    assert len(bins) == 2
    sigma = 0.5 * np.sqrt((1 - np.cos(0.8) ** 2) / shots)
    for value, constant in bins:
        assert abs(float(value) - (0.5 * np.cos(0.8) - 1.2)) <= 4 * sigma
        assert float(constant) == 2.5  # a constant is exact, not sampled
    assert float(bins[0][0]) != float(bins[1][0])  # two bins, two independent estimates


def _autograd_circuit():
    def circuit(x, y):
        qml.RY(x[0], 0)
        qml.RX(x[1], 1)
        qml.CRZ(y, [0, 1])
        qml.Hadamard(1)
        return qml.expval(qml.Z(0) @ qml.X(1)), qml.probs(wires=[1]), qml.state()

    return circuit


def test_autograd_backprop_gradients_hessian_and_state_match_default_qubit():
    x = pnp.array([0.4, -1.1], requires_grad=True)
    y = pnp.array(0.8, requires_grad=True)
    out = {}
    for name in (FAST, REF):
        node = qml.QNode(
            _autograd_circuit(), qml.device(name, wires=2), diff_method="backprop", max_diff=2
        )

        def cost(x, y, node=node):
            ez, probs, state = node(x, y)
            amp = state[1] * pnp.conj(state[2])  # a complex intermediate
            return ez + 0.3 * probs[1] + pnp.real(amp) - 0.2 * pnp.imag(amp)

        def vector(x, y, node=node):
            ez, probs, _ = node(x, y)
            return pnp.hstack([ez, probs])

        out[name] = (
            qml.grad(cost)(x, y),
            qml.jacobian(qml.grad(cost, argnums=0), argnums=0)(x, y),
            qml.jacobian(vector)(x, y),
        )
    (g, hess, jac), (g_ref, hess_ref, jac_ref) = out[FAST], out[REF]
    for a, b in zip(g, g_ref, strict=True):
        _close(a, b)
    _close(hess, hess_ref)
    for a, b in zip(jac, jac_ref, strict=True):
        _close(a, b)
    assert np.abs(hess).max() > 0.05 and np.abs(g[0]).max() > 0.05


def test_autograd_best_is_backprop_one_execution_per_gradient():
    """Parameter-shift would run the circuit three times for one gradient, backprop once."""
    dev = qml.device(FAST, wires=1)
    node = qml.QNode(lambda a: (qml.RX(a, 0), qml.expval(qml.Z(0)))[1], dev)
    a = pnp.array(0.3, requires_grad=True)
    with qml.Tracker(dev) as tracker:
        grad = qml.grad(node)(a)
    assert tracker.totals["executions"] == 1
    _close(grad, -np.sin(0.3))


@pytest.mark.parametrize(
    "gate",
    [
        lambda: qml.DoubleExcitationPlus(0.7, wires=[0, 1, 2, 3]),
        lambda: qml.DoubleExcitationMinus(-1.3, wires=[3, 1, 0, 2]),
        lambda: qml.BlockEncode(np.array([[0.1, 0.2], [0.3, 0.4]]), wires=[2, 0]),
    ],
    ids=["DoubleExcitationPlus", "DoubleExcitationMinus", "BlockEncode"],
)
def test_operations_without_decomposition_apply_their_matrix(gate):
    def circuit():
        qml.StatePrep(_random_state(4, 7), wires=range(4))
        gate()
        return qml.state()

    fast, ref = _both(circuit, 4)
    _close(fast, ref)
    assert np.abs(np.asarray(fast) - _random_state(4, 7)).max() > 0.01  # the gate acted


@pytest.mark.parametrize("batched", [False, True])
def test_sparse_hamiltonian_expval_equals_dense(batched):
    rng = np.random.default_rng(3)
    herm = unitary_group.rvs(8, random_state=rng)
    herm = herm + herm.conj().T
    herm[np.abs(herm) < 0.5] = 0  # sparse, still Hermitian (symmetric threshold)
    angles = np.array([0.3, 1.2, -0.8]) if batched else 0.3

    def circuit(obs):
        def run():
            qml.RX(angles, 0)
            qml.Hadamard(1)
            qml.CNOT([1, 2])
            return qml.expval(obs)

        return run

    sparse = qml.SparseHamiltonian(scipy.sparse.csr_matrix(herm), wires=[0, 2, 1])
    dense = qml.Hermitian(herm, wires=[0, 2, 1])
    fast = qml.QNode(circuit(sparse), qml.device(FAST, wires=3))()
    ref_dense = qml.QNode(circuit(dense), qml.device(REF, wires=3))()
    ref_sparse = qml.QNode(circuit(sparse), qml.device(REF, wires=3))()
    assert np.shape(fast) == ((3,) if batched else ())
    _close(fast, ref_dense)
    _close(fast, ref_sparse)


class _SumOfProbs(StateMeasurement):
    """A user measurement: the summed probability of odd basis states."""

    def process_state(self, state, wire_order):
        probs = qml.math.abs(state) ** 2
        return qml.math.sum(probs[..., 1::2], axis=-1)


class _OnesCount(SampleMeasurement):
    """A user measurement: the mean number of 1 bits per shot."""

    def process_samples(self, samples, wire_order, shot_range=None, bin_size=None):
        return qml.math.mean(qml.math.sum(samples, axis=-1))

    def process_counts(self, counts, wire_order):
        raise NotImplementedError


def test_custom_state_and_sample_measurements_are_accepted():
    def analytic():
        qml.RY(1.0, 0)
        qml.CNOT([0, 1])
        return _SumOfProbs(wires=[0, 1])

    fast, ref = _both(analytic, 2)
    _close(fast, np.sin(0.5) ** 2)  # |11> carries sin^2(theta / 2)
    _close(fast, ref)

    @qml.set_shots(shots=4000)
    @qml.qnode(qml.device(FAST, wires=2, seed=2))
    def sampled():
        qml.RY(1.0, 0)
        qml.CNOT([0, 1])
        return _OnesCount(wires=[0, 1])

    p = np.sin(0.5) ** 2  # two 1 bits with probability p
    assert abs(float(sampled()) - 2 * p) <= 4 * 2 * np.sqrt(p * (1 - p) / 4000)


def test_unsupported_operation_is_a_device_error_the_suite_recognises():
    """The suite skips (with --skip-ops) a DeviceError whose message says "supported"."""

    @qml.qnode(qml.device(FAST, wires=1))
    def circuit():
        qml.DepolarizingChannel(0.1, wires=0)
        return qml.expval(qml.Z(0))

    with pytest.raises(DeviceError, match="DepolarizingChannel.*not supported with qrnn.fast"):
        circuit()


def test_mid_circuit_measurements_are_deferred():
    def circuit():
        qml.RY(0.7, 0)
        m = qml.measure(0, reset=True)
        qml.cond(m, qml.RX)(0.5, 1)
        qml.CNOT([0, 1])
        return qml.expval(qml.Z(1)), qml.probs(op=m)

    (z, p), (z_ref, p_ref) = _both(circuit, 3)
    p1 = np.sin(0.35) ** 2  # outcome 1 of RY(0.7)|0>
    _close(p, [1 - p1, p1])
    _close(z, 1 - p1 + p1 * np.cos(0.5))  # RX(0.5) only after outcome 1
    _close(z, z_ref)
    _close(p, p_ref)


@pytest.mark.parametrize("method", ["tree-traversal", "one-shot"])
def test_other_mid_circuit_measurement_methods_are_refused(method):
    @qml.set_shots(shots=10)
    @qml.qnode(qml.device(FAST, wires=2), mcm_method=method)
    def circuit():
        qml.measure(0)
        return qml.expval(qml.Z(0))

    with pytest.raises(DeviceError, match=f"mcm_method='{method}' is not supported by qrnn.fast"):
        circuit()
