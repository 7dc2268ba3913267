"""The shared trainer, the model registry and the runner."""

import pytest
import torch
from torch import nn

from experiments import tasks
from experiments.models import MODELS, build_model, count_parameters
from experiments.runner import RunSpec, execute
from experiments.train import TrainConfig, evaluate, fit


def test_lstm_learns_damped_shm_quick():
    run = execute(RunSpec("lstm", "damped_shm", "quick"))
    assert run.metric == "mse" and run.value < 1e-2
    assert run.epochs == len(run.history) == 40
    assert run.params == count_parameters(
        build_model("lstm", 1, 1, "regression", hidden_size=16))
    assert run.history[-1]["train_loss"] < run.history[0]["train_loss"]


def test_execute_restores_the_thread_setting():
    before = torch.get_num_threads()
    execute(RunSpec("elman", "bessel_j2", train={"epochs": 1}), threads=1)
    assert torch.get_num_threads() == before


def test_runs_are_reproducible_from_the_seed():
    a = execute(RunSpec("gru", "bessel_j2", train={"epochs": 3}))
    b = execute(RunSpec("gru", "bessel_j2", train={"epochs": 3}))
    c = execute(RunSpec("gru", "bessel_j2", seed=1, train={"epochs": 3}))
    assert a.value == b.value and a.history[-1]["train_loss"] == b.history[-1]["train_loss"]
    assert c.value != a.value


def test_early_stopping_restores_the_best_epoch():
    task = tasks.load("bessel_j2")
    model = build_model("elman", 1, 1, "regression", hidden_size=8)
    result = fit(model, task, TrainConfig(epochs=60, lr=0.2, patience=3), quiet=True)
    best = min(h["val_loss"] for h in result.history)
    assert result.history[result.best_epoch - 1]["val_loss"] == best
    assert result.epochs_run - result.best_epoch == 3 or result.epochs_run == 60
    assert evaluate(model, "regression", task.val)["mse"] == pytest.approx(best, rel=1e-5)


@pytest.mark.parametrize("optimizer", ["adam", "rmsprop", "sgd"])
def test_optimizers_reduce_the_training_loss(optimizer):
    task = tasks.load("digits_rows")
    model = build_model("gru", 8, 10, "classification", hidden_size=16)
    result = fit(model, task, TrainConfig(epochs=3, batch_size=64, lr=0.05 if optimizer == "sgd"
                                          else 0.01, optimizer=optimizer), quiet=True)
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]
    assert 0.0 <= result.metrics["accuracy"] <= 1.0


def test_language_metric_is_bits_per_character():
    task = tasks.load("char_lm")
    model = build_model("mingru", task.input_size, task.output_size, "language", hidden_size=8)
    m = evaluate(model, "language", task.test)
    assert m["bpc"] == pytest.approx(m["cross_entropy"] / torch.log(torch.tensor(2.0)).item())
    # an untrained model is close to uniform over the vocabulary
    assert abs(m["bpc"] - torch.log2(torch.tensor(float(task.output_size))).item()) < 1.0


def test_variable_length_classification_uses_the_last_valid_step():
    model = build_model("lstm", 2, 3, "classification", hidden_size=4)
    x = torch.randn(2, 6, 2)
    lengths = torch.tensor([3, 6])
    out = model(x, lengths)
    assert torch.allclose(out[0], model(x[:1, :3])[0], atol=1e-6)
    assert torch.allclose(out[1], model(x[1:])[0], atol=1e-6)


def _kind_loss(kind, out, target):
    if kind == "control":
        logits, value, _ = out
        return -logits.log_softmax(-1)[..., 0].mean() + (value - 1.0).pow(2).mean()
    if kind == "regression":
        return (out - target).pow(2).mean()
    return torch.nn.functional.cross_entropy(out.reshape(-1, out.shape[-1]), target.reshape(-1))


@pytest.mark.parametrize("name", list(MODELS))
def test_every_registered_model_trains_on_every_kind(name):
    """Built with its default options and the head of each kind, every registered model gets a
    gradient in every trainable parameter and lowers its loss on a fixed small batch in a few
    optimizer steps (by 3%, except a frozen reservoir on classification, whose random
    features barely depend on these tiny inputs: there, any decrease)."""
    gen = torch.Generator().manual_seed(0)
    sizes = {"regression": (1, 1), "classification": (3, 4), "language": (5, 5),
             "control": (4, 2)}
    for kind, (i, o) in sizes.items():
        model = build_model(name, i, o, kind, hidden_size=4, seed=1)
        x = torch.rand(4, 3, i, generator=gen)
        target = {"regression": 2.0 + torch.rand(4, 1, generator=gen),
                  "classification": torch.tensor([0, 1, 2, 3]),
                  "language": torch.randint(0, 5, (4, 3), generator=gen)}.get(kind)
        opt = torch.optim.Adam(model.parameters(), lr=0.1)
        losses = []
        for step in range(12):
            loss = _kind_loss(kind, model(x), target)
            opt.zero_grad()
            loss.backward()
            if step == 0:
                silent = [n for n, p in model.named_parameters()
                          if p.requires_grad and (p.grad is None or not p.grad.abs().sum())]
                assert not silent, (name, kind, silent)
            opt.step()
            losses.append(float(loss.detach()))
        factor = 1.0 if (name, kind) == ("qreservoir", "classification") else 0.97
        assert losses[-1] < factor * losses[0], (name, kind, losses)


def test_train_config_validation():
    with pytest.raises(ValueError, match="epochs=0"):
        TrainConfig(epochs=0)
    with pytest.raises(ValueError, match="lr=-1"):
        TrainConfig(lr=-1)
    with pytest.raises(ValueError, match="optimizer='lbfgs'; allowed: adam, rmsprop, sgd"):
        TrainConfig(optimizer="lbfgs")
    with pytest.raises(ValueError, match="valid models: lstm"):
        RunSpec("transformer", "bessel_j2").resolved()
    with pytest.raises(ValueError, match="backend 'cuda' is not available for model 'lstm'"):
        RunSpec("lstm", "bessel_j2", backend="cuda").resolved()
    with pytest.raises(ValueError, match="hidden_size=0"):
        RunSpec("lstm", "bessel_j2", hidden_size=0).resolved()


@pytest.mark.parametrize("split,part,value", [("train", "x", float("nan")),
                                              ("test", "y", float("inf"))])
def test_non_finite_data_is_named_as_the_cause(split, part, value):
    task = tasks.load("bessel_j2")
    getattr(getattr(task, split), part)[3, 0] = value  # corrupted after loading
    model = build_model("elman", task.input_size, task.output_size, task.kind, hidden_size=4)
    before = [p.detach().clone() for p in model.parameters()]
    with pytest.raises(ValueError, match=rf"{split}\.{part} holds \d+ NaN/inf values; the "
                       "data is the cause, not the learning rate"):
        fit(model, task, TrainConfig(epochs=2), quiet=True)
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))


def test_a_head_for_another_task_is_refused():
    task = tasks.load("bessel_j2")
    wrong_kind = build_model("elman", task.input_size, 10, "classification", hidden_size=4)
    with pytest.raises(ValueError, match="head is for 'classification' tasks but task "
                       "'bessel_j2' is 'regression'"):
        fit(wrong_kind, task, TrainConfig(epochs=1), quiet=True)
    wrong_size = build_model("elman", task.input_size, 3, "regression", hidden_size=4)
    with pytest.raises(ValueError, match="head has 3 outputs but task 'bessel_j2' needs 1"):
        fit(wrong_size, task, TrainConfig(epochs=1), quiet=True)


def test_make_optimizer_takes_the_flat_buffer_where_it_can_and_torch_optim_otherwise():
    from experiments.train import make_optimizer
    from kernels.optim import FlatOptimizer

    params = [nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(3))]
    assert isinstance(make_optimizer(TrainConfig(optimizer="rmsprop"), params), FlatOptimizer)
    reference = make_optimizer(TrainConfig(optimizer="rmsprop"), params, path="reference")
    assert isinstance(reference, torch.optim.RMSprop)
    mixed = [nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2, dtype=torch.float64))]
    assert isinstance(make_optimizer(TrainConfig(), mixed), torch.optim.Adam)
    with pytest.raises(ValueError, match="one dtype and device"):
        make_optimizer(TrainConfig(), mixed, path="flat")
    with pytest.raises(ValueError, match="path"):
        make_optimizer(TrainConfig(), mixed, path="fast")


def test_flat_optimizer_trains_an_analog_model_as_torch_optim_does(monkeypatch):
    """The analog cells cache their programmed crossbars by parameter version: every flat
    step must refresh them, or evaluation (validation, test) reads stale conductances."""
    import experiments.train as train

    task = tasks.load("bessel_j2", "quick", 0)
    config = TrainConfig(epochs=2, batch_size=32)
    results = {}
    for path in ("auto", "reference"):
        original = train.make_optimizer
        monkeypatch.setattr(train, "make_optimizer",
                            lambda c, p, lr=None, _o=original, _p=path: _o(c, p, lr, path=_p))
        model = build_model("analog_lstm", 1, 1, "regression", hidden_size=8, seed=0)
        results[path] = (fit(model, task, config, quiet=True), model.state_dict())
        monkeypatch.setattr(train, "make_optimizer", original)
    (flat, flat_state), (ref, ref_state) = results["auto"], results["reference"]
    for key in ("train_loss", "val_loss"):
        assert [h[key] for h in flat.history] == pytest.approx([h[key] for h in ref.history],
                                                               rel=1e-5)
    assert flat.metrics["mse"] == pytest.approx(ref.metrics["mse"], rel=1e-5)
    for name, value in ref_state.items():
        torch.testing.assert_close(flat_state[name], value, rtol=1e-5, atol=1e-6)
