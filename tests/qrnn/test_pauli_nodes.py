"""The two-layer Pauli nodes (qrnn.sim.pauli_nodes) against the torch build and gradcheck.

The torch reference is the ``"pauli"`` method on ``path="reference"`` (:class:`ReadoutMatrix`
and the torch step), itself held to default.qubit in test_sim.py.
"""

from __future__ import annotations

import pytest
import torch

from qrnn.circuit import BlockSpec
from qrnn.sim import CompiledBlock, pauli_kernel
from qrnn.sim.fused import PauliReadout, readout_matrix
from qrnn.sim.pauli import clifford_action
from qrnn.sim.pauli_nodes import PauliBlock, TwoLayerReadout, two_layer
from tests.qrnn.qrnn_cases import assert_paths_agree, random_args

pytestmark = pytest.mark.skipif(not pauli_kernel.available(), reason="no C compiler")

SPECS = [
    BlockSpec(4, 2, "qlstm", "ring2", "rot"),
    BlockSpec(3, 2, "ry", "brick", "rx", measured=(0, 1)),
    BlockSpec(5, 2, "h_ry", "ring", "ry", measured=(0,)),
    BlockSpec(2, 2, "rx", "none", "rz"),
]


def _layer(spec):
    pairs = spec.entangler_pairs()
    return clifford_action(pairs, spec.n_qubits, torch.float64) if pairs else (None, None)


def _weights(spec, circuits, seed):
    gen = torch.Generator().manual_seed(seed)
    shape = (circuits, *spec.weight_shape)
    return ((torch.rand(shape, generator=gen, dtype=torch.float64) * 2 - 1) * torch.pi
            ).requires_grad_()


def test_two_layer_predicate():
    assert two_layer(2, (0, 1, 2), False)
    assert not two_layer(3, (0, 1), False)
    assert not two_layer(2, (1, 0), False)
    assert not two_layer(2, (0,), True)


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_two_layer_readout_equals_torch_build_and_gradcheck(spec):
    w = _weights(spec, 3, 1)
    m = len(spec.wires)

    def build(w):
        return TwoLayerReadout.apply(w, spec.rotation, m, *_layer(spec))

    want = readout_matrix(w, spec.rotation, spec.entangler_pairs(), spec.wires, False,
                          path="reference")
    got = build(w)
    torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
    cot = torch.randn(got.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(2))
    g_got, = torch.autograd.grad((got * cot).sum(), w)
    g_want, = torch.autograd.grad((want * cot).sum(), w)
    torch.testing.assert_close(g_got, g_want, atol=1e-10, rtol=0)
    assert torch.autograd.gradcheck(build, (w,))


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_pauli_block_gradcheck(spec):
    w = _weights(spec, 2, 3)
    x, _ = random_args(spec, 4, 3, per_sample=False)
    x.requires_grad_()
    m = len(spec.wires)

    def run(x, w):
        return PauliBlock.apply(x, w, spec.rotation, m, spec.encoding, *_layer(spec))

    assert torch.autograd.gradcheck(run, (x, w))


@pytest.mark.parametrize("spec", SPECS, ids=str)
def test_pauli_block_equals_torch_path_values_and_gradients(spec):
    w = _weights(spec, 2, 6)
    x, _ = random_args(spec, 7, 5, per_sample=False)
    x.requires_grad_()
    m = len(spec.wires)
    out = PauliBlock.apply(x, w, spec.rotation, m, spec.encoding, *_layer(spec))
    ref_readout = readout_matrix(w, spec.rotation, spec.entangler_pairs(), spec.wires, False,
                                 path="reference")
    ref_out = PauliReadout.apply(x, ref_readout, 2, spec.encoding, "reference")
    torch.testing.assert_close(out, ref_out, atol=1e-12, rtol=0)
    cot = torch.linspace(-1, 1, out.numel(), dtype=torch.float64).reshape(out.shape)
    got = torch.autograd.grad((out * cot).sum(), (x, w))
    want = torch.autograd.grad((ref_out * cot).sum(), (x, w))
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g, r, atol=1e-10, rtol=0)


@pytest.mark.parametrize("circuits", [1, 2])
@pytest.mark.parametrize("grad_x", [False, True])
def test_compiled_block_called_three_times_equals_torch_path(grad_x, circuits):
    # first call: build + step in one node; later calls: steps on a readout matrix built once
    spec = BlockSpec(4, 2)
    weights = [_weights(spec, 1, s)[0].detach().requires_grad_() for s in (10, 11)][:circuits]
    x, _ = random_args(spec, 12, 6, per_sample=False)
    x.requires_grad_(grad_x)

    def loss(path):
        block = CompiledBlock(spec, weights if circuits > 1 else weights[0], path=path)
        first = block(x)
        second = block(torch.tanh(first.reshape(6, -1)[:, :4]))
        third = block(torch.sin(second.reshape(6, -1)[:, :4]))
        value = (first * 0.3).sum() + second.square().sum() + third.sum()
        inputs = (x, *weights) if grad_x else tuple(weights)
        return value, torch.autograd.grad(value, inputs)

    assert_paths_agree(loss, "auto", grad_atol=1e-10)


def test_pauli_block_float32_close_to_float64():
    spec = SPECS[0]
    w = _weights(spec, 2, 13).detach()
    x, _ = random_args(spec, 14, 4, per_sample=False)
    out64 = PauliBlock.apply(x, w, spec.rotation, 4, spec.encoding, *_layer(spec))
    image, sign = _layer(spec)
    out32 = PauliBlock.apply(x.float(), w.float(), spec.rotation, 4, spec.encoding, image,
                                sign.float())
    assert out32.dtype == torch.float32
    torch.testing.assert_close(out32.double(), out64, atol=2e-6, rtol=0)


def test_readout2_bad_inputs_name_what_is_allowed():
    w = torch.zeros(1, 2, 3, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match="rotation='bogus'.*choose one of"):
        pauli_kernel.readout2(w, 3, "bogus")
    with pytest.raises(ValueError, match=r"expected \(C, 2, n, 1\)"):
        pauli_kernel.readout2(w, 3, "ry")
    with pytest.raises(ValueError, match=r"1 <= m <= n <= 6"):
        pauli_kernel.readout2(w, 4, "rot")
    with pytest.raises(ValueError, match="image and sign must both be None"):
        pauli_kernel.readout2(w, 3, "rot", torch.arange(64), None)
    with pytest.raises(ValueError, match=r"expected \(64, 3\)"):
        pauli_kernel.readout2_backward(w, 3, "rot", torch.zeros(64, 2, dtype=torch.float64))


def test_block_kernel_bad_inputs_name_what_is_allowed():
    w = torch.zeros(1, 2, 4, 3, dtype=torch.float64)
    x = torch.zeros(2, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match="encoding='bogus'.*choose one of"):
        pauli_kernel.block(x, w, 4, "rot", "bogus", None, None, False, False)
    with pytest.raises(ValueError, match=r"expected contiguous \(B >= 1, 4\) torch.float64"):
        pauli_kernel.block(x[:, :3].contiguous(), w, 4, "rot", "ry", None, None, False, False)
    with pytest.raises(ValueError, match=r"expected contiguous \(B >= 1, 4\) torch.float64"):
        pauli_kernel.block(x.float(), w, 4, "rot", "ry", None, None, False, False)
    with pytest.raises(ValueError, match=r"g_out has shape \(2, 3\), feats \(2, 256\)"):
        pauli_kernel.block_backward(w, 4, "rot", None, None, torch.zeros(2, 256,
                                    dtype=torch.float64), torch.zeros(2, 3, dtype=torch.float64))


@pytest.mark.parametrize("where", ["x", "weights"])
@pytest.mark.parametrize("bad", [float("nan"), float("inf")])
def test_first_compiled_call_rejects_non_finite_values(where, bad):
    # The two-layer build with its first call leaves the finiteness checks to the kernel,
    # which reads every value: a bad angle in the last layer of an unmeasured qubit, which no
    # output depends on, is reported all the same.
    spec = SPECS[1]  # 3 qubits, <Z> of qubits 0 and 1
    w = _weights(spec, 1, 3)[0].detach().clone()
    x, _ = random_args(spec, 4, 2, per_sample=False)
    if where == "x":
        x[1, 2] = bad
    else:
        w[1, 2, 0] = bad
    with pytest.raises(ValueError, match=f"{where} contains NaN or infinite values"):
        CompiledBlock(spec, w)(x)
    with pytest.raises(ValueError, match=f"{where} contains NaN or infinite values"):
        pauli_kernel.block(x, w.unsqueeze(0), 2, spec.rotation, spec.encoding, *_layer(spec),
                           False, False)


def test_single_tensor_block_states_and_split_equal_the_full_set_up():
    # one shared tensor is set up for the fused first call; states and split stack it later
    spec = SPECS[0]
    w = _weights(spec, 1, 15)[0]
    x, _ = random_args(spec, 16, 3, per_sample=False)
    lean, full = CompiledBlock(spec, w), CompiledBlock(spec, [w])
    torch.testing.assert_close(lean.states(x), full.states(x), atol=0, rtol=0)
    (group,) = CompiledBlock(spec, w).split([1])
    torch.testing.assert_close(group(x), full(x), atol=1e-14, rtol=0)
    got = torch.autograd.grad(group(x).sum(), w)[0]
    want = torch.autograd.grad(full(x).sum(), w)[0]
    torch.testing.assert_close(got, want, atol=1e-12, rtol=0)
    bad = w.detach().clone()
    bad[0, 0, 0] = float("nan")
    with pytest.raises(ValueError, match="weights contains NaN"):
        CompiledBlock(spec, bad).states(x)
