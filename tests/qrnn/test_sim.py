"""The fast simulator against default.qubit, closed forms and its own invariants."""

from __future__ import annotations

import math

import numpy as np
import pennylane as qml
import pytest
import torch
from hypothesis import given, settings
from hypothesis import strategies as st

from qrnn.circuit import BlockSpec
from qrnn.sim import CompiledBlock, run_block
from qrnn.sim.block import GATES_MAX_QUBITS, PAULI_MAX_QUBITS, UNITARY_MAX_QUBITS
from qrnn.sim.encode import encode, qubit_states, qubit_states_and_derivative
from qrnn.sim.fused import BlockUnitary, EncodedExpvalZ, PauliReadout, readout_matrix
from qrnn.sim.gates import cnot_permutation, inverse_permutation, rotation_matrices
from qrnn.sim.measure import z_signs
from qrnn.sim.pauli import bloch_vectors, clifford_action, rotation_transfer
from tests.qrnn.qrnn_cases import TOL, block_specs, random_args, reference


def _shared_methods(spec: BlockSpec) -> list[str]:
    """Every method that takes shared weights at this size."""
    methods = ["pauli"] if spec.n_qubits <= PAULI_MAX_QUBITS else []
    return methods + (["unitary", "gates"] if spec.n_qubits <= 8 else ["gates"])


@settings(max_examples=25, deadline=None)
@given(
    spec=block_specs(max_qubits=10),
    seed=st.integers(0, 2**16),
    batch=st.sampled_from([None, 1, 3]),
    per_sample=st.booleans(),
)
def test_fast_equals_default_qubit_values_and_gradients(spec, seed, batch, per_sample):
    per_sample = per_sample and batch is not None
    x, w = random_args(spec, seed, batch, per_sample)
    x.requires_grad_(), w.requires_grad_()
    ref = reference(spec, x, w)
    methods = ["gates"] if per_sample else _shared_methods(spec)
    # a fixed random cotangent so every output's gradient is checked
    cot = torch.randn(ref.shape, generator=torch.Generator().manual_seed(seed), dtype=ref.dtype)
    gx_ref, gw_ref = _grads((ref * cot).sum(), x, w)
    for method in methods:
        out = run_block(spec, x, w, method=method)
        assert out.shape == ref.shape
        torch.testing.assert_close(out, ref, atol=TOL, rtol=0)
        gx, gw = _grads((out * cot).sum(), x, w)
        torch.testing.assert_close(gx, gx_ref, atol=TOL, rtol=0)
        torch.testing.assert_close(gw, gw_ref, atol=TOL, rtol=0)


@pytest.mark.parametrize("per_sample", [False, True])
def test_ten_qubits_all_methods_equal_default_qubit(per_sample):
    spec = BlockSpec(10, 2, "qlstm", "ring2", "rot", measured=(9, 0, 4))
    x, w = random_args(spec, 10, 2, per_sample)
    w.requires_grad_()
    ref = reference(spec, x, w)
    (g_ref,) = torch.autograd.grad(ref.sum(), w)
    for method in ["gates"] if per_sample else ["unitary", "gates"]:
        out = run_block(spec, x, w, method=method)
        torch.testing.assert_close(out, ref, atol=TOL, rtol=0)
        torch.testing.assert_close(torch.autograd.grad(out.sum(), w)[0], g_ref, atol=TOL, rtol=0)


def _grads(total, *inputs):
    """Gradients, zeros for inputs the circuit does not use (e.g. zero layers)."""
    grads = torch.autograd.grad(total, inputs, allow_unused=True)
    return [torch.zeros_like(i) if g is None else g for g, i in zip(grads, inputs, strict=True)]


@settings(max_examples=20, deadline=None)
@given(spec=block_specs(max_qubits=8), seed=st.integers(0, 2**16))
def test_states_stay_normalized(spec, seed):
    x, w = random_args(spec, seed, 4, per_sample=False)
    for method in _shared_methods(spec):
        states = CompiledBlock(spec, w, method).states(x)
        norms = states.abs().square().sum(-1)
        torch.testing.assert_close(norms, torch.ones_like(norms), atol=1e-12, rtol=0)
    probs = CompiledBlock(spec.__class__(**{**spec.__dict__, "measurement": "probs"}), w)(x)
    torch.testing.assert_close(probs.sum(-1), torch.ones(4, dtype=probs.dtype), atol=1e-12, rtol=0)


@pytest.mark.parametrize(
    ("encoding", "closed_form"),
    [
        ("ry", lambda v: torch.cos(v)),  # RY(v)|0>: <Z> = cos v
        ("rx", lambda v: torch.cos(v)),
        ("h_ry", lambda v: -torch.sin(v)),  # RY(v)|+>: <Z> = -sin v
        ("qlstm", lambda v: -v / torch.sqrt(1 + v * v)),  # -sin(arctan v); RZ keeps <Z>
    ],
)
def test_encodings_single_qubit_closed_forms(encoding, closed_form):
    v = torch.linspace(-3, 3, 13, dtype=torch.float64).unsqueeze(-1)
    spec = BlockSpec(1, 0, encoding=encoding, entangler="none")
    out = run_block(spec, v, torch.zeros(0, 1, 3, dtype=torch.float64))
    torch.testing.assert_close(out[:, 0], closed_form(v[:, 0]), atol=1e-12, rtol=0)


def test_bell_pair_correlations():
    """H-like encoding at v = pi/2 then one CNOT: <Z0> = <Z1> = 0 and p(00) = p(11) = 1/2."""
    spec = BlockSpec(2, 1, "ry", "brick", "rz", measurement="probs")
    x = torch.tensor([math.pi / 2, 0.0], dtype=torch.float64)
    probs = run_block(spec, x, torch.zeros(spec.weight_shape, dtype=torch.float64))
    torch.testing.assert_close(probs, torch.tensor([0.5, 0, 0, 0.5], dtype=torch.float64))


@pytest.mark.parametrize("kind", ["rot", "rx", "ry", "rz"])
def test_rotation_matrices_match_pennylane(kind):
    gen = torch.Generator().manual_seed(0)
    k = 3 if kind == "rot" else 1
    angles = torch.randn(5, k, generator=gen, dtype=torch.float64)
    ops = {"rot": qml.Rot, "rx": qml.RX, "ry": qml.RY, "rz": qml.RZ}
    expected = ops[kind].compute_matrix(*angles.T)
    torch.testing.assert_close(rotation_matrices(kind, angles), expected, atol=1e-14, rtol=0)


def test_several_circuits_sharing_an_input_equal_separate_runs():
    spec = BlockSpec(4, 2)
    gen = torch.Generator().manual_seed(1)
    ws = [spec.init_weights(gen, scale=1.0) for _ in range(3)]
    x = torch.randn(5, 4, generator=gen, dtype=torch.float64)
    for method in ("pauli", "unitary", "gates"):
        together = CompiledBlock(spec, ws, method)(x)
        assert together.shape == (5, 3, 4)
        for c, w in enumerate(ws):
            torch.testing.assert_close(together[:, c], run_block(spec, x, w), atol=1e-12, rtol=0)


def test_compiled_block_reused_across_steps_accumulates_gradients():
    spec = BlockSpec(4, 2)
    gen = torch.Generator().manual_seed(2)
    w = spec.init_weights(gen, scale=1.0).requires_grad_()
    xs = torch.randn(3, 6, 4, generator=gen, dtype=torch.float64)
    block = CompiledBlock(spec, w)
    total = sum(block(xs[t]).sum() for t in range(3))
    (grad,) = torch.autograd.grad(total, w)
    expected = sum(torch.autograd.grad(reference(spec, xs[t], w).sum(), w)[0] for t in range(3))
    torch.testing.assert_close(grad, expected, atol=TOL, rtol=0)


def test_float32_runs_in_complex64_close_to_float64():
    spec = BlockSpec(5, 2)
    gen = torch.Generator().manual_seed(3)
    w = spec.init_weights(gen, scale=1.0)
    x = torch.randn(4, 5, generator=gen, dtype=torch.float64)
    for method in ("pauli", "unitary", "gates"):
        block = CompiledBlock(spec, w.float(), method)
        assert block.states(x.float()).dtype == torch.complex64
        out = block(x.float())
        assert out.dtype == torch.float32
        torch.testing.assert_close(out.double(), run_block(spec, x, w), atol=1e-5, rtol=0)


@pytest.mark.parametrize("kind", ["qlstm", "ry", "rx", "h_ry"])
def test_fused_step_gradcheck(kind):
    gen = torch.Generator().manual_seed(4)
    x = torch.randn(3, 3, generator=gen, dtype=torch.float64, requires_grad=True)
    rows = torch.randn(8, 16, generator=gen, dtype=torch.complex128, requires_grad=True)
    signs = z_signs(3, (2, 0), torch.float64)
    assert torch.autograd.gradcheck(lambda x, r: EncodedExpvalZ.apply(x, r, signs, kind), (x, rows))


@pytest.mark.parametrize("kind", ["rot", "rx", "ry", "rz"])
@pytest.mark.parametrize(("n", "layers", "entangler"), [(1, 1, "none"), (3, 2, "ring2")])
def test_block_unitary_gradcheck_and_unitarity(kind, n, layers, entangler):
    spec = BlockSpec(n, layers, entangler=entangler, rotation=kind)
    pairs = spec.entangler_pairs()
    src = cnot_permutation(pairs, n) if pairs else None
    inv = inverse_permutation(pairs, n) if pairs else None
    gen = torch.Generator().manual_seed(6)
    w = torch.randn(2, *spec.weight_shape, generator=gen, dtype=torch.float64, requires_grad=True)
    rows = BlockUnitary.apply(w, kind, src, inv)  # (dim, 2 * dim)
    dim = 2**n
    for c in range(2):
        u = rows[:, c * dim : (c + 1) * dim]
        torch.testing.assert_close(u @ u.conj().T, torch.eye(dim, dtype=u.dtype))
    assert torch.autograd.gradcheck(lambda w: BlockUnitary.apply(w, kind, src, inv), (w,))


def _gate_amplitudes(kind: str, v: float) -> np.ndarray:
    """The encoding gates of one qubit applied to |0> as PennyLane matrices (independent of
    qrnn.sim.encode)."""
    gates = {
        "ry": [qml.RY(v, 0)],
        "rx": [qml.RX(v, 0)],
        "h_ry": [qml.Hadamard(0), qml.RY(v, 0)],
        "qlstm": [qml.Hadamard(0), qml.RY(math.atan(v), 0), qml.RZ(math.atan(v * v), 0)],
    }[kind]
    state = np.array([1.0, 0.0], dtype=complex)
    for gate in gates:
        state = qml.matrix(gate) @ state
    return state


@pytest.mark.parametrize("kind", ["qlstm", "ry", "rx", "h_ry"])
def test_encoding_amplitudes_equal_gate_matrices_and_derivative_autograd(kind):
    x = torch.linspace(-2.5, 2.5, 11, dtype=torch.float64).reshape(1, 11)
    amps, damps = qubit_states_and_derivative(kind, x)
    expected = torch.tensor(np.array([_gate_amplitudes(kind, v) for v in x[0].tolist()]))
    torch.testing.assert_close(amps[0], expected, atol=1e-14, rtol=0)
    torch.testing.assert_close(qubit_states(kind, x)[0], expected, atol=1e-14, rtol=0)
    jac = torch.autograd.functional.jacobian(
        lambda t: torch.view_as_real(qubit_states(kind, t)), x
    )  # (1, 11, 2, 2, 1, 11): amplitudes depend only on their own input
    diag = torch.einsum("bqsrbq->bqsr", jac)
    torch.testing.assert_close(torch.view_as_real(damps), diag, atol=1e-14, rtol=0)


def test_sixteen_qubits_batch_32_runs_gatewise():
    spec = BlockSpec(16, 1, "ry", "ring", "ry")
    x = torch.zeros(32, 16, dtype=torch.float32)
    x[:, 0] = math.pi  # |1> on qubit 0, then CNOT ring moves it around
    out = run_block(spec, x, torch.zeros(spec.weight_shape))
    # CNOTs (0,1), (1,2), ..., (15,0): bit 0 set flips 1, which flips 2, ..., then 15 flips 0
    expected = -torch.ones(16)
    expected[0] = 1.0
    torch.testing.assert_close(out, expected.expand(32, 16), atol=1e-5, rtol=0)


def test_encode_product_state_matches_kron():
    x = torch.tensor([[0.3, -1.2, 2.0]], dtype=torch.float64)
    state = encode("rx", x)[0]
    singles = [torch.tensor([math.cos(v / 2), -1j * math.sin(v / 2)]) for v in x[0].tolist()]
    expected = torch.kron(torch.kron(singles[0], singles[1]), singles[2])
    torch.testing.assert_close(state, expected.to(state.dtype))


def test_bad_method_and_size_errors_name_the_limit():
    x = torch.zeros(1, UNITARY_MAX_QUBITS + 1)
    spec = BlockSpec(UNITARY_MAX_QUBITS + 1, 1, rotation="ry")
    w = torch.zeros(spec.weight_shape)
    with pytest.raises(ValueError, match=f"'unitary' method's limit of {UNITARY_MAX_QUBITS}"):
        CompiledBlock(spec, w, "unitary")
    big = BlockSpec(GATES_MAX_QUBITS + 1, 1, rotation="ry")
    with pytest.raises(ValueError, match=f"'gates' method's limit of {GATES_MAX_QUBITS} qubits"):
        CompiledBlock(big, torch.zeros(big.weight_shape))
    with pytest.raises(ValueError, match="method='fastest' is not allowed"):
        CompiledBlock(spec, w, "fastest")
    small = BlockSpec(2, 1, rotation="ry")
    with pytest.raises(ValueError, match="per-sample weights need method='gates'"):
        CompiledBlock(small, torch.zeros(3, 1, 2, 1), "unitary")
    with pytest.raises(ValueError, match="per-sample weights need method='gates'"):
        CompiledBlock(small, torch.zeros(3, 1, 2, 1), "pauli")
    wide = BlockSpec(PAULI_MAX_QUBITS + 1, 1, rotation="ry")
    with pytest.raises(ValueError, match=f"'pauli' method's limit of {PAULI_MAX_QUBITS} qubits"):
        CompiledBlock(wide, torch.zeros(wide.weight_shape), "pauli")
    with pytest.raises(ValueError, match="sizes=\\[2, 2\\] must be positive ints that sum to 3"):
        CompiledBlock(small, [torch.zeros(1, 2, 1)] * 3).split([2, 2])
    with pytest.raises(ValueError, match="x has batch 2 but the per-sample weights have batch 3"):
        CompiledBlock(small, torch.zeros(3, 1, 2, 1))(torch.zeros(2, 2))
    with pytest.raises(ValueError, match="shots=0 must be None"):
        CompiledBlock(small, torch.zeros(1, 2, 1), shots=0)
    with pytest.raises(TypeError, match="shots were given without generator"):
        CompiledBlock(small, torch.zeros(1, 2, 1), shots=10)
    with pytest.raises(ValueError, match="path='fast' is unknown; allowed: auto, reference, cpu"):
        CompiledBlock(small, torch.zeros(1, 2, 1), path="fast")
    with pytest.raises(ValueError, match="x contains NaN or infinite values"):
        CompiledBlock(small, torch.zeros(1, 2, 1))(torch.tensor([0.0, float("nan")]))
    with pytest.raises(ValueError, match="must share shape"):
        CompiledBlock(small, [torch.zeros(1, 2, 1), torch.zeros(1, 2, 1, dtype=torch.float64)])
    del x


@pytest.mark.parametrize("measurement", ["z", "probs"])
def test_shot_estimates_within_four_sigma_and_seed_reproducible(measurement):
    spec = BlockSpec(3, 2, measurement=measurement, measured=(2, 0))
    gen = torch.Generator().manual_seed(5)
    w = spec.init_weights(gen, scale=1.0)
    x = torch.randn(6, 3, generator=gen, dtype=torch.float64)
    exact = run_block(spec, x, w)
    shots = 2000
    est = run_block(spec, x, w, shots=shots, generator=torch.Generator().manual_seed(9))
    # z: Var(+-1 outcome) = 1 - <Z>^2; probs: Var(indicator) = p (1 - p)
    var = 1 - exact**2 if measurement == "z" else exact * (1 - exact)
    sigma = torch.sqrt(var / shots).clamp_min(1e-3)
    assert ((est - exact).abs() <= 4 * sigma).all()
    again = run_block(spec, x, w, shots=shots, generator=torch.Generator().manual_seed(9))
    assert torch.equal(est, again)


@pytest.mark.parametrize("method", ["pauli", "unitary", "gates"])
def test_split_groups_equal_default_qubit_with_gradients(method):
    """One build of six circuits split into groups reading different inputs (QLSTM's cell)."""
    spec = BlockSpec(4, 2, measured=(1, 3, 0))
    gen = torch.Generator().manual_seed(7)
    ws = [spec.init_weights(gen, scale=1.0).requires_grad_() for _ in range(6)]
    x1 = torch.randn(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    x2 = torch.randn(3, 4, generator=gen, dtype=torch.float64, requires_grad=True)
    gates, outs = CompiledBlock(spec, ws, method).split([4, 2])
    z1, z2 = gates(x1), outs(x2)
    ref1 = torch.stack([reference(spec, x1, w) for w in ws[:4]], 1)
    ref2 = torch.stack([reference(spec, x2, w) for w in ws[4:]], 1)
    torch.testing.assert_close(z1, ref1, atol=TOL, rtol=0)
    torch.testing.assert_close(z2, ref2, atol=TOL, rtol=0)
    alone = CompiledBlock(spec, [w.detach() for w in ws[4:]], method).states(x2)
    torch.testing.assert_close(outs.states(x2), alone, atol=1e-12, rtol=0)
    inputs = (x1, x2, *ws)
    got = torch.autograd.grad((z1 * 1.5).sum() + (z2**2).sum(), inputs)
    want = torch.autograd.grad((ref1 * 1.5).sum() + (ref2**2).sum(), inputs)
    for g, r in zip(got, want, strict=True):
        torch.testing.assert_close(g, r, atol=TOL, rtol=0)


@pytest.mark.parametrize(
    "spec",
    [
        BlockSpec(3, 2, "qlstm", "ring2", "rot", measured=(2, 0)),
        BlockSpec(3, 1, "ry", "ring", "rz", "probs", measured=(1, 2)),
        BlockSpec(2, 3, "h_ry", "brick", "rx", "probs"),
        BlockSpec(3, 3, "rx", "none", "ry"),
    ],
)
def test_pauli_readout_gradcheck(spec):
    gen = torch.Generator().manual_seed(8)
    w = torch.randn(2, *spec.weight_shape, generator=gen, dtype=torch.float64, requires_grad=True)
    x = torch.randn(3, spec.n_qubits, generator=gen, dtype=torch.float64, requires_grad=True)
    probs = spec.measurement == "probs"

    def run(x, w):
        readout = readout_matrix(w, spec.rotation, spec.entangler_pairs(), spec.wires, probs)
        return PauliReadout.apply(x, readout, 2, spec.encoding)

    assert torch.autograd.gradcheck(run, (x, w))


_PAULI_MATS = [qml.matrix(op) for op in (qml.Identity(0), qml.X(0), qml.Y(0), qml.Z(0))]


@pytest.mark.parametrize("kind", ["rot", "rx", "ry", "rz"])
def test_rotation_transfer_and_derivative_match_pennylane(kind):
    """T[a, b] = Tr(P_a G P_b G^dag) / 2 of PennyLane's gate matrix; dT by autograd."""
    gen = torch.Generator().manual_seed(9)
    angles = torch.randn(4, 3 if kind == "rot" else 1, generator=gen, dtype=torch.float64)
    ops = {"rot": qml.Rot, "rx": qml.RX, "ry": qml.RY, "rz": qml.RZ}
    gates = ops[kind].compute_matrix(*angles.T).numpy()  # (4, 2, 2)
    paulis = torch.tensor(np.array(_PAULI_MATS))
    expected = (
        torch.einsum(
            "aij,gjk,bkl,gil->gab", paulis, torch.tensor(gates), paulis, torch.tensor(gates).conj()
        ).real
        / 2
    )
    transfer, d_transfer = rotation_transfer(kind, angles, derivative=True)
    torch.testing.assert_close(transfer, expected, atol=1e-14, rtol=0)
    jac = torch.autograd.functional.jacobian(lambda a: rotation_transfer(kind, a), angles)
    torch.testing.assert_close(d_transfer, torch.einsum("gabgk->gkab", jac), atol=1e-14, rtol=0)


def test_clifford_action_matches_conjugation_by_the_cnot_layer():
    spec = BlockSpec(3, 1, entangler="ring2")
    pairs = spec.entangler_pairs()
    layer = qml.matrix(
        qml.tape.QuantumScript([qml.CNOT([c, t]) for c, t in pairs]), wire_order=range(3)
    )
    image, sign = clifford_action(pairs, 3, torch.float64)
    for b in range(64):
        digits = [(b >> (2 * (2 - q))) & 3 for q in range(3)]
        string = np.kron(
            np.kron(_PAULI_MATS[digits[0]], _PAULI_MATS[digits[1]]), _PAULI_MATS[digits[2]]
        )
        a = int(image[b])
        target = [(a >> (2 * (2 - q))) & 3 for q in range(3)]
        image_string = np.kron(
            np.kron(_PAULI_MATS[target[0]], _PAULI_MATS[target[1]]), _PAULI_MATS[target[2]]
        )
        np.testing.assert_allclose(layer @ string @ layer.conj().T, float(sign[b]) * image_string)


@pytest.mark.parametrize("kind", ["qlstm", "ry", "rx", "h_ry"])
def test_bloch_vectors_match_encoded_states_and_autograd(kind):
    x = torch.linspace(-2.5, 2.5, 11, dtype=torch.float64).reshape(1, 11)
    vecs, d_vecs = bloch_vectors(kind, x, derivative=True)
    amps = qubit_states(kind, x)  # (1, 11, 2)
    paulis = torch.tensor(np.array(_PAULI_MATS))
    expected = torch.einsum("bqi,aij,bqj->bqa", amps.conj(), paulis, amps).real
    torch.testing.assert_close(vecs, expected, atol=1e-14, rtol=0)
    jac = torch.autograd.functional.jacobian(lambda t: bloch_vectors(kind, t)[0], x)
    torch.testing.assert_close(d_vecs, torch.einsum("bqabq->bqa", jac), atol=1e-14, rtol=0)
