"""The fused QGRU / QRNN sequences (qrnn.sim.recurrent_gated): compiled kernel vs the
per-step torch path (values and gradients, 1e-10), gradcheck of the BPTT, bad input."""

from __future__ import annotations

import pytest
import torch

from qrnn.circuit import BlockSpec
from qrnn.sim.recurrent_gated import FusedGated, gated_sequence

EXACT = 1e-10
CIRCUITS = {"gru": 3, "elman": 1}
CASES = [  # (spec, input_size)
    (BlockSpec(4, 2, measured=(0, 1, 2)), 1),  # QGRU(1, 3) / QRNN(1, 3)
    (BlockSpec(5, 2, measured=(0, 1)), 2),  # [x, h] zero-padded to 5 qubits
    (BlockSpec(3, 2, encoding="ry", entangler="brick", rotation="ry", measured=(0, 1)), 1),
    (BlockSpec(4, 1, measured=(0, 1)), 1),  # one layer: the dense readout build
    (BlockSpec(4, 3, measured=(0, 1, 2)), 1),
]


def _leaves(spec, cell, inputs, seed, batch=4, steps=5):
    gen = torch.Generator().manual_seed(seed)
    hidden = len(spec.wires)

    def rand(*shape, s=1.0):
        return (s * torch.randn(*shape, generator=gen, dtype=torch.float64)).requires_grad_()

    return (rand(batch, steps, inputs), rand(CIRCUITS[cell], *spec.weight_shape),
            rand(batch, hidden, s=0.5))


@pytest.mark.parametrize("cell", ["gru", "elman"])
@pytest.mark.parametrize(("spec", "inputs"), CASES,
                         ids=[f"{s.n_qubits}q{s.n_layers}l-{i}+{len(s.wires)}" for s, i in CASES])
def test_fused_gated_sequence_equals_per_step_path(cell, spec, inputs):
    leaves = _leaves(spec, cell, inputs, seed=spec.n_qubits + spec.n_layers)
    weights_out = torch.randn(4, 5, len(spec.wires), generator=torch.Generator().manual_seed(3),
                              dtype=torch.float64)
    results = []
    for path in ("cpu", "reference"):
        x, w, h0 = leaves
        hs = gated_sequence(spec, w, x, h0, cell=cell, path=path)
        grads = torch.autograd.grad((hs * weights_out).sum(), leaves)
        results.append([hs.detach(), *grads])
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=EXACT)
    assert results[0][1][:, 0].abs().max() > 1e-6  # the first input reaches the last step


@pytest.mark.parametrize("cell", ["gru", "elman"])
def test_gradcheck_of_the_fused_gated_bptt(cell):
    spec = BlockSpec(3, 2, measured=(0, 1))
    leaves = _leaves(spec, cell, 1, seed=5, batch=2, steps=3)
    assert torch.autograd.gradcheck(lambda *a: FusedGated.apply(*a, spec, cell), leaves)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"cell": "lstm"}, "cell='lstm' is unknown"),
        ({"spec": BlockSpec(4, 2)}, "does not fit"),
        ({"spec": BlockSpec(4, 2, measured=(1, 2))}, "qubits 0..hidden-1"),
        ({"weights": torch.zeros(2, 2, 4, 3, dtype=torch.float64)}, "must have shape"),
        ({"h0": torch.zeros(2, 2, dtype=torch.float64)}, "h0 has shape"),
        ({"path": "fast"}, "path='fast' is unknown"),
    ],
)
def test_bad_input_is_one_clear_line(kwargs, match):
    args = {"spec": BlockSpec(4, 2, measured=(0, 1, 2)), "cell": "gru", "path": "auto",
            "weights": torch.zeros(3, 2, 4, 3, dtype=torch.float64), "h0": None,
            "x": torch.zeros(2, 3, 1, dtype=torch.float64), **kwargs}
    with pytest.raises(ValueError, match=match):
        gated_sequence(args["spec"], args["weights"], args["x"], args["h0"], cell=args["cell"],
                       path=args["path"])


@pytest.mark.parametrize("cell", ["gru", "elman"])
def test_float32_fused_gated_close_to_float64(cell):
    spec = BlockSpec(4, 2, measured=(0, 1, 2))
    x, w, h0 = (t.detach() for t in _leaves(spec, cell, 1, seed=8))
    want = gated_sequence(spec, w, x, h0, cell=cell, path="cpu")
    got = gated_sequence(spec, w.float(), x.float(), h0.float(), cell=cell, path="cpu")
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want, rtol=0, atol=1e-5)
