"""One quantum backend interface: a cell written once runs on every backend.

The cell below is QLSTM-shaped (six 4-qubit circuits bound once per forward pass and split
4/2, four time steps whose inputs depend on the previous step's outputs) and has no branch on
the backend. Exact values and gradients agree across "fast" and default.qubit (lightning.qubit
is held to the same blocks in test_execute.py); with shots, every step's estimates lie within
4 sigma of the exact values of the same inputs on "fast", default.qubit and qiskit.aer.
"""

from __future__ import annotations

import pytest
import torch

from qrnn.circuit import BlockSpec, CircuitBlock
from qrnn.execute import Backend, BlockExecutor, PennyLaneBlock
from qrnn.sim import CompiledBlock
from tests.qrnn.qrnn_cases import TOL

SPEC = BlockSpec(4, 2)
BATCH, STEPS = 2, 4


def _weights():
    gen = torch.Generator().manual_seed(11)
    return [SPEC.init_weights(gen, scale=1.0).requires_grad_() for _ in range(6)]


def _data(batch: int = BATCH):
    gen = torch.Generator().manual_seed(12)
    return torch.randn(batch, STEPS, dtype=torch.float64, generator=gen)


def qlstm_cell(executor: BlockExecutor, weights, x):
    """The cell, written once: returns the last output and every step's (inputs, outputs)."""
    gates, outs = executor.compile(weights).split([4, 2])
    h = torch.zeros(x.shape[0], 3, dtype=torch.float64)
    c = torch.zeros(x.shape[0], 4, dtype=torch.float64)
    calls = []
    for t in range(STEPS):
        v = torch.cat([x[:, t : t + 1], h], 1)
        z = gates(v)  # (B, 4, 4)
        f, i, o = torch.sigmoid(z[:, 0]), torch.sigmoid(z[:, 1]), torch.sigmoid(z[:, 3])
        c = f * c + i * torch.tanh(z[:, 2])
        u = o * torch.tanh(c)
        zz = outs(u)  # (B, 2, 4)
        h = zz[:, 0, :3]
        calls += [(0, v, z), (4, u, zz)]
    return zz[:, 1].sum(-1), calls


def test_cell_exact_values_and_gradients_equal_on_every_backend():
    x = _data()
    w_fast, w_dev = _weights(), _weights()
    y_fast, _ = qlstm_cell(BlockExecutor(SPEC, "fast"), w_fast, x)
    y_dev, _ = qlstm_cell(BlockExecutor(SPEC, "default.qubit"), w_dev, x)
    torch.testing.assert_close(y_dev, y_fast, atol=TOL, rtol=0)
    g_fast = torch.autograd.grad(y_fast.sum(), w_fast)
    g_dev = torch.autograd.grad(y_dev.sum(), w_dev)
    for a, b in zip(g_dev, g_fast, strict=True):
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)


@pytest.mark.parametrize("device", ["fast", "default.qubit", "qiskit.aer"])
def test_cell_with_shots_is_within_four_sigma_of_exact_values(device):
    shots = 2000
    x = _data(1 if device == "qiskit.aer" else BATCH)  # Aer runs one job per sample and circuit
    weights = [w.detach() for w in _weights()]
    ex = BlockExecutor(SPEC, Backend(device, shots=shots, seed=3))
    _, calls = qlstm_cell(ex, weights, x)
    exact = CompiledBlock(SPEC, weights)
    for first, inputs, est in calls:
        group = exact.split([first, 6 - first])[-1] if first else exact.split([4, 2])[0]
        want = group(inputs)
        sigma = torch.sqrt((1 - want**2) / shots).clamp_min(1e-3)
        assert ((est - want).abs() <= 4 * sigma).all(), (device, first)


def test_compile_returns_one_kind_of_block_with_shots_and_per_sample_weights():
    w = _weights()[0].detach()
    per_sample = w.expand(3, *w.shape) + 0.1 * torch.arange(3.0, dtype=w.dtype)[:, None, None, None]
    x = torch.rand(3, 4, dtype=torch.float64)
    for backend in (Backend("fast"), Backend("fast", shots=10, seed=0),
                    Backend("default.qubit"), Backend("default.qubit", shots=10, seed=0)):
        block = BlockExecutor(SPEC, backend).compile(per_sample)
        assert isinstance(block, CircuitBlock)
        assert isinstance(block, PennyLaneBlock if backend.name != "fast" else CompiledBlock)
        assert block.shots == backend.shots and block.n_circuits == 1 and not block.multi
        assert block(x).shape == (3, 4)
    exact = BlockExecutor(SPEC, "default.qubit").compile(per_sample)(x)
    torch.testing.assert_close(exact, CompiledBlock(SPEC, per_sample)(x), atol=TOL, rtol=0)


def test_split_sizes_and_nan_inputs_one_line_errors():
    for name in ("fast", "default.qubit"):
        block = BlockExecutor(SPEC, name).compile(_weights())
        with pytest.raises(ValueError, match=r"sizes=\[4, 1\] must be positive ints that sum to 6"):
            block.split([4, 1])
        gates = block.split([4, 2])[0]
        with pytest.raises(ValueError, match="x contains NaN or infinite values"):
            gates(torch.tensor([[0.1, float("nan"), 0.0, 0.0]], dtype=torch.float64))
    with pytest.raises(ValueError, match="Backend.path='fastest' is unknown"):
        Backend("fast", path="fastest")


def test_split_blocks_on_lightning_equal_the_fast_path():
    weights = [w.detach() for w in _weights()]
    v, u = torch.rand(2, 4, dtype=torch.float64), torch.rand(2, 4, dtype=torch.float64)
    fast = BlockExecutor(SPEC, "fast").compile(weights).split([4, 2])
    light = BlockExecutor(SPEC, "lightning.qubit").compile(weights).split([4, 2])
    for a, b, x in ((light[0], fast[0], v), (light[1], fast[1], u)):
        torch.testing.assert_close(a(x), b(x), atol=TOL, rtol=0)
