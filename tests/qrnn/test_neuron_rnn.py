"""QuantumNeuronRNN: fast path against the gate-by-gate reference and default.qubit, gradients
against finite differences, a hand-built parity cell against its closed form, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from qrnn.neuron_rnn import NeuronRNNState, QuantumNeuronConfig, QuantumNeuronRNN

F64 = torch.float64
CONFIGS = [
    QuantumNeuronConfig(n_qubits=4, order=1),
    QuantumNeuronConfig(n_qubits=5, order=2, readout=2),
    QuantumNeuronConfig(n_qubits=4, order=1, rounds=1, stages=2),
]


def inputs(batch=3, steps=4, features=2, seed=0) -> torch.Tensor:
    return torch.rand(batch, steps, features, generator=torch.Generator().manual_seed(seed),
                      dtype=F64)


def model(config, seed=1, **kwargs) -> QuantumNeuronRNN:
    return QuantumNeuronRNN(2, config, seed=seed, dtype=F64, **kwargs)


@pytest.mark.parametrize("config", CONFIGS)
def test_fast_matches_gate_by_gate_reference(config):
    x = inputs()
    fast = model(config)
    y, state = fast(x)
    ref = model(config, path="reference")
    y_ref, state_ref = ref(x)
    assert y.shape == (3, 4, 2**config.readout)
    assert torch.allclose(y, y_ref, atol=1e-12)
    assert torch.allclose(state.log_success, state_ref.log_success, atol=1e-12)
    assert torch.allclose(state.repetitions, state_ref.repetitions, atol=1e-10)
    assert torch.allclose(y.sum(-1), torch.ones(3, 4, dtype=F64))
    assert state.neurons == 4 * config.stages * config.register
    assert bool((state.repetitions >= state.neurons).all())
    assert bool((state.log_success < 0).all())


@pytest.mark.parametrize("config", CONFIGS[:2])
def test_fast_matches_default_qubit_values_and_gradients(config):
    x = inputs(batch=2, steps=2)
    fast = model(config)
    slow = model(config, backend="default.qubit")
    weights = torch.linspace(-1, 1, 2**config.readout, dtype=F64)
    grads = []
    for m in (fast, slow):
        y, _ = m(x)
        loss = (y * weights).sum()
        grads.append((y.detach(), torch.autograd.grad(loss, list(m.parameters()))))
    (y_fast, g_fast), (y_slow, g_slow) = grads
    assert torch.allclose(y_fast, y_slow, atol=1e-10)
    for a, b in zip(g_fast, g_slow, strict=True):
        assert torch.allclose(a, b, atol=1e-9)


@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[2]])
def test_gradients_agree_with_finite_differences(config):
    x = inputs(batch=2, steps=2)
    m = model(config)
    names = [name for name, _ in m.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in m.parameters())

    def f(*values):
        y, state = torch.func.functional_call(m, dict(zip(names, values, strict=True)), (x,))
        return y[:, -1, 0], state.log_success

    assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-6)


@pytest.mark.parametrize(("dtype", "tol"), [(F64, 1e-12), (torch.float32, 2e-5)])
@pytest.mark.parametrize("config", [CONFIGS[0], CONFIGS[1],
                                    QuantumNeuronConfig(n_qubits=6, order=3, stages=2),
                                    QuantumNeuronConfig(n_qubits=7, order=5)])
def test_compiled_kernel_matches_torch_closed_form(config, dtype, tol):
    x = inputs(batch=3, steps=5).to(dtype)
    results = []
    for path in ("compiled", "torch"):
        m = QuantumNeuronRNN(2, config, seed=2, dtype=dtype, path=path)
        y, state = m(x)
        loss = (y[..., -1] * torch.arange(5, dtype=dtype)).sum() + 0.1 * state.log_success.sum()
        results.append([y, state.log_success, state.repetitions,
                        *torch.autograd.grad(loss, list(m.parameters()))])
    for a, b in zip(*results, strict=True):
        assert torch.allclose(a, b, atol=tol, rtol=tol)


def test_without_a_compiler_auto_warns_once_and_runs_torch(forget_build):
    from qrnn import neuron_fused

    forget_build(neuron_fused.LIBRARY, "no C compiler found (simulated)")
    x = inputs()
    m = model(CONFIGS[0])
    with pytest.warns(RuntimeWarning, match="no C compiler found.*runs in torch"):
        y, _ = m(x)
    y_torch, _ = model(CONFIGS[0], path="torch")(x)
    assert torch.equal(y, y_torch)
    with pytest.raises(RuntimeError, match="quantum-neuron kernels unavailable"):
        model(CONFIGS[0], path="compiled")(x)


def test_compiled_gradients_agree_with_finite_differences():
    x = inputs(batch=2, steps=3)
    m = model(QuantumNeuronConfig(n_qubits=5, order=2, stages=2), path="compiled")
    names = [name for name, _ in m.named_parameters()]
    params = tuple(p.detach().clone().requires_grad_() for p in m.parameters())

    def f(*values):
        y, state = torch.func.functional_call(m, dict(zip(names, values, strict=True)), (x,))
        return y[:, -1, 0], state.log_success, state.repetitions

    assert torch.autograd.gradcheck(f, params, eps=1e-6, atol=1e-6)


def test_batch_equals_samples_one_by_one():
    x = inputs(batch=3)
    m = model(CONFIGS[2])
    y, state = m(x)
    for b in range(3):
        yb, sb = m(x[b : b + 1])
        assert torch.allclose(y[b], yb[0], atol=1e-13)
        assert torch.allclose(state.repetitions[b], sb.repetitions[0], atol=1e-10)


def test_state_carries_across_calls():
    x = inputs(steps=6)
    m = model(CONFIGS[1])
    y, state = m(x)
    y1, s1 = m(x[:, :2])
    y2, s2 = m(x[:, 2:], s1)
    assert torch.allclose(torch.cat([y1, y2], 1), y, atol=1e-13)
    assert torch.allclose(s2.amplitudes, state.amplitudes, atol=1e-13)
    assert torch.allclose(s2.log_success, state.log_success, atol=1e-12)
    assert s2.neurons == state.neurons


def test_hand_built_parity_cell():
    # one register qubit, theta = (pi/2) x_t: bit 1 gives q(pi/2) = pi/2 (a flip), bit 0 gives
    # q(0) = 0; success probability sin^4 + cos^4 = 1 at both, so P(readout = 1) is the parity
    m = QuantumNeuronRNN(1, QuantumNeuronConfig(n_qubits=2), dtype=F64)
    with torch.no_grad():
        m.bias.zero_()
        m.w_in.fill_(math.pi / 2)
    bits = torch.tensor([[1, 0, 1, 1, 0, 1], [0, 0, 1, 0, 0, 0]], dtype=F64)
    y, state = m(bits.unsqueeze(-1))
    parity = torch.cumsum(bits, 1) % 2
    assert torch.allclose(y[..., 1], parity, atol=1e-12)
    assert torch.allclose(state.log_success, torch.zeros(2, dtype=F64), atol=1e-12)
    assert torch.allclose(state.repetitions, torch.full((2,), 6.0, dtype=F64), atol=1e-10)


def test_seeds_fix_the_parameters():
    a, b, c = (model(CONFIGS[0], seed=s) for s in (3, 3, 4))
    assert all(torch.equal(p, q) for p, q in zip(a.parameters(), b.parameters(), strict=True))
    assert not torch.equal(a.w_state, c.w_state)


def test_qiskit_aer_shots_estimate_the_fast_outputs():
    config = QuantumNeuronConfig(n_qubits=3, order=1, shots=3000)
    x = inputs(batch=1, steps=2)
    y_fast, s_fast = model(config)(x)
    y_aer, s_aer = model(config, backend="qiskit.aer")(x)
    assert y_aer.shape == y_fast.shape
    assert torch.allclose(y_aer, y_fast, atol=0.06)
    assert abs(float(s_aer.log_success.exp() - s_fast.log_success.exp())) < 0.05


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"n_qubits": 21}, r"n_qubits=21 must be in \[2, 20\].*simulator's limit"),
     ({"order": 0}, r"order=0 must be in \[1, 6\]"),
     ({"n_qubits": 3, "order": 2, "readout": 2}, r"n_qubits=3 must be in \[4, 20\]"),
     ({"stages": 0}, "stages=0"), ({"readout": 7}, r"readout=7"), ({"shots": 0}, "shots=0")],
)
def test_bad_config(kwargs, match):
    with pytest.raises(ValueError, match=match):
        QuantumNeuronConfig(**kwargs)


def test_bad_calls():
    m = model(CONFIGS[0])
    with pytest.raises(ValueError, match=r"expected \(batch, time, 2\)"):
        m(torch.zeros(2, 3, dtype=F64))
    with pytest.raises(ValueError, match="backend='lightning.qubit' is unknown"):
        m.backend = "lightning.qubit"
    with pytest.raises(ValueError, match="path='fused' is unknown"):
        model(CONFIGS[0], path="fused")
    with pytest.raises(ValueError, match="path='compiled' needs rounds=0"):
        model(QuantumNeuronConfig(n_qubits=3, rounds=1), path="compiled")(inputs())
    with pytest.raises(TypeError, match="NeuronRNNState"):
        m(inputs(), state=torch.zeros(3, 8))
    _, state = m(inputs())
    m.backend = "default.qubit"
    with pytest.raises(ValueError, match="starts every sequence from"):
        m(inputs(), state)
    m.backend = "qiskit.aer"
    with pytest.raises(ValueError, match="qiskit.aer cannot postselect"):
        m(inputs())
    wide = model(QuantumNeuronConfig(n_qubits=4, shots=10), backend="qiskit.aer")
    with pytest.raises(ValueError, match="qiskit.aer would need"):
        wide(inputs(batch=1, steps=8))
    assert isinstance(state, NeuronRNNState)


def test_registered_with_its_options():
    from experiments.models import build_model, model_spec

    spec = model_spec("qneuron_rnn")
    assert spec.backends == ("fast", "default.qubit", "qiskit.aer")
    net = build_model("qneuron_rnn", 1, 2, "classification", hidden_size=32, seed=5,
                      options={"n_qubits": 5, "order": 2, "readout": 2, "stages": 2})
    assert net.body.config == QuantumNeuronConfig(n_qubits=5, order=2, readout=2, stages=2)
    assert net.head.in_features == 4  # 2**readout classes, not hidden_size
    assert net(torch.rand(3, 4, 1)).shape == (3, 2)
    with pytest.raises(ValueError, match=r"option n_qubits=21 is not allowed.*\[2, 20\]"):
        spec.resolve_options({"n_qubits": 21})
    with pytest.raises(ValueError, match="num_layers=2"):
        build_model("qneuron_rnn", 1, 2, "classification", hidden_size=4, num_layers=2)


def test_digits_pixels_zero_vs_one_task():
    from experiments import tasks

    data = tasks.load("digits_pixels", seed=0, classes="0,1")
    assert data.output_size == 2 and data.train.x.shape[1:] == (64, 1)
    labels = torch.cat([data.train.y, data.val.y, data.test.y])
    assert set(labels.tolist()) == {0, 1}
    assert 340 < len(labels) < 380  # 178 zeros and 182 ones in scikit-learn's digits
    with pytest.raises(ValueError, match="two or more distinct digits"):
        tasks.load("digits_pixels", seed=0, classes="3")


def test_bench_workload_has_the_task_training_split_size():
    from experiments import tasks
    from qrnn.neuron_bench import STEPS, zero_one_train_split

    x, y = zero_one_train_split()
    train = tasks.load("digits_pixels", seed=0, classes="0,1").train
    assert x.shape == (len(train), STEPS, 1) and set(y.tolist()) == {0, 1}
