"""The models' fused fast paths (qrnn.sim.recurrent, recurrent_gated) against their per-step
paths: same model, same weights, ``path="auto"`` vs ``path="reference"``; and when the fused
path is not taken."""

from __future__ import annotations

import pytest
import torch

from qrnn.qgru import QGRU, QRNN
from qrnn.qlstm import QLSTM
from qrnn.reservoir import QuantumReservoir

EXACT = 1e-10


def _run(model, x: torch.Tensor, state=None):
    """Outputs, final state and the gradients of every parameter and of ``x``."""
    x = x.clone().requires_grad_()
    y, state = model(x, state)
    outputs = [y, *(state if isinstance(state, tuple) else [state])]
    gen = torch.Generator().manual_seed(1)
    loss = sum((t * torch.randn(t.shape, generator=gen, dtype=t.dtype)).sum() for t in outputs)
    grads = torch.autograd.grad(loss, [x, *model.parameters()])
    return y, [t.detach() for t in outputs] + list(grads)


@pytest.mark.parametrize(("sizes", "n_qubits"), [((1, 3), None), ((2, 2), 5)])
def test_qlstm_fused_path_equals_per_step_path(sizes, n_qubits):
    torch.manual_seed(0)
    fused = QLSTM(*sizes, n_qubits=n_qubits).double()
    with torch.no_grad():  # angles of order one, so every gate is far from the identity
        fused.weights.normal_()
    reference = QLSTM(*sizes, n_qubits=n_qubits, path="reference").double()
    reference.load_state_dict(fused.state_dict())
    gen = torch.Generator().manual_seed(2)
    x = torch.randn(6, 5, sizes[0], dtype=torch.float64, generator=gen)
    state = (torch.randn(6, sizes[1], dtype=torch.float64, generator=gen),
             torch.randn(6, fused.width, dtype=torch.float64, generator=gen))
    assert fused.fused and not reference.fused
    y_fused, got = _run(fused, x, state)
    y_ref, want = _run(reference, x, state)
    assert y_fused.grad_fn.name() == "FusedQLSTMBackward"
    assert y_ref.grad_fn.name() != "FusedQLSTMBackward"
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=EXACT)


def test_fused_path_only_where_it_applies():
    assert QLSTM(1, 3).fused
    assert not QLSTM(1, 3, path="reference").fused
    assert not QLSTM(1, 3, backend="default.qubit").fused
    assert not QLSTM(1, 3, shots=100).fused
    assert not QLSTM(1, 5, variant="chen2022").fused
    assert not QLSTM(1, 6).fused  # 7 qubits: beyond the Pauli readout
    model = QLSTM(1, 3)
    model.backend = "default.qubit"
    assert not model.fused


@pytest.mark.parametrize("model", [QGRU, QRNN])
@pytest.mark.parametrize(("sizes", "n_qubits"), [((1, 3), None), ((2, 2), 5)])
def test_qgru_and_qrnn_fused_paths_equal_per_step_paths(model, sizes, n_qubits):
    torch.manual_seed(0)
    fused = model(*sizes, n_qubits=n_qubits).double()
    with torch.no_grad():
        fused.weights.normal_()
    reference = model(*sizes, n_qubits=n_qubits, path="reference").double()
    reference.load_state_dict(fused.state_dict())
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(6, 5, sizes[0], dtype=torch.float64, generator=gen)
    h0 = torch.randn(6, sizes[1], dtype=torch.float64, generator=gen)
    assert fused.fused and not reference.fused
    y_fused, got = _run(fused, x, h0)
    y_ref, want = _run(reference, x, h0)
    assert y_fused.grad_fn.name() == "FusedGatedBackward"
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=EXACT)


@pytest.mark.parametrize("cell", ["qlstm", "qgru", "qrnn"])
def test_reservoir_features_equal_on_both_paths(cell):
    x = torch.rand(5, 4, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(6))
    fused = QuantumReservoir(1, 3, cell=cell, seed=3).double()
    reference = QuantumReservoir(1, 3, cell=cell, seed=3, path="reference").double()
    assert fused.cell.fused and not reference.cell.fused
    torch.testing.assert_close(fused.features(x), reference.features(x), rtol=0, atol=EXACT)
