"""LSTM/GRU/Elman: the plain reference loop against torch.nn with the same weights."""

import pytest
import torch

from classical import GRU, LSTM, Elman

CELLS = [LSTM, GRU, Elman]


def _grads(model, x):
    model.zero_grad()
    y, _ = model(x)
    (y ** 2).sum().backward()
    return [p.grad.clone() for p in model.parameters()]


@pytest.mark.parametrize("cls", CELLS)
@pytest.mark.parametrize("num_layers,batch,steps", [(1, 1, 1), (2, 3, 7), (1, 5, 12)])
def test_reference_matches_torch_nn(cls, num_layers, batch, steps):
    torch.manual_seed(0)
    model = cls(3, 6, num_layers=num_layers)
    x = torch.randn(batch, steps, 3)
    y_torch, s_torch = model(x)
    g_torch = _grads(model, x)
    model.backend = "reference"
    y_ref, s_ref = model(x)
    g_ref = _grads(model, x)
    assert y_ref.shape == (batch, steps, 6)
    assert torch.allclose(y_ref, y_torch, atol=1e-5)
    for a, b in zip(torch.utils._pytree.tree_leaves(s_ref),
                    torch.utils._pytree.tree_leaves(s_torch), strict=True):
        assert a.shape == (num_layers, batch, 6)
        assert torch.allclose(a, b, atol=1e-5)
    for a, b in zip(g_ref, g_torch, strict=True):
        assert torch.allclose(a, b, atol=1e-5)


@pytest.mark.parametrize("cls", CELLS)
def test_state_carries_over_and_weights_move_between_backends(cls):
    torch.manual_seed(1)
    a = cls(2, 4, num_layers=2, backend="torch")
    b = cls(2, 4, num_layers=2, backend="reference")
    b.load_state_dict(a.state_dict())
    x = torch.randn(2, 10, 2)
    y_full, _ = a(x)
    y1, s1 = b(x[:, :4])
    y2, _ = b(x[:, 4:], s1)
    assert torch.allclose(torch.cat([y1, y2], 1), y_full, atol=1e-5)


def test_lstm_reference_is_the_textbook_cell():
    torch.manual_seed(2)
    m = LSTM(1, 1, backend="reference")
    w_ih, w_hh = m.rnn.weight_ih_l0.detach(), m.rnn.weight_hh_l0.detach()
    b = (m.rnn.bias_ih_l0 + m.rnn.bias_hh_l0).detach()
    x = torch.tensor([[[0.7]]])
    pre = w_ih[:, 0] * 0.7 + b  # h0 = c0 = 0
    i, f, g, o = pre.tolist()
    sig = torch.sigmoid
    c = sig(torch.tensor(i)) * torch.tanh(torch.tensor(g))
    h = sig(torch.tensor(o)) * torch.tanh(c)
    y, (hT, cT) = m(x)
    assert y.item() == pytest.approx(h.item(), abs=1e-6)
    assert cT.item() == pytest.approx(c.item(), abs=1e-6)
    assert w_hh.shape == (4, 1)


def test_float64_reference():
    torch.manual_seed(3)
    m = GRU(2, 3).double()
    x = torch.randn(2, 5, 2, dtype=torch.float64)
    y1, _ = m(x)
    m.backend = "reference"
    y2, _ = m(x)
    assert y2.dtype == torch.float64 and torch.allclose(y1, y2, atol=1e-12)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="backend='cuda' is unknown; allowed: torch"):
        LSTM(1, 2, backend="cuda")
    with pytest.raises(ValueError, match="hidden_size=0"):
        GRU(1, 0)
    with pytest.raises(ValueError, match="nonlinearity"):
        Elman(1, 2, nonlinearity="sigmoid")
    m = LSTM(3, 4)
    with pytest.raises(ValueError, match=r"expected \(batch, time, 3\)"):
        m(torch.zeros(2, 5, 2))
    with pytest.raises(ValueError, match=r"expected \(batch, time, 3\)"):
        m(torch.zeros(5, 3))
    with pytest.raises(TypeError, match="float32 or float64"):
        m(torch.zeros(2, 5, 3, dtype=torch.int64))
    with pytest.raises(ValueError, match="allowed"):
        m.backend = "nope"
