"""Policy-gradient training of recurrent policies on gymnasium environments.

REINFORCE with a learned baseline (the value head of
:class:`experiments.heads.SequenceModel`): one "epoch" is one update from ``batch_size``
episodes run side by side. The rollout runs without gradients, the policy stepping all
episodes at once (one model call per time step with a batch of observations, each episode
carrying its own recurrent state; a finished episode's row keeps stepping but is masked out).
The update then runs the model once on the recorded observation sequences ``(batch, steps,
obs)``: the same recurrence on the same inputs, so the same action probabilities, with one
circuit build and one backward pass per update instead of one per step. Returns are
discounted, normalised over the batch's steps to zero mean and unit deviation, and the value
head is fitted to them; the loss adds an entropy bonus (``ENTROPY``). The score is the mean
return of ``eval_episodes`` greedy episodes with their own seeds, run side by side the same
way.
"""

from __future__ import annotations

import statistics
import time

import numpy as np
import torch
import torch.nn.functional as F

from experiments.tasks import TaskData

GAMMA = 0.99
ENTROPY = 0.01
EVAL_BATCH = 100
"""Greedy evaluation episodes stepped side by side (a larger count runs in several rounds)."""


def _rollout(model, envs, seeds: list[int], greedy: bool, gen: torch.Generator | None, dtype,
             max_steps: int):
    """Run one episode per environment in lockstep, without gradients (one model call per
    step with the batch of observations, each episode carrying its own recurrent state).
    Returns ``(observations (n, steps, obs), actions (steps, n), rewards (steps, n), alive
    (steps, n))``; ``alive`` marks the steps each episode really took (a finished episode's
    row keeps its last observation and is masked out)."""
    obs = [env.reset(seed=s)[0] for env, s in zip(envs, seeds, strict=True)]
    n = len(envs)
    done = [False] * n
    state = None
    observations, taken, rewards, alive = [], [], [], []
    with torch.no_grad():
        for _ in range(max_steps):
            x = torch.as_tensor(np.stack(obs), dtype=dtype).view(n, 1, -1)
            observations.append(x)
            logits, _value, state = model(x, state=state)
            logits = logits[:, -1]
            if greedy:
                actions = logits.argmax(-1)
            else:
                actions = torch.multinomial(F.softmax(logits, -1), 1, generator=gen)[:, 0]
            taken.append(actions)
            alive.append(torch.tensor([not d for d in done]))
            step_rewards = []
            for k, env in enumerate(envs):
                if done[k]:
                    step_rewards.append(0.0)
                    continue
                obs[k], reward, terminated, truncated, _ = env.step(int(actions[k]))
                step_rewards.append(float(reward))
                done[k] = terminated or truncated
            rewards.append(torch.tensor(step_rewards, dtype=dtype))
            if all(done):
                break
    return (torch.cat(observations, 1), torch.stack(taken), torch.stack(rewards),
            torch.stack(alive))


def _make_envs(task: TaskData, n: int) -> list:
    return [task.make_env() for _ in range(n)]


def evaluate_policy(model, task: TaskData, seed: int, episodes: int, dtype=torch.float32
                    ) -> float:
    """Mean return of ``episodes`` greedy episodes (environment seeds from ``seed``)."""
    returns = []
    with torch.no_grad():
        for lo in range(0, episodes, EVAL_BATCH):
            count = min(EVAL_BATCH, episodes - lo)
            envs = _make_envs(task, count)
            try:
                seeds = [10_000 + seed * 1000 + lo + k for k in range(count)]
                *_, rewards, _alive = _rollout(model, envs, seeds, True, None, dtype,
                                               task.info["max_steps"])
            finally:
                for env in envs:
                    env.close()
            returns += rewards.sum(0).tolist()
    return statistics.fmean(returns)


def discounted_returns(rewards: torch.Tensor, gamma: float = GAMMA) -> torch.Tensor:
    """``G_t = r_t + gamma G_{t+1}`` along the first (time) axis of ``rewards (steps, n)``."""
    out = torch.zeros_like(rewards)
    g = torch.zeros_like(rewards[0])
    for t in range(rewards.shape[0] - 1, -1, -1):
        g = rewards[t] + gamma * g
        out[t] = g
    return out


def fit_policy(model, task: TaskData, config, seed: int = 0, quiet: bool = False):
    """Train ``model`` on a control task for ``config.epochs`` updates of ``config.batch_size``
    episodes each; return a FitResult with ``mean_return`` over the task's evaluation
    episodes (``history``: per update the mean training return)."""
    from experiments.train import (
        DTYPES,
        FitResult,
        make_optimizer,
        optimizer_step,
        progress_bar,
    )

    dtype = DTYPES[config.dtype]
    model.to(dtype)
    optimizer = make_optimizer(config, model.parameters())
    gen = torch.Generator().manual_seed(seed)
    envs = _make_envs(task, config.batch_size)
    history, times = [], []
    bar = progress_bar(config.epochs, task.name, quiet)
    try:
        for update in range(1, config.epochs + 1):
            start = time.perf_counter()
            seeds = [seed * 100_000 + (update - 1) * config.batch_size + k
                     for k in range(config.batch_size)]
            observations, actions, rewards, alive = _rollout(
                model, envs, seeds, False, gen, dtype, task.info["max_steps"])
            # the policy's outputs again, with gradients, from one call on the whole
            # observation sequences: the same values the rollout acted on (the recurrence
            # sees the same inputs), with one circuit build per update instead of per step
            logits, values, _ = model(observations)
            log_p = F.log_softmax(logits, -1).transpose(0, 1)  # (steps, n, actions)
            log_probs = log_p.gather(2, actions[..., None])[..., 0]
            entropies = -(log_p.exp() * log_p).sum(-1)
            values = values.transpose(0, 1)
            mask = alive.to(dtype)
            returns = discounted_returns(rewards)
            steps = mask.sum()
            if steps > 1:  # normalised returns: the value head learns a unit scale
                mean = (returns * mask).sum() / steps
                std = (((returns - mean) * mask).pow(2).sum() / (steps - 1)).sqrt()
                returns = (returns - mean) / (std + 1e-8)
            advantage = returns - values.detach()
            loss = (-(log_probs * advantage * mask).sum()
                    + 0.5 * ((values - returns).pow(2) * mask).sum()
                    - ENTROPY * (entropies * mask).sum()) / steps
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer_step(optimizer, model.parameters(), config.clip_grad)
            times.append(time.perf_counter() - start)
            episode_returns = rewards.sum(0)
            history.append({"epoch": update, "train_return": float(episode_returns.mean()),
                            "seconds": times[-1]})
            bar.update(1)
            bar.set_postfix(ret=float(episode_returns.mean()))
    finally:
        bar.close()
        for env in envs:
            env.close()
    score = evaluate_policy(model, task, seed, task.info["eval_episodes"], dtype)
    return FitResult({"mean_return": score}, history, len(history), len(history),
                     statistics.fmean(times))
