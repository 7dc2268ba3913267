"""``backend="fused"`` of the classical models equals ``"reference"`` (values and gradients)
on the CPU fast path, for stacked layers, given states and both dtypes."""

from __future__ import annotations

import pytest
import torch

from classical import GRU, LSTM, Elman, MinGRU, MinLSTM


def _outputs_and_grads(model, x, state):
    y, final = model(x, state)
    finals = list(final) if isinstance(final, tuple) else [final]
    loss = (y * torch.cos(y)).sum() + sum(f.pow(2).sum() for f in finals)
    params = list(model.parameters())
    leaves = [x] + ([] if state is None else list(state) if isinstance(state, tuple) else [state])
    return [y, *finals, *torch.autograd.grad(loss, leaves + params)]


@pytest.mark.parametrize("cls,kwargs", [(LSTM, {}), (GRU, {}), (Elman, {}),
                                        (Elman, {"nonlinearity": "relu"}), (MinGRU, {}),
                                        (MinLSTM, {})], ids=lambda v: getattr(v, "__name__", v))
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
@pytest.mark.parametrize("with_state", [False, True])
def test_fused_backend_equals_reference(cls, kwargs, dtype, tol, with_state):
    torch.manual_seed(0)
    model = cls(3, 6, num_layers=2, **kwargs).to(dtype)
    x = torch.randn(5, 7, 3, dtype=dtype, requires_grad=True)
    state = None
    if with_state:
        h0 = torch.randn(2, 5, 6, dtype=dtype, requires_grad=True)
        state = (h0, torch.randn(2, 5, 6, dtype=dtype, requires_grad=True)) if cls is LSTM else h0
    results = []
    for backend in ("reference", "fused"):
        model.backend = backend
        results.append(_outputs_and_grads(model, x, state))
    for got, ref in zip(results[1], results[0], strict=True):
        assert got.shape == ref.shape
        assert (got - ref).abs().max() / (1 + ref.abs().max()) < tol


def test_fused_is_an_allowed_backend():
    with pytest.raises(ValueError, match="allowed: torch, reference, fused"):
        LSTM(1, 2, backend="cuda")
