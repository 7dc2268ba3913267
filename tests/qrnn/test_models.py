"""Quantum recurrent bodies: fast vs default.qubit, parameter layout, shots, noise, bad input."""

from __future__ import annotations

import pytest
import torch

from qrnn.noise import NoiseConfig
from qrnn.qfwp import QFWP
from qrnn.qgru import QGRU, QRNN
from qrnn.qlstm import QLSTM
from qrnn.reservoir import QuantumReservoir
from tests.qrnn.qrnn_cases import TOL

MODELS = {
    "qlstm": lambda **kw: QLSTM(1, 3, **kw),
    "qlstm_chen2022": lambda **kw: QLSTM(1, 5, variant="chen2022", **kw),
    "qgru": lambda **kw: QGRU(1, 3, **kw),
    "qrnn": lambda **kw: QRNN(2, 2, **kw),
    "qfwp": lambda **kw: QFWP(1, 8, **kw),
    "qreservoir": lambda **kw: QuantumReservoir(1, 3, cell="qgru", **kw),
}


def _make(name: str, init_seed: int, **kw):
    torch.manual_seed(init_seed)
    return MODELS[name](**kw).double()


def _nudge(model) -> None:
    """Weights away from the 0.01 N(0, 1) init, so every circuit's gradient is sizeable."""
    gen = torch.Generator().manual_seed(5)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn(p.shape, generator=gen, dtype=p.dtype))


@pytest.mark.parametrize("name", sorted(MODELS))
def test_fast_and_default_qubit_agree_after_load_state_dict(name):
    fast = _make(name, 0)
    _nudge(fast)
    device = _make(name, 1, backend="default.qubit")  # other init, then the fast weights
    device.load_state_dict(fast.state_dict())
    x = torch.randn(2, 3, fast.input_size, dtype=torch.float64,
                    generator=torch.Generator().manual_seed(2))
    y_fast, _ = fast(x)
    y_dev, _ = device(x)
    assert y_fast.shape == (2, 3, fast.output_size)
    torch.testing.assert_close(y_dev, y_fast, atol=TOL, rtol=0)
    cot = torch.randn(y_fast.shape, dtype=torch.float64, generator=torch.Generator().manual_seed(3))
    params = [p for p in fast.parameters() if p.requires_grad]
    if not params:  # the reservoir: frozen circuits, nothing to train in the body
        assert name == "qreservoir"
        return
    g_fast = torch.autograd.grad((y_fast * cot).sum(), params)
    g_dev = torch.autograd.grad((y_dev * cot).sum(),
                                [p for p in device.parameters() if p.requires_grad])
    for a, b in zip(g_dev, g_fast, strict=True):
        torch.testing.assert_close(a, b, atol=TOL, rtol=0)


def test_switching_the_backend_keeps_the_parameters():
    model = _make("qlstm", 0)
    _nudge(model)
    x = torch.rand(2, 2, 1, dtype=torch.float64)
    before = model(x)[0]
    model.backend = "default.qubit"
    assert model.backend == "default.qubit"
    torch.testing.assert_close(model(x)[0], before, atol=TOL, rtol=0)


@pytest.mark.parametrize(("name", "body", "count"), [
    ("qlstm", QLSTM(1, 3), 149),
    ("qlstm_chen2022", QLSTM(1, 5, variant="chen2022"), 126),
    ("qfwp", QFWP(1), 111),
])
def test_reference_parameter_counts_with_the_papers_output_layer(name, body, count):
    head = torch.nn.Linear(body.output_size, 1)  # the paper's output layer = the task head
    total = sum(p.numel() for m in (body, head) for p in m.parameters() if p.requires_grad)
    assert total == count, name


def test_qlstm_reference_structure():
    model = QLSTM(1, 3)
    assert model.weights.shape == (6, 2, 4, 3) and model.output_size == 4
    assert (model.spec.encoding, model.spec.entangler, model.spec.rotation) == (
        "qlstm", "ring2", "rot")
    assert float(model.weights.detach().std()) < 0.05  # 0.01 N(0, 1)
    wide = QLSTM(1, 5, variant="chen2022")
    assert wide.weights.shape == (4, 5, 6, 1) and wide.spec.entangler == "brick"


def test_qfwp_fast_weights_accumulate_outer_products():
    torch.manual_seed(0)
    model = QFWP(1, decay=0.5).double()
    x = torch.rand(3, 2, 1, dtype=torch.float64)
    _, theta = model(x)
    e = model.encoder(x)
    outer = model.layer_head(e)[..., :, None] * model.qubit_head(e)[..., None, :]
    torch.testing.assert_close(theta, 0.5 * outer[:, 0] + outer[:, 1], atol=1e-14, rtol=0)


def test_reservoir_seeds_draw_different_frozen_circuits():
    a, b = QuantumReservoir(1, 3, seed=1), QuantumReservoir(1, 3, seed=1)
    c = QuantumReservoir(1, 3, seed=2)
    assert torch.equal(a.cell.weights, b.cell.weights)
    assert not torch.equal(a.cell.weights, c.cell.weights)
    assert "cell.weights" in a.state_dict() and not list(a.parameters())
    w = QuantumReservoir(1, 3, distribution="normal", scale=0.01, seed=1).cell.weights
    assert float(w.abs().max()) < 0.06 and float(a.cell.weights.min()) >= 0
    assert float(a.cell.weights.max()) < 2 * torch.pi


def test_qfwp_shots_on_qiskit_aer_within_four_sigma_and_readout_noise_closed_form():
    # Theta_t never depends on measured values, so every step is a plain shot estimate
    model = _make("qfwp", 0)
    _nudge(model)
    x = torch.rand(2, 2, 1, dtype=torch.float64, generator=torch.Generator().manual_seed(4))
    exact = model(x)[0]
    shots, r = 4000, 0.1
    for noise, scale in ((None, 1.0), (NoiseConfig(p1=0, p2=0, readout=r), 1 - 2 * r)):
        noisy = _make("qfwp", 0, backend="qiskit.aer", shots=shots, noise=noise, seed=3)
        noisy.load_state_dict(model.state_dict())
        est = noisy(x)[0]
        sigma = torch.sqrt((1 - (scale * exact) ** 2) / shots).clamp_min(1e-3)
        assert ((est - scale * exact).abs() <= 4 * sigma).all(), noise


def test_qlstm_runs_on_qiskit_aer_with_shots_and_noise_reproducibly():
    # every body runs its circuits through the same QuantumBody executors (QFWP above)
    x = torch.rand(1, 1, 1, dtype=torch.float64)
    for name in ("qlstm",):
        runs = [_make(name, 0, backend="qiskit.aer", shots=64, noise=NoiseConfig(), seed=s)(x)[0]
                for s in (7, 7, 8)]
        assert torch.equal(runs[0], runs[1]) and not torch.equal(runs[0], runs[2])
        assert bool((runs[0].abs() <= 1).all())


def test_circuit_cost_counts_cnots_per_step():
    full = {"coupling": "full", "optimization_level": 0}
    qlstm = QLSTM(1, 3).circuit_cost(**full)
    assert qlstm["circuits_per_step"] == 6
    assert qlstm["two_qubit_per_step"] == 6 * 2 * 8  # ring (4) + distance-2 (4) per layer
    assert qlstm["depth_per_step"] == 2 * qlstm["roles"]["gates"]["depth"]  # gates, then outputs
    fwp = QFWP(1).circuit_cost(**full)
    assert fwp["two_qubit_per_step"] == 2 * 7  # brick on 8 qubits: 4 + 3 per layer
    routed = QLSTM(1, 3).circuit_cost(coupling="line")  # distance-2 CNOTs need swaps on a line
    assert routed["two_qubit_per_step"] > qlstm["two_qubit_per_step"]


@pytest.mark.parametrize(("build", "match"), [
    (lambda: QLSTM(2, 3, n_qubits=4), r"input_size \+ hidden_size = 2 \+ 3 does not fit"),
    (lambda: QGRU(1, 4, n_qubits=4), "does not fit n_qubits=4"),
    (lambda: QFWP(9), "input_size=9 does not fit n_qubits=8"),
    (lambda: QFWP(1, n_outputs=9), "n_outputs=9 exceeds n_qubits=8"),
    (lambda: QLSTM(1, 3, variant="chen2021"), "variant='chen2021' is unknown; allowed"),
    (lambda: QLSTM(1, 3, shots=0), "shots=0 must be None"),
    (lambda: QRNN(1, 3, shots=-2), "shots=-2 must be None"),
    (lambda: QLSTM(1, 3, backend="default.qbit"), "'default.qbit' is not 'fast' or an installed"),
    (lambda: QLSTM(1, 3, num_layers=2), "num_layers=2: quantum bodies have one recurrent layer"),
    (lambda: QuantumReservoir(1, 3, scale=-1.0), "scale=-1.0: must be a finite number > 0"),
    (lambda: QuantumReservoir(1, 3, cell="lstm"), "cell='lstm' is unknown"),
    (lambda: QFWP(1, decay=2.0), r"decay=2.0: must be a number in \[0, 1\]"),
])
def test_bad_construction_one_line_error(build, match):
    with pytest.raises(ValueError, match=match):
        build()


def test_bad_inputs_one_line_error():
    model = QLSTM(1, 3)
    with pytest.raises(ValueError, match="batch and time must be >= 1"):
        model(torch.zeros(2, 0, 1))
    with pytest.raises(ValueError, match="holds NaN or inf values"):
        model(torch.tensor([[[float("nan")]]]))
    with pytest.raises(ValueError, match=r"expected \(batch, time, 1\)"):
        model(torch.zeros(2, 3, 2))
