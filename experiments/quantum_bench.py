"""``qrnn bench quantum``: the quantum engine's benchmark (:mod:`qrnn.bench`: blocks, QLSTM
step, model training steps, memory, quantum neuron) plus one whole training epoch of the quick
``damped_shm`` task per quantum model through the package's trainer, on the fast backend
against ``default.qubit``.

The epoch rows live here, not in :mod:`qrnn.bench`, because they need the tasks and the
trainer of :mod:`experiments`, which the model packages do not import.
"""

from __future__ import annotations

import statistics
import time

import torch

EPOCH_MODELS = ("qlstm", "qfwp")
EPOCH_TASK = "damped_shm"


def _epoch(model_name: str, backend: str, task) -> float:
    """Wall seconds of one training epoch (train pass + validation) of ``model_name`` on
    ``task`` (the quick ``damped_shm``) with the trainer settings ``qrnn train`` would use."""
    from experiments.models import build_model
    from experiments.runner import RunSpec
    from experiments.train import TrainConfig, fit

    spec = RunSpec(model_name, EPOCH_TASK, "quick", 0, backend=backend).resolved()
    model = build_model(model_name, task.input_size, task.output_size, task.kind,
                        hidden_size=spec.hidden_size, backend=backend, seed=0,
                        options=spec.options)
    config = TrainConfig(**{**spec.train, "epochs": 1, "patience": 0})
    start = time.perf_counter()
    fit(model, task, config, quiet=True)
    return time.perf_counter() - start


def epoch_rows(quick: bool) -> tuple[list[dict], list[str]]:
    """Interleaved runs of one epoch per model and backend: the fast backend's median of
    several, ``default.qubit`` once (``quick``) or twice; the task is generated once."""
    from experiments import tasks

    task = tasks.load(EPOCH_TASK, "quick", 0)
    rows, summary = [], []
    for name in EPOCH_MODELS:
        times: dict[str, list[float]] = {"fast": [], "default.qubit": []}
        _epoch(name, "fast", task)  # warm: compiled kernels
        for i in range(5 if quick else 9):
            times["fast"].append(_epoch(name, "fast", task))
            if i < (1 if quick else 2):
                times["default.qubit"].append(_epoch(name, "default.qubit", task))
        med = {b: statistics.median(t) for b, t in times.items()}
        for backend, sec in med.items():
            rows.append({"workload": f"{name}_epoch_{EPOCH_TASK}_quick", "backend": backend,
                         "ms": round(sec * 1e3, 3)})
        summary.append(f"{name} one epoch of quick {EPOCH_TASK} (trainer defaults): fast "
                       f"{med['fast'] * 1e3:.0f} ms, default.qubit {med['default.qubit']:.2f} s "
                       f"-> {med['default.qubit'] / med['fast']:.0f}x")
    return rows, summary


def run(quick: bool = False, threads: int | None = 1) -> dict:
    """:func:`qrnn.bench.run` plus the epoch rows (``threads`` torch threads, restored)."""
    from qrnn import bench

    result = bench.run(quick=quick, threads=threads)
    previous = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        rows, summary = epoch_rows(quick)
    finally:
        torch.set_num_threads(previous)
    result["rows"] += rows
    result["summary"] += summary
    return result
