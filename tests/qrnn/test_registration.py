"""The quantum entries of the model registry and the paper suite."""

from __future__ import annotations

import pytest
import torch

from experiments.models import build_model, count_parameters, model_spec
from experiments.suites import suite

QUANTUM = ("qlstm", "qgru", "qrnn", "qreservoir", "qfwp")


@pytest.mark.parametrize(("name", "hidden", "options", "count"), [
    ("qlstm", 3, {}, 149),
    ("qlstm", 5, {"variant": "chen2022"}, 126),
    ("qfwp", 8, {}, 111),
])
def test_reference_configurations_as_registered(name, hidden, options, count):
    model = build_model(name, 1, 1, "regression", hidden_size=hidden, options=options)
    assert count_parameters(model) == count


def test_every_quantum_model_builds_on_fast_and_a_pennylane_device():
    x = torch.rand(2, 2, 1, dtype=torch.float64)
    for name in QUANTUM:
        hidden = 8 if name == "qfwp" else 3
        fast = build_model(name, 1, 1, "regression", hidden_size=hidden, seed=1).double()
        dev = build_model(name, 1, 1, "regression", hidden_size=hidden, seed=1,
                          backend="default.qubit").double()
        assert model_spec(name).family == "quantum"
        torch.testing.assert_close(dev(x), fast(x), atol=1e-6, rtol=0)


def test_reservoir_seed_reaches_the_frozen_circuits():
    def frozen(seed):
        return build_model("qreservoir", 1, 1, "regression", hidden_size=3,
                           seed=seed).body.cell.weights

    assert torch.equal(frozen(1), frozen(1)) and not torch.equal(frozen(1), frozen(2))


@pytest.mark.parametrize(("options", "backend", "match"), [
    ({"n_qubits": 0}, None, r"option n_qubits=0 is not allowed; allowed: int in \[1, 20\]"),
    ({"shots": 0}, None, "option shots=0 is not allowed"),
    ({"variant": "x"}, None, "option variant='x' is not allowed; allowed: one of chen2020"),
    ({"noise": True}, None, "needs a NoiseConfig and name='qiskit.aer'"),
    ({}, "default.qbit", "'default.qbit' is not 'fast' or an installed PennyLane device"),
])
def test_bad_options_one_line_error(options, backend, match):
    with pytest.raises(ValueError, match=match):
        build_model("qlstm", 1, 1, "regression", hidden_size=3, options=options, backend=backend)


def test_a_forgotten_hidden_size_is_one_line_error():
    with pytest.raises(ValueError, match="1 \\+ 16 qubits per circuit .* --hidden-size"):
        build_model("qlstm", 1, 1, "regression", hidden_size=16)


def test_paper_suite_lists_the_quantum_models_with_the_published_protocol():
    paper = suite("paper")
    series = {"damped_shm", "bessel_j2", "delayed_control", "narma5", "narma10",
              "population_inversion"}
    assert set(QUANTUM) <= set(paper.models) and series <= set(paper.tasks)
    quantum = [e for e in paper.entries if e.model in QUANTUM or e.hidden_size == 5]
    assert {e.model for e in quantum} == {*QUANTUM, "lstm"}  # lstm hidden 5: ~149 parameters
    for entry in quantum:
        assert set(entry.tasks) == series
        assert entry.train["optimizer"] == "rmsprop" and entry.train["batch_size"] == 10
        assert entry.train["epochs"] == 100 and entry.train["dtype"] == "float64"
