"""Bench row of the quantum-neuron RNN for ``qrnn bench quantum`` (:func:`bench_rows`).

Workload: one training epoch of the 12-qubit cell (11 register qubits + 1 ancilla, order 1,
one stage) on the 0-vs-1 pixel sequences of scikit-learn's digits (64 steps of 1 pixel; the
training split of ``digits_pixels`` with ``classes=0,1``: 70/30 test split, then 10 % of the
rest for validation), batch 64, float32, Adam, cross-entropy of a linear head on the last
step's readout distribution.

- ``fast``: the whole epoch is run and timed (warm; median of interleaved repeats).
- ``default.qubit``: far too slow for an epoch, so one sample's forward + backward through a
  tape of the first ``t`` steps (postselected mid-circuit measurements, tree traversal) is
  timed at two lengths, the per-step cost is fitted as a line and extrapolated to 64 steps
  and to every training sample. That tape yields the last step's output only (what the
  classification head reads); the body's per-step outputs would need one tape per step,
  ``(T + 1) / 2`` times more work, so the ratio against ``default.qubit`` is a lower bound.
"""

from __future__ import annotations

import math
import statistics
import time

import torch

from qrnn.neuron_pl import run_exact
from qrnn.neuron_rnn import QuantumNeuronConfig, QuantumNeuronRNN
from qrnn.neuron_rnn_pl import step_gates

N_QUBITS, STEPS, BATCH = 12, 64, 64
TARGET_EPOCH_S = 60.0
TARGET_RATIO = 20.0


def zero_one_train_split() -> torch.Tensor:
    """``(N, 64, 1)`` float32 pixel sequences of the digits 0 and 1, as many as the training
    split of ``digits_pixels`` with ``classes=0,1`` holds (the first ones, in dataset order)."""
    from sklearn.datasets import load_digits

    data = load_digits()
    keep = (data.target == 0) | (data.target == 1)
    images = torch.as_tensor(data.images[keep] / 16.0, dtype=torch.float32)
    total = images.shape[0]
    rest = total - math.ceil(0.3 * total)
    n_train = rest - math.ceil(0.1 * rest)
    return images[:n_train].reshape(n_train, STEPS, 1), torch.as_tensor(
        data.target[keep][:n_train], dtype=torch.int64)


def _fast_epoch(x: torch.Tensor, y: torch.Tensor):
    cell = QuantumNeuronRNN(1, QuantumNeuronConfig(n_qubits=N_QUBITS), seed=0)
    head = torch.nn.Linear(cell.output_size, 2)
    params = list(cell.parameters()) + list(head.parameters())
    opt = torch.optim.Adam(params, lr=0.01)

    def epoch():
        for lo in range(0, x.shape[0], BATCH):
            out, _ = cell(x[lo : lo + BATCH])
            loss = torch.nn.functional.cross_entropy(head(out[:, -1]), y[lo : lo + BATCH])
            opt.zero_grad()
            loss.backward()
            opt.step()

    return epoch


def _default_qubit_sample(x: torch.Tensor, steps: int):
    cell = QuantumNeuronRNN(1, QuantumNeuronConfig(n_qubits=N_QUBITS), seed=0)

    def sample():
        angles = cell.angles(x[:1, :steps])
        ops = []
        for t in range(steps):
            ops += step_gates(cell, angles[0, t])
        probs, _ = run_exact(ops, (0,))
        cell.zero_grad()
        probs[..., 1].sum().backward()

    return sample


def bench_rows(quick: bool = False) -> tuple[list[dict], list[str]]:
    """``(rows, summary lines)`` of the quantum-neuron epoch bench (module docstring);
    ``quick`` times one repeat and shorter default.qubit tapes."""
    x, y = zero_one_train_split()
    n_train = x.shape[0]
    lengths = (2, 4) if quick else (4, 8)
    fns = {"fast": _fast_epoch(x, y)}
    fns.update({f"dq{t}": _default_qubit_sample(x, t) for t in lengths})
    times = {name: [] for name in fns}
    for _ in range(1 if quick else 3):
        for name, fn in fns.items():
            fn()  # warm
            start = time.perf_counter()
            fn()
            times[name].append(time.perf_counter() - start)
    med = {name: statistics.median(ts) for name, ts in times.items()}
    (t1, t2), (s1, s2) = lengths, (med[f"dq{lengths[0]}"], med[f"dq{lengths[1]}"])
    per_step = (s2 - s1) / (t2 - t1)
    sample = s1 + per_step * (STEPS - t1)
    dq_epoch = sample * n_train
    fast = med["fast"]
    common = {"workload": "qneuron_epoch", "n_qubits": N_QUBITS, "steps": STEPS,
              "batch": BATCH, "train_samples": n_train}
    rows = [
        {**common, "backend": "fast", "seconds": round(fast, 3), "measured": "whole epoch"},
        {**common, "backend": "default.qubit", "seconds": round(dq_epoch, 1),
         "measured": f"1 sample at {t1} and {t2} steps ({s1:.2f} s, {s2:.2f} s), "
                     f"extrapolated linearly to {STEPS} steps x {n_train} samples; "
                     "last-step output only (lower bound)"},
    ]
    ratio = dq_epoch / fast
    summary = [
        f"quantum-neuron RNN, {N_QUBITS} qubits, one epoch on digits 0/1 ({n_train} sequences "
        f"of {STEPS} pixels, batch {BATCH}): fast {fast:.1f} s; default.qubit >= "
        f"{dq_epoch / 3600:.1f} h (extrapolated from one sample at {t1} and {t2} steps) -> "
        f">= {ratio:.0f}x",
        f"target epoch < {TARGET_EPOCH_S:.0f} s on the fast path: "
        f"{'met' if fast < TARGET_EPOCH_S else 'NOT met'}; target >= {TARGET_RATIO:.0f}x "
        f"default.qubit: {'met' if ratio >= TARGET_RATIO else 'NOT met'}",
    ]
    return rows, summary


__all__ = ["bench_rows", "zero_one_train_split"]
