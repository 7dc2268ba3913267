"""Control: the policy evaluation and REINFORCE loop on CartPole (gymnasium, optional)."""

import pytest
import torch

pytest.importorskip("gymnasium", reason="cartpole needs gymnasium (the [data] extra)")

from experiments import tasks  # noqa: E402
from experiments.control import evaluate_policy  # noqa: E402
from experiments.models import build_model  # noqa: E402
from experiments.train import TrainConfig, fit  # noqa: E402


class _Scripted(torch.nn.Module):
    """A fixed policy with the SequenceModel control interface (logits, value, state)."""

    def __init__(self, rule):
        super().__init__()
        self.rule = rule

    def forward(self, x, lengths=None, state=None):
        push_right = self.rule(x[0, -1])
        logits = torch.tensor([[[0.0, 1.0] if push_right else [1.0, 0.0]]])
        return logits, torch.zeros(1, 1), state


def test_evaluation_tells_a_balancing_policy_from_a_constant_one():
    task = tasks.load("cartpole")
    constant = evaluate_policy(_Scripted(lambda obs: True), task, seed=0, episodes=5)
    balancing = evaluate_policy(_Scripted(lambda obs: bool(obs[2] + 0.5 * obs[3] > 0)), task,
                                seed=0, episodes=5)
    assert constant < 20  # the pole falls within a few dozen steps
    assert balancing > 150


def test_reinforce_runs_one_episode_per_epoch():
    task = tasks.load("cartpole")
    model = build_model("gru", 4, 2, "control", hidden_size=8)
    before = [p.detach().clone() for p in model.parameters()]
    result = fit(model, task, TrainConfig(epochs=3, lr=0.01), seed=0, quiet=True)
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    assert all(h["train_return"] >= 1 for h in result.history)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert 1 <= result.metrics["mean_return"] <= 500
