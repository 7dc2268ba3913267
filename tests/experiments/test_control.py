"""Control: the policy evaluation and REINFORCE loop on CartPole (gymnasium, optional)."""

import math

import numpy as np
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
    # angle + 0.5 angular velocity > 0 in raw units: the scaled observations times 12 degrees
    # and 2 rad/s
    balancing = evaluate_policy(
        _Scripted(lambda obs: bool(obs[2] * math.radians(12) + 0.5 * obs[3] * 2.0 > 0)), task,
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


def test_observations_are_divided_by_the_documented_scale():
    """Position and angle by their termination bounds (2.4 m, 12 degrees), the velocities by
    1.5 m/s and 2 rad/s: the scaled environment reports raw / scale along the same episode."""
    from experiments.tasks.control import cartpole_factory

    scaled, raw = tasks.load("cartpole").make_env(), cartpole_factory(None)()
    divisor = np.array([2.4, 1.5, math.radians(12), 2.0], dtype=np.float32)
    a, b = scaled.reset(seed=3)[0], raw.reset(seed=3)[0]
    for step in range(200):
        np.testing.assert_allclose(a, b / divisor, rtol=1e-6)
        a, _, done_a, _, _ = scaled.step(step % 2)
        b, _, done_b, _, _ = raw.step(step % 2)
        assert done_a == done_b
        if done_a:
            break
    assert step > 5
    np.testing.assert_allclose(a, b / divisor, rtol=1e-6)
    assert scaled.observation_space.high[0] == pytest.approx(2.0)  # gymnasium's bound: 4.8 m
    with pytest.raises(ValueError, match="scale"):
        cartpole_factory((1.0, 2.0))


class _Recording(torch.nn.Module):
    """Wraps a policy and keeps the logits of every call."""

    def __init__(self, model):
        super().__init__()
        self.model, self.logits = model, []

    def forward(self, x, lengths=None, state=None):
        logits, value, state = self.model(x, state=state)
        self.logits.append(logits)
        return logits, value, state


@pytest.mark.parametrize("name,hidden,options", [
    ("lstm", 8, {}), ("qlstm", 3, {"variant": "chen2022"}), ("qlstm", 3, {}),
    ("qfwp", 8, {"decay": 0.5})])
def test_the_update_recomputes_the_probabilities_the_rollout_acted_on(name, hidden, options):
    """The update runs the policy once on the recorded observations: its logits equal the
    ones of the step-by-step rollout (same recurrence, same inputs), finished rows included."""
    task = tasks.load("cartpole")
    model = build_model(name, 4, 2, "control", hidden_size=hidden, seed=1, options=options)
    model.double()
    recording = _Recording(model)
    envs = [task.make_env() for _ in range(3)]
    gen = torch.Generator().manual_seed(0)
    observations, actions, rewards, alive = control._rollout(
        recording, envs, [1, 2, 3], False, gen, torch.float64, 40)
    stepwise = torch.cat(recording.logits, 1)  # (n, steps, actions)
    assert observations.shape == (3, len(recording.logits), 4)
    assert actions.shape == rewards.shape == alive.shape == (len(recording.logits), 3)
    with torch.no_grad():
        whole, _values, _state = model(observations)
    torch.testing.assert_close(whole, stepwise, rtol=0, atol=1e-10)


def _odd_part(model, x):
    """Mean |d(x) - d(-x)| / 2 of the action preference d = logit(right) - logit(left) after
    one step: the part of the policy that tells a state from its mirror image."""
    with torch.no_grad():
        plus, minus = model(x)[0], model(-x)[0]
    pref = lambda logits: logits[..., 1] - logits[..., 0]  # noqa: E731
    return float((pref(plus) - pref(minus)).abs().mean() / 2)


def test_the_cartpole_policies_of_the_suites_tell_a_state_from_its_mirror_image():
    """CartPole is mirror-symmetric: a policy must push right when the pole leans right and
    left in the mirrored state. The suites' cartpole entries have a policy whose preference
    has an odd part at initialisation (as the LSTM's); QLSTM's chen2020 design at its
    0.01 N(0, 1) initialisation has almost none (an even function of the observation), which
    is why the suites run the chen2022 design on cartpole."""
    from experiments.suites import SUITES

    x = torch.randn(64, 1, 4, generator=torch.Generator().manual_seed(0),
                    dtype=torch.float64) * 0.5
    entries = [e for e in SUITES["full"].entries if e.tasks == ("cartpole",)]
    assert {e.model for e in entries} >= {"qlstm", "qfwp"}
    for entry in entries:
        model = build_model(entry.model, 4, 2, "control", hidden_size=entry.hidden_size,
                            seed=0, options=entry.options).double()
        assert _odd_part(model, x) > 5e-3, entry
    chen2020 = build_model("qlstm", 4, 2, "control", hidden_size=3, seed=0).double()
    assert _odd_part(chen2020, x) < 1e-3


def test_the_value_baseline_does_not_train_the_body():
    """The value loss reaches the value head only; the policy loss reaches the body."""
    model = build_model("qfwp", 4, 2, "control", hidden_size=8, seed=0).double()
    x = torch.randn(3, 5, 4, dtype=torch.float64)
    logits, values, _ = model(x)
    values.pow(2).sum().backward(retain_graph=True)
    assert all(p.grad is None or not p.grad.any() for p in model.body.parameters())
    assert model.value.weight.grad.abs().sum() > 0
    logits[..., 0].sum().backward()
    assert all(p.grad.abs().sum() > 0 for p in model.body.parameters())


def test_a_short_run_of_the_quantum_fast_weight_policy_learns():
    """QFWP (decay 0.5) over 30 updates of 8 episodes at lr 0.02: the mean training return
    of the last 10 updates is at least 3x that of the first 10 (measured: 5.9-7.8x on seeds
    0-2; a random policy scores 22)."""
    task = tasks.load("cartpole")
    task.info["eval_episodes"] = 2  # the score is not under test here
    model = build_model("qfwp", 4, 2, "control", hidden_size=8, seed=0, options={"decay": 0.5})
    config = TrainConfig(epochs=30, batch_size=8, lr=0.02, dtype="float64")
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # as the runner trains: seconds, not tens of seconds
    try:
        history = fit(model, task, config, seed=0, quiet=True).history
    finally:
        torch.set_num_threads(threads)
    returns = [h["train_return"] for h in history]
    first, last = sum(returns[:10]) / 10, sum(returns[-10:]) / 10
    assert first < 40 and last > 3 * first
