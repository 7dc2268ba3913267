"""One description, several executions: fast path vs PennyLane devices, Backend validation."""

from __future__ import annotations

import pennylane as qml
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qrnn.circuit import BlockSpec
from qrnn.execute import Backend, BlockExecutor, NoiseConfig, broadcasts_natively, run_block
from tests.qrnn.qrnn_cases import TOL, block_specs, random_args, reference

SPEC = BlockSpec(3, 2, "qlstm", "ring2", "rot")


@pytest.mark.parametrize("device", ["default.qubit", "lightning.qubit", "qrnn.fast"])
@pytest.mark.parametrize("per_sample", [False, True])
def test_devices_equal_fast_path_in_values_and_gradients(device, per_sample):
    x, w = random_args(SPEC, 7, 4, per_sample)
    w_fast, w_dev = w.clone().requires_grad_(), w.clone().requires_grad_()
    fast = run_block(SPEC, x, w_fast)
    other = run_block(SPEC, x, w_dev, Backend(device))
    torch.testing.assert_close(other, fast, atol=TOL, rtol=0)
    (g_fast,) = torch.autograd.grad(fast.sum(), w_fast)
    (g_dev,) = torch.autograd.grad(other.sum(), w_dev)
    torch.testing.assert_close(g_dev, g_fast, atol=TOL, rtol=0)


@settings(max_examples=15, deadline=None)
@given(spec=block_specs(max_qubits=6), seed=st.integers(0, 2**16), per_sample=st.booleans())
def test_qrnn_fast_device_equals_default_qubit_on_random_blocks(spec, seed, per_sample):
    x, w = random_args(spec, seed, 3, per_sample)
    out = run_block(spec, x, w, "qrnn.fast")
    torch.testing.assert_close(out, reference(spec, x, w), atol=TOL, rtol=0)


def test_broadcast_detection():
    assert broadcasts_natively(qml.device("default.qubit", wires=2))
    assert broadcasts_natively(qml.device("qrnn.fast", wires=2))
    assert not broadcasts_natively(qml.device("lightning.qubit", wires=2))


def test_per_sample_fallback_and_multi_circuit_shapes_on_lightning():
    spec = BlockSpec(2, 1, "ry", "ring", "ry", measurement="probs")
    x, w = random_args(spec, 3, 5, per_sample=True)
    w2 = w.flip(0)
    ex = BlockExecutor(spec, "lightning.qubit")
    out = ex.compile([w, w2])(x)
    assert out.shape == (5, 2, 4)
    torch.testing.assert_close(out[:, 1], run_block(spec, x, w2), atol=TOL, rtol=0)


def test_unbatched_call_on_device_drops_batch_axis():
    x, w = random_args(SPEC, 1, None, per_sample=False)
    out = run_block(SPEC, x, w, "default.qubit")
    assert out.shape == (3,)
    torch.testing.assert_close(out, run_block(SPEC, x, w), atol=TOL, rtol=0)


@pytest.mark.parametrize("device", ["fast", "default.qubit"])
def test_shots_within_four_sigma_and_seed_reproducible(device):
    x, w = random_args(SPEC, 5, 4, per_sample=False)
    exact = run_block(SPEC, x, w)
    backend = Backend(device, shots=3000, seed=21)
    est = run_block(SPEC, x, w, backend)
    sigma = torch.sqrt((1 - exact**2) / 3000).clamp_min(1e-3)
    assert ((est - exact).abs() <= 4 * sigma).all()
    assert torch.equal(est, run_block(SPEC, x, w, backend))


def test_executor_keeps_its_random_stream_across_calls():
    x, w = random_args(SPEC, 5, 4, per_sample=False)
    ex = BlockExecutor(SPEC, Backend("fast", shots=100, seed=1))
    block = ex.compile(w)
    assert not torch.equal(block(x), block(x))  # fresh shots each call, reproducible per seed


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"name": "default.qbit"}, ValueError, "name='default.qbit' is not 'fast' or an installed"),
        ({"shots": 0}, ValueError, "shots=0 must be None"),
        ({"shots": -5}, ValueError, "shots=-5"),
        ({"shots": 2.5}, ValueError, "shots=2.5"),
        ({"seed": "x"}, TypeError, "seed='x' must be an int"),
        ({"method": "dense"}, ValueError, "method='dense' is not allowed"),
        ({"noise": NoiseConfig()}, ValueError, "needs a NoiseConfig and name='qiskit.aer'"),
    ],
)
def test_bad_backend_one_clear_error(kwargs, error, match):
    with pytest.raises(error, match=match):
        Backend(**kwargs)


def test_bad_noise_config():
    with pytest.raises(ValueError, match=r"NoiseConfig.readout=1.5 must be a probability"):
        NoiseConfig(readout=1.5)


def test_bad_arguments_on_device_path():
    with pytest.raises(ValueError, match=r"expected \(2, 3, 3\)"):
        run_block(SPEC, torch.zeros(2, 3), torch.zeros(2, 3, 1), "default.qubit")
    with pytest.raises(ValueError, match="batch sizes differ"):
        run_block(SPEC, torch.zeros(2, 3), torch.zeros(4, 2, 3, 3), "default.qubit")
    with pytest.raises(TypeError, match="backend must be a Backend"):
        run_block(SPEC, torch.zeros(3), torch.zeros(2, 3, 3), 3)
