"""Control: the policy evaluation and REINFORCE loop on CartPole (gymnasium, optional)."""

import pytest
import torch

pytest.importorskip("gymnasium", reason="cartpole needs gymnasium (the [data] extra)")

from experiments import control, tasks  # noqa: E402
from experiments.control import evaluate_policy  # noqa: E402
from experiments.models import build_model  # noqa: E402
from experiments.train import TrainConfig, fit  # noqa: E402


class _Scripted(torch.nn.Module):
    """A fixed policy with the SequenceModel control interface (logits, value, state)."""

    def __init__(self, rule):
        super().__init__()
        self.rule = rule

    def forward(self, x, lengths=None, state=None):
        logits = torch.tensor([[[0.0, 1.0] if self.rule(obs) else [1.0, 0.0]]
                               for obs in x[:, -1]])
        return logits, torch.zeros(x.shape[0], 1), state


def test_evaluation_tells_a_balancing_policy_from_a_constant_one():
    task = tasks.load("cartpole")
    constant = evaluate_policy(_Scripted(lambda obs: True), task, seed=0, episodes=5)
    balancing = evaluate_policy(_Scripted(lambda obs: bool(obs[2] + 0.5 * obs[3] > 0)), task,
                                seed=0, episodes=5)
    assert constant < 20  # the pole falls within a few dozen steps
    assert balancing > 150


def test_reinforce_updates_once_per_batch_of_side_by_side_episodes():
    task = tasks.load("cartpole")
    model = build_model("gru", 4, 2, "control", hidden_size=8)
    before = [p.detach().clone() for p in model.parameters()]
    result = fit(model, task, TrainConfig(epochs=3, batch_size=4, lr=0.01), seed=0, quiet=True)
    assert [h["epoch"] for h in result.history] == [1, 2, 3]
    assert all(h["train_return"] >= 1 for h in result.history)
    assert any(not torch.equal(a, b) for a, b in zip(before, model.parameters(), strict=True))
    assert 1 <= result.metrics["mean_return"] <= 500


def test_side_by_side_episodes_score_each_episode_alone():
    """Episodes stepped together (finished ones masked) return what each returns alone."""
    task = tasks.load("cartpole")
    policy = _Scripted(lambda obs: bool(obs[2] > 0))  # falls after tens of steps
    seeds = [7, 8, 9, 10, 11, 12]

    def returns(seed_list):
        envs = [task.make_env() for _ in seed_list]
        *_, rewards, alive = control._rollout(policy, envs, seed_list, True, None,
                                              torch.float32, 500)
        assert torch.equal(alive.sum(0).float(), rewards.sum(0))  # one reward per live step
        return rewards.sum(0).tolist()

    together = returns(seeds)
    alone = [returns([s])[0] for s in seeds]
    assert together == alone
    assert len(set(alone)) > 1  # the episodes end at different steps: masking is exercised


def test_discounted_returns_match_the_closed_form():
    rewards = torch.ones(4, 1)
    out = control.discounted_returns(rewards, gamma=0.5)
    assert out[:, 0].tolist() == [1.875, 1.75, 1.5, 1.0]  # sum of 0.5**k
