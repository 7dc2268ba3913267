"""The compiled ``"pauli"`` kernels (qrnn.sim.pauli_kernel) against the torch path and closed
forms.

test_sim.py holds the default (compiled, on the CPU) path to default.qubit; here the torch
path is held to the compiled one on random blocks, the kernels' encodings and readout matrix
to closed forms, and the fallback and bad inputs to what they promise.
"""

from __future__ import annotations

import math
import warnings

import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qrnn.circuit import BlockSpec
from qrnn.sim import CompiledBlock, pauli_kernel, run_block
from qrnn.sim.fused import HeisenbergReadout, PauliReadout, readout_matrix
from qrnn.sim.pauli import clifford_action, observable_rows
from tests.qrnn.qrnn_cases import assert_paths_agree, block_specs, random_args

pytestmark = pytest.mark.skipif(not pauli_kernel.available(), reason="no C compiler")


def _values_and_grads(spec, x, w, path):
    out = run_block(spec, x, w, method="pauli", path=path)
    cot = torch.linspace(-1, 1, out.numel(), dtype=out.dtype).reshape(out.shape)
    grads = torch.autograd.grad((out * cot).sum(), (x, w), materialize_grads=True)
    return (out, *grads)  # zero-layer blocks leave w unused: zero gradient


@settings(max_examples=30, deadline=None)
@given(spec=block_specs(max_qubits=6), seed=st.integers(0, 2**16), batch=st.sampled_from([1, 5]))
def test_compiled_pauli_path_equals_torch_path(spec, seed, batch):
    x, w = random_args(spec, seed, batch, per_sample=False)
    x.requires_grad_(), w.requires_grad_()
    compiled = _values_and_grads(spec, x, w, "cpu")
    reference = _values_and_grads(spec, x, w, "reference")
    for got, want in zip(compiled, reference, strict=True):
        torch.testing.assert_close(got, want, atol=1e-10, rtol=0)
    with torch.no_grad():  # without gradients the kernel takes its feature-dot path
        plain = run_block(spec, x, w, method="pauli", path="cpu")
    torch.testing.assert_close(plain, reference[0], atol=1e-10, rtol=0)


def _bloch(kind: str, v: torch.Tensor) -> torch.Tensor:
    """Closed-form Bloch vectors (1, <X>, <Y>, <Z>) of one encoded qubit, from the gates."""
    one, zero = torch.ones_like(v), torch.zeros_like(v)
    if kind == "qlstm":  # RZ(c) RY(a) H|0>: a = atan v, c = atan v^2
        a, c = torch.atan(v), torch.atan(v * v)
        parts = (one, torch.cos(a) * torch.cos(c), torch.cos(a) * torch.sin(c), -torch.sin(a))
    else:
        s, co = torch.sin(v), torch.cos(v)
        parts = {"ry": (one, s, zero, co), "rx": (one, zero, -s, co), "h_ry": (one, co, zero, -s)}
        parts = parts[kind]
    return torch.stack(parts, -1)


@pytest.mark.parametrize("kind", pauli_kernel.ENCODINGS)
@pytest.mark.parametrize("dtype", [torch.float64, torch.float32])
def test_kernel_encodings_match_closed_forms_and_their_derivatives(kind, dtype):
    x = torch.linspace(-3, 3, 13, dtype=torch.float64).reshape(13, 1)
    eye = torch.eye(4, dtype=dtype)  # one qubit, R = identity: out = the Bloch vector
    out, feats, jac = pauli_kernel.readout(x.to(dtype), eye, kind, jacobian=True, features=True)
    want = _bloch(kind, x[:, 0])
    deriv = torch.autograd.functional.jacobian(lambda v: _bloch(kind, v).sum(0), x[:, 0])
    tol = 1e-12 if dtype == torch.float64 else 1e-6
    torch.testing.assert_close(out.double(), want, atol=tol, rtol=0)
    torch.testing.assert_close(feats.double(), want, atol=tol, rtol=0)
    torch.testing.assert_close(jac[:, 0].double(), deriv.T, atol=tol, rtol=0)


@pytest.mark.parametrize("n", range(1, pauli_kernel.MAX_QUBITS + 1))
def test_kernel_features_are_the_kronecker_product_qubit_zero_first(n):
    gen = torch.Generator().manual_seed(n)
    x = torch.rand(3, n, generator=gen, dtype=torch.float64) * 4 - 2
    r = torch.randn(4**n, 5, generator=gen, dtype=torch.float64)
    out, feats, _ = pauli_kernel.readout(x, r, "ry", features=True)
    for b in range(3):
        want = torch.ones(1, dtype=torch.float64)
        for q in range(n):
            want = torch.kron(want, _bloch("ry", x[b, q : q + 1])[0])
        torch.testing.assert_close(feats[b], want, atol=1e-14, rtol=0)
    torch.testing.assert_close(out, feats @ r, atol=1e-12, rtol=0)


def test_kernel_reads_a_column_slice_in_place():
    gen = torch.Generator().manual_seed(1)
    x = torch.randn(4, 3, generator=gen, dtype=torch.float64)
    wide = torch.randn(64, 20, generator=gen, dtype=torch.float64)
    got = pauli_kernel.readout(x, wide[:, 5:12], "qlstm", jacobian=True)
    want = pauli_kernel.readout(x, wide[:, 5:12].contiguous(), "qlstm", jacobian=True)
    torch.testing.assert_close(got[0], want[0], atol=0, rtol=0)
    torch.testing.assert_close(got[2], want[2], atol=0, rtol=0)
    assert got[1] is None


@pytest.mark.parametrize(
    ("entangler", "strings"),
    [
        # no entangler, zero angles: Z_w stays Z_w (index 3 * 4**(2 - w), qubit 0 first)
        ("none", {0: 48, 1: 12, 2: 3}),
        # ring CNOTs (0,1), (1,2), (2,0); by hand, U^dag Z U per layer (conjugating by the last
        # CNOT first, Z_target -> Z_control Z_target): Z0 -> Z1 Z2, Z1 -> Z0 Z1,
        # Z2 -> Z0 Z1 Z2; two layers: Z0 -> Z2 (3), Z1 -> Z0 Z2 (51), Z2 -> Z1 (12)
        ("ring", {0: 3, 1: 51, 2: 12}),
    ],
)
def test_heisenberg_of_identity_rotations_closed_form(entangler, strings):
    spec = BlockSpec(3, 2, entangler=entangler, rotation="ry")
    w = torch.zeros(1, *spec.weight_shape, dtype=torch.float64)
    rows = readout_matrix(w, "ry", spec.entangler_pairs(), spec.wires, False)
    want = torch.zeros(64, 3, dtype=torch.float64)
    for wire, string in strings.items():
        want[string, wire] = 1.0
    torch.testing.assert_close(rows, want, atol=1e-15, rtol=0)


@pytest.mark.parametrize(
    "spec",
    [
        BlockSpec(4, 2, "qlstm", "ring2", "rot"),
        BlockSpec(3, 3, "ry", "brick", "rx", "probs", measured=(2, 0)),
        BlockSpec(2, 1, "h_ry", "ring", "rz"),
    ],
)
def test_heisenberg_readout_gradcheck_and_equals_torch_build(spec):
    gen = torch.Generator().manual_seed(3)
    w = torch.randn(2, *spec.weight_shape, generator=gen, dtype=torch.float64, requires_grad=True)
    probs, pairs = spec.measurement == "probs", spec.entangler_pairs()
    obs = observable_rows(spec.n_qubits, spec.wires, probs, torch.float64)
    image, sign = clifford_action(pairs, spec.n_qubits, torch.float64) if pairs else (None, None)

    def compiled(w):
        return HeisenbergReadout.apply(w, spec.rotation, obs, image, sign)

    assert torch.autograd.gradcheck(compiled, (w,))
    want = readout_matrix(w, spec.rotation, pairs, spec.wires, probs, path="reference")
    torch.testing.assert_close(compiled(w), want, atol=1e-12, rtol=0)


def test_pauli_readout_gradcheck_on_the_compiled_step():
    spec = BlockSpec(3, 2, "qlstm", "ring2", "rot", measured=(2, 0))
    gen = torch.Generator().manual_seed(5)
    w = torch.randn(2, *spec.weight_shape, generator=gen, dtype=torch.float64, requires_grad=True)
    x = torch.randn(3, 3, generator=gen, dtype=torch.float64, requires_grad=True)

    def run(x, w):
        readout = readout_matrix(w, spec.rotation, spec.entangler_pairs(), spec.wires, False)
        return PauliReadout.apply(x, readout, 2, spec.encoding)

    assert torch.autograd.gradcheck(run, (x, w))


def test_float32_compiled_path_close_to_float64():
    spec = BlockSpec(4, 2)
    x, w = random_args(spec, 7, 6, per_sample=False)
    want = run_block(spec, x, w, method="pauli")
    got = run_block(spec, x.float(), w.float(), method="pauli")
    assert got.dtype == torch.float32
    torch.testing.assert_close(got.double(), want, atol=2e-6, rtol=0)


def test_without_a_compiler_warns_once_and_runs_the_torch_path(forget_build):
    spec = BlockSpec(3, 2)
    x, w = random_args(spec, 2, 4, per_sample=False)
    want = run_block(spec, x, w, method="pauli")
    forget_build(pauli_kernel.LIBRARY, "no C compiler found (test)")
    with pytest.warns(RuntimeWarning, match="no C compiler found.*torch path"):
        got = run_block(spec, x, w, method="pauli")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        run_block(spec, x, w, method="pauli")  # warned once only
    torch.testing.assert_close(got, want, atol=1e-12, rtol=0)


def test_compiled_block_reused_over_steps_equals_torch_path():
    # the QLSTM pattern: one build of six circuits, four steps feeding back, one backward
    spec = BlockSpec(4, 2)
    gen = torch.Generator().manual_seed(4)
    weights = [spec.init_weights(gen, scale=1.0).requires_grad_() for _ in range(6)]
    x = torch.randn(5, 4, 4, generator=gen, dtype=torch.float64)

    def step_loss(path):
        gates, outs = CompiledBlock(spec, weights, path=path).split([4, 2])
        h, total = torch.zeros(5, 3, dtype=torch.float64), 0.0
        for t in range(4):
            z = gates(torch.cat([x[:, t, :1], h], 1))
            zz = outs(torch.tanh(z[:, 0]) * z[:, 2])
            h, total = zz[:, 0, :3], total + zz[:, 1].square().sum()
        return total, torch.autograd.grad(total, weights)

    assert_paths_agree(step_loss, "cpu", grad_atol=1e-12)


def test_kernel_bad_inputs_name_what_is_allowed():
    x = torch.zeros(2, 3, dtype=torch.float64)
    r = torch.zeros(64, 2, dtype=torch.float64)
    with pytest.raises(ValueError, match="encoding='bogus'.*choose one of"):
        pauli_kernel.readout(x, r, "bogus")
    with pytest.raises(ValueError, match=r"expected \(B, n\), 1 <= n <= 6"):
        pauli_kernel.readout(torch.zeros(2, 7, dtype=torch.float64), r, "ry")
    with pytest.raises(ValueError, match=r"expected \(64, M\)"):
        pauli_kernel.readout(x, torch.zeros(16, 2, dtype=torch.float64), "ry")
    with pytest.raises(ValueError, match="torch.float64"):
        pauli_kernel.readout(x, r.float(), "ry")
    with pytest.raises(TypeError, match="expected float32 or float64"):
        pauli_kernel.readout(x.long(), r.long(), "ry")
    transfer = torch.zeros(1, 2, 3, 4, 4, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"expected \(C, L >= 1, n, 4, 4\)"):
        pauli_kernel.heisenberg(transfer[:, :0], torch.zeros(1, 64, dtype=torch.float64))
    with pytest.raises(ValueError, match=r"expected \(M, 64\)"):
        pauli_kernel.heisenberg(transfer, torch.zeros(1, 16, dtype=torch.float64))
    with pytest.raises(ValueError, match="image and sign must both be None"):
        pauli_kernel.heisenberg(transfer, torch.zeros(1, 64, dtype=torch.float64),
                                torch.arange(64), None)
    rows = torch.zeros(64, 3, dtype=torch.float64)
    with pytest.raises(ValueError, match=r"must both be \(64, C \* M\)"):
        pauli_kernel.heisenberg_backward(transfer, rows, torch.zeros(64, 2, dtype=torch.float64))
    assert math.isclose(float(pauli_kernel.readout(x, r, "ry")[0].abs().sum()), 0.0)


def test_auto_method_by_size_and_compiled_kernels():
    # compiled: the Pauli readout up to 4 qubits, then the state-vector kernel; torch only:
    # the Pauli readout up to 4, one unitary up to 6, then gate groups
    gen = torch.Generator().manual_seed(0)
    chosen = {}
    for compiled in (True, False):
        for n in (4, 5, 6, 7):
            w = BlockSpec(n, 2).init_weights(gen)
            path = "auto" if compiled else "reference"
            chosen[compiled, n] = CompiledBlock(BlockSpec(n, 2), w, path=path).method
    assert chosen == {(True, 4): "pauli", (True, 5): "gates", (True, 6): "gates",
                      (True, 7): "gates", (False, 4): "pauli", (False, 5): "unitary",
                      (False, 6): "unitary", (False, 7): "gates"}
    probs = BlockSpec(5, 2, measurement="probs", measured=(0, 1))  # no kernel for probs
    assert CompiledBlock(probs, probs.init_weights(gen)).method == "unitary"


def test_forced_cpu_path_without_a_compiler_is_one_error(forget_build):
    spec = BlockSpec(3, 2)
    x, w = random_args(spec, 2, 4, per_sample=False)
    forget_build(pauli_kernel.LIBRARY, "no C compiler found (test)")
    with pytest.raises(RuntimeError, match="Pauli readout kernels unavailable: no C compiler"):
        run_block(spec, x, w, method="pauli", path="cpu")
    reference = run_block(spec, x, w, method="pauli", path="reference")  # no warning needed
    assert reference.shape == (4, 3)
