"""The quantum neuron against its closed forms: gate by gate on the fast simulator, on
default.qubit with postselected mid-circuit measurements, and the closed-form kernel."""

from __future__ import annotations

import math

import pytest
import torch

from qrnn.neuron import (
    NeuronSpec,
    apply_neuron,
    control_angles,
    neuron_amplitudes,
    neuron_ops,
)
from qrnn.neuron_pl import check_backend, run_exact, run_shots
from qrnn.neuron_sim import run_ops, zero_state

THETA = torch.tensor([0.05, 0.3, 0.6, math.pi / 4, 1.0, 1.4, 2.2], dtype=torch.float64)


def q_iterated(theta: torch.Tensor, order: int) -> torch.Tensor:
    """q o ... o q with q(t) = arctan(tan(t)^2), applied ``order`` times."""
    for _ in range(order):
        theta = torch.atan(torch.tan(theta) ** 2)
    return theta


def success_closed(theta: torch.Tensor, order: int) -> torch.Tensor:
    """P_k = cos^(2^(k+1)) + sin^(2^(k+1)); order 1: sin^4 + cos^4."""
    e = 2 ** (order + 1)
    return torch.cos(theta) ** e + torch.sin(theta) ** e


def amplified_closed(theta: torch.Tensor, rounds: int) -> torch.Tensor:
    """Order 1 with amplitude amplification: sin^2((2r+1) asin(sqrt(p)))."""
    beta = torch.asin(success_closed(theta, 1).sqrt())
    return torch.sin((2 * rounds + 1) * beta) ** 2


def expected_success(order: int, rounds: int) -> torch.Tensor:
    return success_closed(THETA, order) if rounds == 0 else amplified_closed(THETA, rounds)


def single_neuron(order: int, rounds: int):
    """Output qubit 0, ancillas 1..order, no controls: theta is the input angle."""
    return neuron_ops(0, {}, THETA, tuple(range(1, order + 1)), rounds), order + 1


@pytest.mark.parametrize("order", [1, 2, 3])
def test_closed_form_kernel_matches_q_and_success(order):
    a, b = neuron_amplitudes(THETA, order)
    assert torch.allclose(torch.atan2(b, a), q_iterated(THETA, order), atol=1e-12)
    assert torch.allclose(a * a + b * b, success_closed(THETA, order), atol=1e-14)
    if order == 1:
        s, c = torch.sin(THETA), torch.cos(THETA)
        assert torch.allclose(a * a + b * b, s**4 + c**4, atol=1e-14)


@pytest.mark.parametrize(("order", "rounds"), [(1, 0), (2, 0), (3, 0), (1, 1), (1, 2), (2, 1)])
def test_gates_on_fast_simulator_rotate_by_q(order, rounds):
    ops, n = single_neuron(order, rounds)
    state, p, clamped = run_ops(zero_state(len(THETA), n), ops, n)
    amp0, amp1 = state[:, 0], state[:, 2 ** (n - 1)]  # output |0>, |1> with ancillas |0>
    angle = torch.atan2(amp1.abs(), amp0.abs())
    assert torch.allclose(angle, q_iterated(THETA, order), atol=1e-10)
    assert torch.allclose(state.norm(dim=1), torch.ones(len(THETA), dtype=torch.float64))
    if rounds == 0 or order == 1:
        assert torch.allclose(p, expected_success(order, rounds), atol=1e-12)
    a, b = neuron_amplitudes(THETA, order, rounds)
    assert torch.allclose(p, a * a + b * b, atol=1e-12)
    assert not clamped.any()


@pytest.mark.parametrize(("order", "rounds"), [(1, 0), (2, 0), (1, 1)])
def test_default_qubit_postselected_mcm_matches_closed_forms(order, rounds):
    ops, _ = single_neuron(order, rounds)
    probs, success = run_exact(ops, (0,), success=True)
    assert torch.allclose(probs[:, 1], torch.sin(q_iterated(THETA, order)) ** 2, atol=1e-10)
    assert torch.allclose(success, expected_success(order, rounds), atol=1e-10)


def test_default_qubit_gradient_matches_closed_form():
    theta = THETA.clone().requires_grad_()
    probs, _ = run_exact(neuron_ops(0, {}, theta, (1,)), (0,))
    (grad,) = torch.autograd.grad(probs[:, 1].sum(), theta)
    t = THETA.clone().requires_grad_()
    (expected,) = torch.autograd.grad((torch.sin(torch.atan(torch.tan(t) ** 2)) ** 2).sum(), t)
    assert torch.allclose(grad, expected, atol=1e-9)


@pytest.mark.parametrize(("order", "rounds"), [(1, 0), (2, 0), (1, 1), (2, 1)])
def test_kernel_matches_gates_on_superposed_register_with_controls(order, rounds):
    gen = torch.Generator().manual_seed(order * 10 + rounds)
    n, batch = 4, 5
    state = torch.randn(batch, 2**n, generator=gen, dtype=torch.float64)
    state = state / state.norm(dim=1, keepdim=True)
    weights = torch.randn(n, generator=gen, dtype=torch.float64)
    angle = torch.randn(batch, generator=gen, dtype=torch.float64)
    full_n = n + order
    full = torch.zeros(batch, 2**full_n, dtype=torch.float64)
    full[:, :: 2**order] = state
    for target in range(n):
        out, p, _ = apply_neuron(state, n, target, angle, control_angles(n, target, weights),
                                 NeuronSpec(order, rounds))
        controls = {i: float(weights[i]) for i in range(n) if i != target}
        ops = neuron_ops(target, controls, angle, tuple(range(n, full_n)), rounds)
        ref, p_ref, _ = run_ops(full, ops, full_n)
        assert torch.allclose(out, ref[:, :: 2**order], atol=1e-12)
        assert torch.allclose(p, p_ref, atol=1e-12)


def test_qiskit_aer_shots_postselect_by_discarding():
    theta = torch.tensor(0.7, dtype=torch.float64)
    shots = 4000
    probs, kept = run_shots(neuron_ops(0, {}, theta, (1,)), 2, (0,), shots, seed=3)
    p = float(success_closed(theta, 1))
    assert abs(float(kept) - p) < 4 * math.sqrt(p * (1 - p) / shots)
    one = float(torch.sin(q_iterated(theta, 1)) ** 2)
    assert abs(float(probs[1]) - one) < 4 * math.sqrt(one * (1 - one) / (shots * p))


def test_qiskit_aer_too_wide_is_a_clear_error():
    ops = neuron_ops(0, {}, 0.3, (1, 2, 3, 4, 5, 6), rounds=0)  # order 6: 63 measurements
    with pytest.raises(ValueError, match="qiskit.aer would need .* limit of 24"):
        run_shots(ops, 7, (0,), 100, seed=0)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"order": 0}, r"order=0 must be in \[1, 6\]"), ({"order": 7}, r"order=7"),
     ({"rounds": -1}, r"rounds=-1"), ({"on_underflow": "nan"}, "on_underflow")],
)
def test_bad_neuron_spec(kwargs, match):
    with pytest.raises(ValueError, match=match):
        NeuronSpec(**kwargs)


def test_underflowing_success_raises_or_clamps():
    # order 1, one amplification round: p = sin^2(3 beta) = 0 where sin^2 beta = 3/4
    # (theta = pi/8: cos^4 + sin^4 = 3/4)
    state = zero_state(2, 1)
    angle = torch.tensor([math.pi / 8, 0.3], dtype=torch.float64)
    control = torch.zeros(1, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"success probability .*\(sample 0\) is below"):
        apply_neuron(state, 1, 0, angle, control, NeuronSpec(1, 1))
    out, p, clamped = apply_neuron(state, 1, 0, angle, control, NeuronSpec(1, 1, "clamp"))
    assert clamped.tolist() == [True, False]
    assert torch.isfinite(out).all() and float(p[0]) > 0


def test_backends_without_postselection_are_clear_errors():
    with pytest.raises(ValueError, match="cannot run neuron circuits.*allowed: fast"):
        check_backend("lightning.qubit", None)
    with pytest.raises(ValueError, match="qiskit.aer cannot postselect.*shots=N"):
        check_backend("qiskit.aer", None)
