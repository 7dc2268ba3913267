"""Qiskit export, transpilation report, noisy execution on qiskit.aer."""

from __future__ import annotations

import pytest
import torch

from qrnn.circuit import BlockSpec
from qrnn.execute import Backend, NoiseConfig, run_block
from qrnn.hardware import noise_model, to_qiskit, transpile_report
from tests.qrnn.qrnn_cases import random_args

SPEC = BlockSpec(3, 2, "qlstm", "ring2", "rot")
SHOTS = 4000


def _four_sigma(est, exact, shots, scale=1.0):
    sigma = torch.sqrt((1 - (scale * exact) ** 2) / shots).clamp_min(1e-3)
    return ((est - scale * exact).abs() <= 4 * sigma).all()


def test_exported_circuit_has_the_same_state():
    from qiskit.quantum_info import Statevector

    x, w = random_args(SPEC, 2, None, per_sample=False)
    state = Statevector(to_qiskit(SPEC, x, w, measure=False))
    # Qiskit is little-endian: <Z_k> from the marginal of qubit k
    z = [state.probabilities([k])[0] - state.probabilities([k])[1] for k in range(3)]
    torch.testing.assert_close(torch.tensor(z, dtype=torch.float64), run_block(SPEC, x, w))


def test_aer_without_noise_agrees_within_shot_noise_and_is_seeded():
    x, w = random_args(SPEC, 3, 2, per_sample=False)
    backend = Backend("qiskit.aer", shots=SHOTS, seed=5)
    est = run_block(SPEC, x, w, backend)
    assert _four_sigma(est, run_block(SPEC, x, w), SHOTS)
    assert torch.equal(est, run_block(SPEC, x, w, backend))


def test_basicsim_agrees_within_shot_noise():
    x, w = random_args(SPEC, 8, 2, per_sample=False)
    est = run_block(SPEC, x, w, Backend("qiskit.basicsim", shots=SHOTS, seed=2))
    assert _four_sigma(est, run_block(SPEC, x, w), SHOTS)


def test_readout_noise_shrinks_z_by_one_minus_two_r():
    x, w = random_args(SPEC, 4, 2, per_sample=False)
    r = 0.1
    noisy = Backend("qiskit.aer", shots=SHOTS, seed=6, noise=NoiseConfig(p1=0, p2=0, readout=r))
    est = run_block(SPEC, x, w, noisy)
    assert _four_sigma(est, run_block(SPEC, x, w), SHOTS, scale=1 - 2 * r)


def test_transpile_report_counts_two_qubit_gates():
    spec = BlockSpec(4, 2, "ry", "brick", "ry")
    x, w = random_args(spec, 1, None, per_sample=False)
    qc = to_qiskit(spec, x, w)
    full = transpile_report(qc, basis="ibm", coupling="full", optimization_level=0)
    assert full.two_qubit_gates == spec.n_layers * len(spec.entangler_pairs())  # 2 x 3 CNOTs
    assert full.ops["cx"] == full.two_qubit_gates and full.depth >= 2 * 3
    heron = transpile_report(qc, basis="ibm_heron", coupling="line", optimization_level=0)
    assert heron.ops.get("cz", 0) == heron.two_qubit_gates >= 6 and "cx" not in heron.ops
    ring = to_qiskit(SPEC, *random_args(SPEC, 1, None, per_sample=False))
    routed = transpile_report(ring, coupling="line", optimization_level=1, seed=3)
    assert routed.two_qubit_gates >= 1 and routed.depth > 0


def test_noise_model_lists_the_requested_errors():
    model = noise_model(NoiseConfig(p1=0.01, p2=0.05, readout=0.02))
    instructions = set(model.noise_instructions)
    assert {"cx", "ry", "rz", "h", "measure"} <= instructions


def test_bad_hardware_arguments():
    x, w = random_args(SPEC, 1, 2, per_sample=False)
    with pytest.raises(ValueError, match="to_qiskit exports one sample"):
        to_qiskit(SPEC, x, w)
    qc = to_qiskit(SPEC, x[0], w)
    with pytest.raises(ValueError, match="basis='ionq' is not a known basis"):
        transpile_report(qc, basis="ionq")
    with pytest.raises(ValueError, match="coupling='grid' must be"):
        transpile_report(qc, coupling="grid")
    with pytest.raises(TypeError, match="config must be a NoiseConfig"):
        noise_model({"p1": 0.1})
