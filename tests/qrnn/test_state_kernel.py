"""The compiled state-vector block (qrnn.sim.state_kernel) against the torch ``"gates"`` path.

The torch path (``path="reference"``) is held to default.qubit in test_sim.py; here the
kernel is held to it in values and gradients (inputs and angles, float64, 1e-10), to
``gradcheck``, and its fallback and dispatch to what they promise.
"""

from __future__ import annotations

import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qrnn.circuit import BlockSpec
from qrnn.sim import CompiledBlock, state_kernel
from qrnn.sim.block import measured_wires
from qrnn.sim.gates import cnot_permutation
from qrnn.sim.state_kernel import StateBlock
from tests.qrnn.qrnn_cases import assert_paths_agree, block_specs, random_args

pytestmark = pytest.mark.skipif(not state_kernel.available(), reason="no C compiler")


def _ran_kernel(out: torch.Tensor) -> bool:
    """Whether ``out`` comes from :class:`StateBlock` (possibly through a squeeze)."""
    node = out.grad_fn
    nodes = [node, *(n for n, _ in node.next_functions if n is not None)]
    return any(n.name() == "StateBlockBackward" for n in nodes)


def _values_and_grads(spec, x, weights, path):
    # one circuit as a bare tensor (the circuit axis is squeezed), several as a list
    out = CompiledBlock(spec, weights if len(weights) > 1 else weights[0], "gates",
                        path=path)(x)
    cot = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    grads = torch.autograd.grad((out * cot).sum(), (x, *weights), materialize_grads=True)
    return out, grads


@settings(max_examples=30, deadline=None)
@given(spec=block_specs(max_qubits=7, measurements=("z",)), seed=st.integers(0, 2**16),
       batch=st.sampled_from([1, 3]), circuits=st.sampled_from([1, 3]))
def test_kernel_equals_torch_gates_path(spec, seed, batch, circuits):
    x, _ = random_args(spec, seed, batch, per_sample=False)
    x.requires_grad_()
    weights = [random_args(spec, seed + 1 + c, batch, per_sample=False)[1].requires_grad_()
               for c in range(circuits)]
    out, grads = _values_and_grads(spec, x, weights, "cpu")
    want, want_grads = _values_and_grads(spec, x, weights, "reference")
    assert _ran_kernel(out)
    torch.testing.assert_close(out, want, atol=1e-12, rtol=0)
    for got, ref in zip(grads, want_grads, strict=True):
        torch.testing.assert_close(got, ref, atol=1e-10, rtol=0)


@pytest.mark.parametrize("spec", [BlockSpec(3, 2), BlockSpec(3, 3, "rx", "ring", "ry",
                                                               measured=(2, 1))], ids=str)
def test_state_block_gradcheck(spec):
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(2, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    w = torch.randn(2, *spec.weight_shape, generator=gen, dtype=torch.float64,
                    requires_grad=True)
    src = cnot_permutation(spec.entangler_pairs(), 3)

    def run(x, w):
        return StateBlock.apply(x, w, spec.encoding, spec.rotation, src,
                                measured_wires(spec.wires))

    assert torch.autograd.gradcheck(run, (x, w))


def test_auto_gates_blocks_run_the_kernel_and_split_equals_reference():
    # the QLSTM pattern at 8 qubits: one build of six circuits, split, steps feeding back
    spec = BlockSpec(8, 2)
    gen = torch.Generator().manual_seed(2)
    weights = [spec.init_weights(gen, scale=1.0).requires_grad_() for _ in range(6)]
    x = torch.randn(4, 3, 1, generator=gen, dtype=torch.float64)

    def loss(path):
        block = CompiledBlock(spec, weights, path=path)
        assert block.method == "gates"
        gates, outs = block.split([4, 2])
        h, total = torch.zeros(4, 7, dtype=torch.float64), 0.0
        for t in range(3):
            z = gates(torch.cat([x[:, t], h], 1))
            zz = outs(torch.tanh(z[:, 0]) * z[:, 2])
            h, total = zz[:, 0, :7], total + zz[:, 1].square().sum()
        return total, torch.autograd.grad(total, weights)

    assert_paths_agree(loss, "auto", grad_atol=1e-10)


def test_float32_kernel_close_to_float64():
    spec = BlockSpec(6, 2)
    x, w = random_args(spec, 3, 5, per_sample=False)
    want = CompiledBlock(spec, w, "gates")(x)
    got = CompiledBlock(spec, w.float(), "gates")(x.float())
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want, atol=2e-6, rtol=0)


def test_kernel_is_not_used_where_it_does_not_apply():
    spec = BlockSpec(3, 2, measurement="probs")
    x, w = random_args(spec, 4, 2, per_sample=False)
    out = CompiledBlock(spec, w.requires_grad_(), "gates")(x)
    assert not _ran_kernel(out)
    want = CompiledBlock(spec, w, "gates", path="reference")(x)
    torch.testing.assert_close(out, want, atol=0, rtol=0)
    assert not state_kernel.applies(3, "probs", False, None)
    assert not state_kernel.applies(3, "z", True, None)
    assert not state_kernel.applies(3, "z", False, 100)
    assert not state_kernel.applies(state_kernel.MAX_QUBITS + 1, "z", False, None)
    assert state_kernel.applies(state_kernel.MAX_QUBITS, "z", False, None)


def test_without_a_compiler_warns_once_and_runs_the_torch_path(forget_build):
    spec = BlockSpec(7, 2)
    x, w = random_args(spec, 5, 3, per_sample=False)
    want = CompiledBlock(spec, w, "gates")(x)
    forget_build(state_kernel.LIBRARY, "no C compiler found (test)")
    with pytest.warns(RuntimeWarning, match="no C compiler found.*torch path"):
        got = CompiledBlock(spec, w, "gates")(x)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        CompiledBlock(spec, w, "gates")(x)  # warned once only
    torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
    with pytest.raises(RuntimeError, match="state-vector block kernels unavailable"):
        CompiledBlock(spec, w, "gates", path="cpu")
