"""Quantum bodies learn: short runs on quick data, and the reservoir's closed-form readout."""

from __future__ import annotations

import pytest
import torch

from experiments.heads import SequenceModel
from experiments.tasks import Split, load
from experiments.train import TrainConfig, evaluate, fit
from qrnn.qfwp import QFWP
from qrnn.qgru import QGRU, QRNN
from qrnn.qlstm import QLSTM
from qrnn.reservoir import QuantumReservoir, ridge

PAPER = TrainConfig(epochs=5, batch_size=10, lr=0.01, optimizer="rmsprop", dtype="float64")
"""The QLSTM paper's trainer settings, 5 epochs."""
FACTOR = 3.0
"""Each body's train MSE after 5 epochs is at least this many times below its untrained MSE."""


@pytest.fixture
def one_thread():
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


@pytest.mark.parametrize("build", [
    lambda: QLSTM(1, 3), lambda: QGRU(1, 3), lambda: QRNN(1, 3), lambda: QFWP(1)],
    ids=["qlstm", "qgru", "qrnn", "qfwp"])
def test_five_epochs_on_damped_shm_lower_the_train_loss(build, one_thread):
    task = load("damped_shm", "quick")
    torch.manual_seed(0)
    body = build()
    model = SequenceModel(body, body.output_size, 1, "regression").double()
    before = evaluate(model, "regression", task.train, dtype=torch.float64)["mse"]
    result = fit(model, task, PAPER, seed=0, quiet=True)
    after = evaluate(model, "regression", task.train, dtype=torch.float64)["mse"]
    assert after * FACTOR <= before, (before, after)
    assert result.epochs_run == 5


def _small_problem():
    gen = torch.Generator().manual_seed(0)
    x = torch.rand(40, 3, 1, generator=gen, dtype=torch.float64)
    y = torch.sin(3 * x.sum(1)) + 0.05 * torch.randn(40, 1, generator=gen, dtype=torch.float64)
    return Split(x[:30], y[:30]), Split(x[30:], y[30:])


def test_closed_form_readout_equals_the_gradient_descent_optimum():
    lam = 1e-2
    train, val = _small_problem()
    body = QuantumReservoir(1, 3, cell="qrnn", lambdas=(lam,), seed=4).double()
    head = torch.nn.Linear(body.output_size, 1).double()
    info = body.fit_readout(head, train, val)
    assert info["lambda"] == lam
    feats = body.features(train.x)
    gd = torch.nn.Linear(body.output_size, 1).double()
    opt = torch.optim.LBFGS(gd.parameters(), lr=1, max_iter=500, tolerance_grad=1e-14,
                            tolerance_change=0, line_search_fn="strong_wolfe")

    def objective():
        opt.zero_grad()
        loss = (gd(feats) - train.y).square().sum() + lam * gd.weight.square().sum()
        loss.backward()
        return loss

    opt.step(objective)
    torch.testing.assert_close(head.weight, gd.weight, atol=1e-6, rtol=0)
    torch.testing.assert_close(head.bias, gd.bias, atol=1e-6, rtol=0)


def test_ridge_picks_the_lambda_with_the_lowest_validation_error():
    train, val = _small_problem()
    body = QuantumReservoir(1, 3, cell="qrnn", lambdas=(1e-8, 1e-2, 1e2), seed=4).double()
    info = body.fit_readout(torch.nn.Linear(body.output_size, 1).double(), train, val)
    f_train, f_val = body.features(train.x), body.features(val.x)
    errors = {}
    for lam in (1e-8, 1e-2, 1e2):
        w, b = ridge(f_train, train.y, lam)
        errors[lam] = float((f_val @ w.T + b - val.y).square().mean())
    assert info["lambda"] == min(errors, key=errors.get)
    assert info["val_mse"] == pytest.approx(errors[info["lambda"]], rel=1e-12)


def test_trainer_fits_a_ridge_reservoir_in_one_pass_and_gd_on_request(one_thread):
    task = load("damped_shm", "quick")
    config = TrainConfig(epochs=2, batch_size=10, optimizer="rmsprop", dtype="float64")
    ridge_body = QuantumReservoir(1, 3, seed=0)
    model = SequenceModel(ridge_body, ridge_body.output_size, 1, "regression")
    result = fit(model, task, config, quiet=True)
    assert result.epochs_run == 1
    assert result.metrics["mse"] == evaluate(model, "regression", task.test,
                                             dtype=torch.float64)["mse"]
    gd_body = QuantumReservoir(1, 3, seed=0, readout="gd")
    gd_model = SequenceModel(gd_body, gd_body.output_size, 1, "regression")
    frozen = gd_body.cell.weights.clone()
    assert fit(gd_model, task, config, quiet=True).epochs_run == 2
    assert torch.equal(gd_body.cell.weights, frozen.double())  # the circuits stay frozen
