"""minGRU/minLSTM: parallel scan against the sequential loop and the defining equations."""

import pytest
import torch

from classical import MinGRU, MinLSTM
from classical.minimal import g
from kernels.reference import linear_recurrence
from kernels.scan import linear_recurrence_scan


@pytest.mark.parametrize("cls", [MinGRU, MinLSTM])
@pytest.mark.parametrize("steps", [1, 9, 64])
@pytest.mark.parametrize("dtype,tol", [(torch.float32, 1e-5), (torch.float64, 1e-9)])
def test_scan_matches_sequential_values_and_gradients(cls, steps, dtype, tol):
    """Values agree to 1e-5 in float32; gradients are compared in float64, where the
    log-space scan's float32 rounding (a few 1e-4 relative at T = 64) does not blur them."""
    torch.manual_seed(0)
    model = cls(3, 5, num_layers=2).to(dtype)
    x = torch.randn(4, steps, 3, dtype=dtype)
    h0 = torch.randn(2, 4, 5, dtype=dtype)
    outs, grads = [], []
    for backend in ("torch", "reference"):
        model.backend = backend
        model.zero_grad()
        y, h = model(x, h0)
        (y.sin().sum() + h.sum()).backward()
        outs.append((y, h))
        grads.append([p.grad.clone() for p in model.parameters()])
    assert torch.allclose(outs[0][0], outs[1][0], atol=tol, rtol=tol)
    assert torch.allclose(outs[0][1], outs[1][1], atol=tol, rtol=tol)
    if dtype == torch.float64:
        for a, b in zip(*grads, strict=True):
            assert torch.allclose(a, b, atol=tol, rtol=tol)


def test_scan_equals_loop_for_random_coefficients_float64():
    torch.manual_seed(1)
    log_a = -torch.rand(2, 50, 3, dtype=torch.float64) * 2
    log_b = torch.randn(2, 50, 3, dtype=torch.float64)
    h0 = torch.randn(2, 3, dtype=torch.float64)
    ref = linear_recurrence(log_a.exp(), log_b.exp(), h0)
    assert torch.allclose(linear_recurrence_scan(log_a, log_b, h0), ref, rtol=1e-10)
    assert torch.allclose(linear_recurrence_scan(log_a, log_b), linear_recurrence(
        log_a.exp(), log_b.exp()), rtol=1e-10)


def test_mingru_one_step_is_the_paper_equation():
    torch.manual_seed(2)
    m = MinGRU(2, 3, backend="reference")
    x = torch.randn(1, 1, 2)
    h0 = torch.randn(1, 1, 3)
    w, b = m.layers[0].weight, m.layers[0].bias
    k, v = (x[0, 0] @ w.T + b).chunk(2)
    z = torch.sigmoid(k)
    expected = (1 - z) * h0[0, 0] + z * g(v)
    y, _ = m(x, h0)
    assert torch.allclose(y[0, 0], expected, atol=1e-6)


def test_minlstm_one_step_is_the_paper_equation():
    torch.manual_seed(3)
    m = MinLSTM(2, 3)
    x = torch.randn(1, 1, 2)
    h0 = torch.randn(1, 1, 3)
    kf, ki, v = (x[0, 0] @ m.layers[0].weight.T + m.layers[0].bias).chunk(3)
    f, i = torch.sigmoid(kf), torch.sigmoid(ki)
    expected = f / (f + i) * h0[0, 0] + i / (f + i) * g(v)
    y, _ = m(x, h0)
    assert torch.allclose(y[0, 0], expected, atol=1e-6)


def test_g_is_positive_and_continuous():
    v = torch.linspace(-20, 20, 4001)
    out = g(v)
    assert torch.all(out > 0)
    assert out[2000].item() == pytest.approx(0.5)  # both branches meet at v = 0
