"""Policy-gradient training of recurrent policies on gymnasium environments.

REINFORCE with a learned baseline (the value head of
:class:`experiments.models.SequenceModel`, fitted to the episode's discounted returns
normalised to zero mean and unit deviation): one "epoch" is one training episode; the
policy runs one step at a time, carrying its recurrent state. The score is the mean return of
``eval_episodes`` greedy episodes with their own seeds.
"""

from __future__ import annotations

import statistics
import time

import torch
import torch.nn.functional as F

from experiments.tasks import TaskData

GAMMA = 0.99
ENTROPY = 0.01


def _episode(model, env, seed: int, greedy: bool, gen: torch.Generator | None, dtype,
             max_steps: int):
    obs, _ = env.reset(seed=seed)
    state = None
    log_probs, values, entropies, rewards = [], [], [], []
    for _ in range(max_steps):
        x = torch.as_tensor(obs, dtype=dtype).view(1, 1, -1)
        logits, value, state = model(x, state=state)
        logits = logits[0, -1]
        if greedy:
            action = int(logits.argmax())
        else:
            probs = F.softmax(logits, -1)
            action = int(torch.multinomial(probs, 1, generator=gen))
            log_p = F.log_softmax(logits, -1)
            log_probs.append(log_p[action])
            entropies.append(-(probs * log_p).sum())
            values.append(value[0, -1])
        obs, reward, terminated, truncated, _ = env.step(action)
        rewards.append(float(reward))
        if terminated or truncated:
            break
    return log_probs, values, entropies, rewards


def evaluate_policy(model, task: TaskData, seed: int, episodes: int, dtype=torch.float32
                    ) -> float:
    """Mean return of ``episodes`` greedy episodes (environment seeds from ``seed``)."""
    env = task.make_env()
    try:
        with torch.no_grad():
            returns = [sum(_episode(model, env, 10_000 + seed * 1000 + k, True, None, dtype,
                                    task.info["max_steps"])[3]) for k in range(episodes)]
    finally:
        env.close()
    return statistics.fmean(returns)


def fit_policy(model, task: TaskData, config, seed: int = 0, quiet: bool = False):
    """Train ``model`` on a control task for ``config.epochs`` episodes; return a FitResult
    with ``mean_return`` over the task's evaluation episodes."""
    from experiments.train import DTYPES, FitResult, make_optimizer, progress_bar

    dtype = DTYPES[config.dtype]
    model.to(dtype)
    optimizer = make_optimizer(config, model.parameters())
    gen = torch.Generator().manual_seed(seed)
    env = task.make_env()
    history, times = [], []
    bar = progress_bar(config.epochs, task.name, quiet)
    try:
        for episode in range(1, config.epochs + 1):
            start = time.perf_counter()
            log_probs, values, entropies, rewards = _episode(
                model, env, seed * 100_000 + episode, False, gen, dtype, task.info["max_steps"])
            returns, g = [], 0.0
            for r in reversed(rewards):
                g = r + GAMMA * g
                returns.append(g)
            returns = torch.tensor(returns[::-1], dtype=dtype)
            if len(rewards) > 1:  # normalised returns: the value head learns a unit scale
                returns = (returns - returns.mean()) / (returns.std() + 1e-8)
            values_t = torch.stack(values)
            advantage = returns - values_t.detach()
            loss = (-(torch.stack(log_probs) * advantage).mean()
                    + 0.5 * F.mse_loss(values_t, returns)
                    - ENTROPY * torch.stack(entropies).mean())
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            if config.clip_grad > 0:
                torch.nn.utils.clip_grad_norm_(model.parameters(), config.clip_grad)
            optimizer.step()
            times.append(time.perf_counter() - start)
            history.append({"epoch": episode, "train_return": sum(rewards),
                            "seconds": times[-1]})
            bar.update(1)
            bar.set_postfix(ret=sum(rewards))
    finally:
        bar.close()
        env.close()
    score = evaluate_policy(model, task, seed, task.info["eval_episodes"], dtype)
    return FitResult({"mean_return": score}, history, len(history), len(history),
                     statistics.fmean(times))
