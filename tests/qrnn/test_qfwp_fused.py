"""The fused QFWP sequence (qrnn.qfwp_fused): compiled kernel vs the per-step torch path,
vs default.qubit and a closed form, gradcheck of its backward, float32, fallback, bad input."""

from __future__ import annotations

import math

import pytest
import torch

from qrnn import qfwp_fused
from qrnn.qfwp import QFWP
from qrnn.qfwp_fused import FusedQFWP

EXACT = 1e-10
"""Fused kernel vs the per-step torch path (float64, values and gradients)."""
DEVICE = 1e-6
"""Fused kernel vs default.qubit (float64)."""

CONFIGS = {
    "paper": {"input_size": 1, "hidden_size": 8},
    "decay": {"input_size": 2, "hidden_size": 5, "n_qubits": 6, "n_layers": 3, "n_outputs": 3,
              "decay": 0.7},
    "no-memory": {"input_size": 1, "hidden_size": 3, "n_qubits": 4, "n_outputs": 4,
                  "decay": 0.0},
    "one-qubit": {"input_size": 1, "hidden_size": 2, "n_qubits": 1, "n_layers": 1,
                  "n_outputs": 1, "decay": 0.5},
}


def _pair(config: dict, dtype=torch.float64, seed: int = 0):
    """``(fused, reference)`` QFWPs with the same weights, moved away from the small init so
    every angle matters."""
    kwargs = dict(config)
    inputs, latent = kwargs.pop("input_size"), kwargs.pop("hidden_size")
    torch.manual_seed(seed)
    fused = QFWP(inputs, latent, path="cpu", **kwargs).to(dtype)
    with torch.no_grad():
        for p in fused.parameters():
            p.mul_(3)
    reference = QFWP(inputs, latent, path="reference", **kwargs).to(dtype)
    reference.load_state_dict(fused.state_dict())
    return fused, reference


def _leaves(model, batch: int, steps: int, dtype=torch.float64, seed: int = 1):
    gen = torch.Generator().manual_seed(seed)
    x = torch.randn(batch, steps, model.input_size, generator=gen, dtype=torch.float64)
    theta0 = torch.randn(batch, model.n_layers, model.n_qubits, generator=gen,
                         dtype=torch.float64)
    return x.to(dtype).requires_grad_(), theta0.to(dtype).requires_grad_()


def _run(model, x, theta0, last_only: bool):
    """Outputs and the gradients of x, Theta_0 and every parameter of a random scalar loss
    (every step, or only the last step as the trainer's head reads it, plus Theta_T)."""
    y, theta = model(x, theta0)
    gen = torch.Generator().manual_seed(7)
    read = y[:, -1:] if last_only else y
    loss = (read * torch.randn(read.shape, generator=gen, dtype=torch.float64).to(y.dtype)).sum()
    loss = loss + (theta * torch.randn(theta.shape, generator=gen,
                                       dtype=torch.float64).to(y.dtype)).sum()
    leaves = [x, theta0, *model.parameters()]
    grads = torch.autograd.grad(loss, leaves, allow_unused=True)
    grads = [torch.zeros_like(t) if g is None else g for t, g in zip(leaves, grads, strict=True)]
    return y.detach(), theta.detach(), grads


@pytest.mark.parametrize("last_only", [False, True], ids=["all-steps", "last-step"])
@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_fused_equals_per_step_path_in_values_and_gradients(name, last_only):
    fused, reference = _pair(CONFIGS[name])
    x, theta0 = _leaves(fused, batch=3, steps=5)
    got, want = _run(fused, x, theta0, last_only), _run(reference, x, theta0, last_only)
    torch.testing.assert_close(got[0], want[0], rtol=0, atol=EXACT)
    torch.testing.assert_close(got[1], want[1], rtol=0, atol=EXACT)
    assert any(float(g.abs().max()) > 1e-3 for g in want[2])  # a gradient that could differ
    for g_fused, g_reference in zip(got[2], want[2], strict=True):
        torch.testing.assert_close(g_fused, g_reference, rtol=0, atol=EXACT)


def test_fused_runs_without_a_state_like_the_per_step_path():
    fused, reference = _pair(CONFIGS["decay"])
    x = torch.randn(2, 4, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    for a, b in zip(fused(x), reference(x), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=EXACT)


def test_fused_equals_default_qubit():
    fused, _ = _pair(CONFIGS["decay"], seed=4)
    device = QFWP(2, 5, n_qubits=6, n_layers=3, n_outputs=3, decay=0.7,
                  backend="default.qubit").double()
    device.load_state_dict(fused.state_dict())
    x = torch.randn(2, 3, 2, dtype=torch.float64, generator=torch.Generator().manual_seed(5))
    y_fused, y_device = fused(x)[0], device(x)[0]
    torch.testing.assert_close(y_fused, y_device, rtol=0, atol=DEVICE)
    cot = torch.randn(y_fused.shape, dtype=torch.float64,
                      generator=torch.Generator().manual_seed(6))
    g_fused = torch.autograd.grad((y_fused * cot).sum(), list(fused.parameters()))
    g_device = torch.autograd.grad((y_device * cot).sum(), list(device.parameters()))
    for a, b in zip(g_fused, g_device, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=DEVICE)


@pytest.mark.parametrize("path", ["cpu", "reference"])
def test_closed_form_when_only_the_last_layer_turns(path):
    """Layer 0 angles 0 (L = (0, 1)), Q = q: the CNOTs act on |+> targets and do nothing, so
    <Z_0> = -sin(x_t + c_t q_0) and <Z_k> = -sin(c_t q_k), c_t = sum_{s <= t} decay**s."""
    decay, steps = 0.6, 4
    model = QFWP(1, 3, n_qubits=5, n_outputs=5, decay=decay, path=path).double()
    q = torch.tensor([0.3, -0.7, 1.1, 0.2, -1.4], dtype=torch.float64)
    with torch.no_grad():
        for p in model.parameters():
            p.zero_()
        model.layer_head.bias[1] = 1.0
        model.qubit_head.bias.copy_(q)
    x = torch.tensor([[[0.4], [-1.2], [2.0], [0.1]]], dtype=torch.float64)
    y, _ = model(x)
    c = torch.tensor([sum(decay**s for s in range(t + 1)) for t in range(steps)],
                     dtype=torch.float64)
    angles = c[:, None] * q + torch.nn.functional.pad(x[0], (0, 4))
    torch.testing.assert_close(y[0], -torch.sin(angles), rtol=0, atol=1e-12)


def test_gradcheck_of_the_fused_function():
    gen = torch.Generator().manual_seed(8)

    def leaf(*shape):
        return torch.randn(*shape, generator=gen, dtype=torch.float64).requires_grad_()

    inputs, latent, layers, n = 2, 3, 2, 3
    args = (leaf(2, 3, inputs), leaf(2, layers, n), leaf(latent, inputs), leaf(latent),
            leaf(layers, latent), leaf(layers), leaf(n, latent), leaf(n))
    assert torch.autograd.gradcheck(lambda *a: FusedQFWP.apply(*a, 0.8, 2), args)


def test_float32_matches_float64_reference():
    fused, _ = _pair(CONFIGS["paper"], dtype=torch.float32)
    _, reference = _pair(CONFIGS["paper"])
    x, theta0 = _leaves(reference, batch=3, steps=4)
    want = _run(reference, x, theta0, last_only=False)
    x32, theta32 = (t.detach().float().requires_grad_() for t in (x, theta0))
    got = _run(fused, x32, theta32, last_only=False)
    assert got[0].dtype == torch.float32 and all(g.dtype == torch.float32 for g in got[2])
    torch.testing.assert_close(got[0].double(), want[0], rtol=0, atol=1e-5)
    for a, b in zip(got[2], want[2], strict=True):  # gradients up to ~200: float32 rounding
        torch.testing.assert_close(a.double(), b, rtol=1e-3, atol=1e-3)


def test_auto_takes_the_kernel_and_without_a_compiler_warns_once_and_runs_the_reference(
        forget_build):
    fused, reference = _pair(CONFIGS["paper"])
    auto = QFWP(1, 8).double()
    auto.load_state_dict(fused.state_dict())
    x = torch.rand(2, 3, 1, dtype=torch.float64)
    assert auto.fused
    assert auto(x)[1].grad_fn.name() == "FusedQFWPBackward"
    want = reference(x)
    forget_build(qfwp_fused.LIBRARY, "no C compiler found (tried $CC, cc, gcc, clang)")
    with pytest.warns(RuntimeWarning, match="fused QFWP kernels are unavailable"):
        got = auto(x)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="fused QFWP kernels unavailable"):
        fused(x)


def test_the_function_refuses_sizes_beyond_the_kernel_in_one_line():
    z = torch.zeros
    args = (z(1, 2, 1, dtype=torch.float64), None, z(2, 1, dtype=torch.float64),
            z(2, dtype=torch.float64), z(1, 2, dtype=torch.float64), z(1, dtype=torch.float64),
            z(17, 2, dtype=torch.float64), z(17, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"rejected the sizes .* = \(1, 2, 1, 2, 1, 17, 2\)"):
        FusedQFWP.apply(*args, 1.0, 2)


def test_other_backends_and_shots_do_not_take_the_kernel():
    assert not QFWP(1, backend="default.qubit").fused
    assert not QFWP(1, shots=100).fused
    assert not QFWP(1, path="reference").fused
    assert not QFWP(1, n_qubits=17).fused  # beyond the kernel's 16 qubits: the per-step path


@pytest.mark.parametrize(("call", "error", "match"), [
    (lambda m: m(torch.zeros(2, 3, 2)), ValueError, r"expected \(batch, time, 1\)"),
    (lambda m: m(torch.zeros(2, 0, 1)), ValueError, "batch and time must be >= 1"),
    (lambda m: m(torch.full((2, 3, 1), math.nan)), ValueError, "NaN or inf"),
    (lambda m: m(torch.zeros(2, 3, 1), torch.zeros(2, 8, 2)), ValueError,
     r"state has shape \(2, 8, 2\); expected Theta \(batch, n_layers, n_qubits\) = \(2, 2, 8\)"),
    (lambda m: m(torch.zeros(2, 3, 1), (torch.zeros(2, 2, 8),)), ValueError,
     "state has shape tuple"),
    (lambda m: QFWP(1, path="gpu"), ValueError, "path='gpu' is unknown"),
    (lambda m: QFWP(1, n_qubits=17, path="cpu"), ValueError,
     r"takes n_qubits <= 16; n_qubits=17 needs path='auto' or 'reference'"),
])
def test_bad_input_is_one_clear_line(call, error, match):
    with pytest.raises(error, match=match):
        call(QFWP(1))
