"""The fused QLSTM sequence (qrnn.sim.recurrent): compiled kernel vs the per-step torch path,
the per-step path vs default.qubit, gradcheck of the BPTT, fallback and bad input."""

from __future__ import annotations

import pytest
import torch

from qrnn.circuit import BlockSpec
from qrnn.execute import BlockExecutor
from qrnn.sim import recurrent
from qrnn.sim.recurrent import FusedQLSTM, qlstm_sequence, reference_sequence

EXACT = 1e-10
"""Fused kernel vs the per-step path (float64, values and gradients)."""
DEVICE = 1e-6
"""Per-step path vs default.qubit (float64)."""

CASES = [
    (BlockSpec(4, 2), 1, 3),  # Chen et al.'s QLSTM circuits, QLSTM(1, 3)
    (BlockSpec(4, 2), 2, 2),
    (BlockSpec(3, 1, encoding="ry", entangler="ring", rotation="ry"), 2, 1),
    (BlockSpec(3, 2, encoding="ry", entangler="ring", rotation="ry"), 1, 2),
    (BlockSpec(4, 2, encoding="h_ry", entangler="brick", rotation="rz"), 1, 3),
    (BlockSpec(5, 3, encoding="h_ry", entangler="brick", rotation="rot"), 1, 4),
    (BlockSpec(5, 2), 1, 2),  # [x, h] zero-padded to 5 qubits
    (BlockSpec(2, 2, encoding="rx", entangler="none", rotation="rx"), 1, 1),
    (BlockSpec(4, 0), 1, 3),
]


def _case(spec: BlockSpec, inputs: int, batch: int, steps: int, seed: int, scale: float = 1.0,
          hidden: int | None = None):
    """Leaf tensors ``(x, weights (6, ...), h0, c0)`` in float64, angles of order ``scale``."""
    gen = torch.Generator().manual_seed(seed)
    n = spec.n_qubits
    hidden = n - inputs if hidden is None else hidden

    def rand(*shape, s=1.0):
        return (s * torch.randn(*shape, generator=gen, dtype=torch.float64)).requires_grad_()

    return (rand(batch, steps, inputs), rand(6, *spec.weight_shape, s=scale),
            rand(batch, hidden, s=0.5), rand(batch, n, s=0.5))


def _loss(outputs, gen_seed: int = 7):
    """A scalar touching every output (ys, hs and c_T) with random weights."""
    gen = torch.Generator().manual_seed(gen_seed)
    return sum((o * torch.randn(o.shape, generator=gen, dtype=o.dtype)).sum() for o in outputs)


def _values_and_grads(spec, leaves, path):
    x, w, h0, c0 = leaves
    outputs = qlstm_sequence(spec, w, x, (h0, c0), hidden_size=h0.shape[1], path=path)
    grads = torch.autograd.grad(_loss(outputs), [t for t in leaves if t.numel()],
                                allow_unused=True)
    return [o.detach() for o in outputs], grads


@pytest.mark.parametrize(("spec", "inputs", "hidden"), CASES, ids=[
    f"{s.n_qubits}q{s.n_layers}l-{s.encoding}-{i}+{h}" for s, i, h in CASES])
def test_fused_sequence_equals_per_step_path(spec, inputs, hidden):
    leaves = _case(spec, inputs, batch=5, steps=6, seed=spec.n_qubits + 10 * inputs,
                   hidden=hidden)
    fused_out, fused_grads = _values_and_grads(spec, leaves, "cpu")
    ref_out, ref_grads = _values_and_grads(spec, leaves, "reference")
    for got, want in zip(fused_out + list(fused_grads), ref_out + list(ref_grads), strict=True):
        assert got is not None and want is not None
        torch.testing.assert_close(got, want, rtol=0, atol=EXACT)
    # the recurrence matters: the last step's output depends on the first input
    assert fused_grads[0][:, 0].abs().max() > 1e-6


@pytest.mark.parametrize(("spec", "inputs", "hidden"), CASES[:2], ids=["a", "b"])
def test_data_inputs_without_gradient_keep_the_other_gradients(spec, inputs, hidden):
    # x as data: the kernel skips the derivatives in x; every other gradient is unchanged
    x, w, h0, c0 = _case(spec, inputs, batch=4, steps=5, seed=3, hidden=hidden)
    x = x.detach()
    for path in ("cpu", "reference"):
        outputs = qlstm_sequence(spec, w, x, (h0, c0), hidden_size=hidden, path=path)
        grads = torch.autograd.grad(_loss(outputs), (w, h0, c0))
        if path == "cpu":
            fused = [o.detach() for o in outputs], grads
    for got, want in zip(fused[0] + list(fused[1]), [o.detach() for o in outputs] + list(grads),
                         strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=EXACT)


def test_qlstm_reference_design_shapes_and_parameter_count():
    spec = BlockSpec(4, 2)
    x, w, h0, c0 = _case(spec, 1, batch=10, steps=4, seed=0, scale=0.01)
    ys, hs, c = qlstm_sequence(spec, w, x)
    assert ys.shape == (10, 4, 4) and hs.shape == (10, 4, 3) and c.shape == (10, 4)
    assert w.numel() + 4 + 1 == 149  # six circuits + the trainer's Linear(4 -> 1) head


@pytest.mark.parametrize("layers", [2, 3])  # the one-call two-layer kernels, and the others
def test_gradcheck_of_the_fused_bptt(layers):
    spec = BlockSpec(3, layers)
    x, w, h0, c0 = _case(spec, 1, batch=2, steps=3, seed=3)
    assert torch.autograd.gradcheck(lambda *a: FusedQLSTM.apply(*a, spec, 2), (x, w, h0, c0))


def test_no_state_equals_zero_state():
    # state=None: the kernel starts from zeros without state tensors
    spec = BlockSpec(4, 2)
    x, w, _, _ = _case(spec, 1, batch=3, steps=4, seed=8)
    zeros = (torch.zeros(3, 3, dtype=torch.float64), torch.zeros(3, 4, dtype=torch.float64))
    results = []
    for state in (None, zeros):
        outputs = qlstm_sequence(spec, w, x, state, path="cpu")
        results.append([o.detach() for o in outputs]
                       + list(torch.autograd.grad(_loss(outputs), (x, w))))
    for got, want in zip(*results, strict=True):
        torch.testing.assert_close(got, want, rtol=0, atol=0)


def test_per_step_path_equals_default_qubit():
    spec = BlockSpec(4, 2)
    leaves = _case(spec, 1, batch=2, steps=2, seed=5)
    x, w, h0, c0 = leaves
    executor = BlockExecutor(spec, "default.qubit")
    gates, outs = executor.compile(list(w[:4])), executor.compile(list(w[4:]))
    outputs = reference_sequence(gates, outs, x, h0, c0)
    want_grads = torch.autograd.grad(_loss(outputs), leaves)
    got, got_grads = _values_and_grads(spec, leaves, "reference")
    for a, b in zip(got + list(got_grads), [o.detach() for o in outputs] + list(want_grads),
                    strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=DEVICE)


def test_float32_compiled_close_to_float64():
    spec = BlockSpec(4, 2)
    x, w, h0, c0 = (t.detach() for t in _case(spec, 1, batch=4, steps=5, seed=9))
    want = qlstm_sequence(spec, w, x, (h0, c0), path="cpu")
    got = qlstm_sequence(spec, w.float(), x.float(), (h0.float(), c0.float()), path="cpu")
    for a, b in zip(got, want, strict=True):
        assert a.dtype == torch.float32
        torch.testing.assert_close(a.double(), b, rtol=0, atol=1e-5)


def test_inference_without_gradients_gives_the_same_values():
    spec = BlockSpec(4, 2)
    leaves = _case(spec, 1, batch=3, steps=4, seed=11)
    with_grad = qlstm_sequence(spec, leaves[1], leaves[0], (leaves[2], leaves[3]))
    with torch.no_grad():
        without = qlstm_sequence(spec, leaves[1], leaves[0], (leaves[2], leaves[3]))
    for a, b in zip(without, with_grad, strict=True):
        assert not a.requires_grad
        torch.testing.assert_close(a, b.detach(), rtol=0, atol=0)


def test_six_weight_tensors_equal_one_stacked_tensor():
    spec = BlockSpec(4, 2)
    x, w, h0, c0 = (t.detach() for t in _case(spec, 1, batch=3, steps=4, seed=13))
    for path in ("cpu", "reference"):
        one = qlstm_sequence(spec, w, x, path=path)
        six = qlstm_sequence(spec, list(w), x, path=path)
        for a, b in zip(one, six, strict=True):
            torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_auto_without_a_compiler_warns_once_and_runs_the_reference(forget_build):
    spec = BlockSpec(4, 2)
    x, w, _, _ = (t.detach() for t in _case(spec, 1, batch=3, steps=4, seed=17))
    want = qlstm_sequence(spec, w, x, path="reference")
    forget_build(recurrent.LIBRARY, "no C compiler found (tried $CC, cc, gcc, clang)")
    with pytest.warns(RuntimeWarning, match="fused recurrent quantum kernels are unavailable"):
        got = qlstm_sequence(spec, w, x)
    for a, b in zip(got, want, strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    with pytest.raises(RuntimeError, match="fused recurrent quantum kernels unavailable"):
        qlstm_sequence(spec, w, x, path="cpu")


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"path": "fast"}, ValueError, "path='fast' is unknown"),
        ({"x": torch.zeros(2, 3, 4, dtype=torch.float64)}, ValueError, "4 \\+ 0"),
        ({"hidden_size": 4}, ValueError, "1 \\+ 4 must be"),
        ({"x": torch.zeros(2, 3, dtype=torch.float64)}, ValueError, "batch, time, input_size"),
        ({"x": torch.zeros(2, 0, 1, dtype=torch.float64)}, ValueError, "time must be >= 1"),
        ({"x": torch.full((2, 3, 1), float("nan"), dtype=torch.float64)}, ValueError, "NaN"),
        ({"spec": BlockSpec(4, 2, measured=(0, 1))}, ValueError, "<Z> of every qubit"),
        ({"spec": BlockSpec(7, 1)}, ValueError, "limit of 6"),
        ({"weights": torch.zeros(5, 2, 4, 3, dtype=torch.float64)}, ValueError, "expected"),
        ({"weights": [torch.zeros(2, 4, 3, dtype=torch.float64)] * 4}, ValueError, "4 tensors"),
        ({"state": (torch.zeros(2, 3), torch.zeros(2, 3))}, ValueError, "expected"),
        ({"state": torch.zeros(2, 3)}, ValueError, "pair"),
    ],
)
def test_bad_input_is_one_clear_line(kwargs, error, match):
    args = {"spec": BlockSpec(4, 2), "weights": torch.zeros(6, 2, 4, 3, dtype=torch.float64),
            "x": torch.zeros(2, 3, 1, dtype=torch.float64), **kwargs}
    path = args.pop("path", "auto")
    state = args.pop("state", None)
    hidden = args.pop("hidden_size", None)
    with pytest.raises(error, match=match):
        qlstm_sequence(args["spec"], args["weights"], args["x"], state, hidden_size=hidden,
                       path=path)
