"""Benchmark of the classical baseline: fused kernels vs ``torch.nn`` vs the reference loop.

``run(quick=False)`` times LSTM, GRU and Elman layers at ``(B, H)`` in ``SHAPES``, ``T = 256``
steps, input size ``I = H``, forward (under ``torch.no_grad``) and forward+backward (gradients
of ``y.sum()`` w.r.t. ``x`` and all weights), with 1 and 2 CPU threads. Each configuration
runs every implementation in turn, in a shuffled order per round, and reports the median of
the rounds (the machine may be shared: interleaving spreads the noise over all of them).

Units: ``us_per_step`` is microseconds per time step (one call / ``T``); ``gflops`` counts the
matmuls only: ``2 B G H (I + H)`` flops per step forward, three times that for
forward+backward. On a GPU the same command adds rows comparing the Triton kernels with cuDNN
(``torch.nn`` on CUDA); GPU figures exist only when run on a GPU.

``engine`` says what ran: for ``fused`` the C loop (``cpu``), Triton, or, for a large float32
LSTM forward with no backward, torch's oneDNN LSTM (``onednn``; :func:`kernels.fused.lstm_engine`).

Also timed, without a target: the minGRU/minLSTM scan (``cell="scan"``, ``a, b (B, T, H)``,
``2 B H`` flops per step), fused kernels vs the torch log-space scan (``backend="torch"``).

Targets (CPU, checked in ``summary``): the fused LSTM at least 0.9x ``torch.nn.LSTM`` speed
at every shape; the fused GRU and Elman at least 4x faster than ``torch.nn.GRU``/``RNN`` at
``(1, 64)`` and no slower (ratio >= 1) at the larger shapes.
"""

from __future__ import annotations

import random
import statistics
import time

import torch

from kernels import fused, reference
from kernels.scan import linear_recurrence_scan

SHAPES = ((1, 64), (16, 256), (16, 768))
STEPS = 256
REFERENCE_ROUNDS = 3
CELLS = {"lstm": (torch.nn.LSTM, 4), "gru": (torch.nn.GRU, 3), "elman": (torch.nn.RNN, 1)}


def _wrap(forward, leaves):
    """``fn(grad)``: ``forward()`` under ``no_grad``, or with the gradients of its sum."""
    def call(grad: bool):
        if not grad:
            with torch.no_grad():
                forward()
            return
        torch.autograd.grad(forward().sum(), leaves)
    return call


def _scan_callables(batch: int, hidden: int, steps: int, device: str):
    """The minGRU/minLSTM scan: fused kernels vs the torch log-space scan (``backend="torch"``)."""
    gen = torch.Generator().manual_seed(0)
    log_a = (-torch.rand(batch, steps, hidden, generator=gen) - 0.01).to(device)
    log_b = (0.3 * torch.randn(batch, steps, hidden, generator=gen)).to(device)
    h0 = torch.randn(batch, hidden, generator=gen).to(device)
    leaves = [log_a.requires_grad_(), log_b.requires_grad_()]
    return {"torch": _wrap(lambda: linear_recurrence_scan(log_a, log_b, h0), leaves),
            "fused": _wrap(lambda: fused.linear_recurrence_scan(log_a, log_b, h0), leaves)}


def _callables(cell: str, batch: int, hidden: int, steps: int, device: str, with_reference: bool):
    """``{impl: fn(grad: bool)}`` for one configuration, all on the same weights."""
    if cell == "scan":
        return _scan_callables(batch, hidden, steps, device)
    cls, _ = CELLS[cell]
    gen = torch.Generator().manual_seed(0)
    net = cls(hidden, hidden, batch_first=True).to(device)
    x = torch.randn(batch, steps, hidden, generator=gen).to(device).requires_grad_()
    states = [torch.zeros(batch, hidden, device=device) for _ in range(2 if cell == "lstm" else 1)]
    weights = list(net.parameters())
    leaves = [x, *weights]

    def wrap(forward):
        return _wrap(forward, leaves)

    nn_state = tuple(s[None] for s in states) if cell == "lstm" else states[0][None]
    impls = {
        "torch.nn": wrap(lambda: net(x, nn_state)[0]),
        "fused": wrap(lambda: getattr(fused, f"{cell}_layer")(x, *states, *weights)[0]),
    }
    if with_reference:
        impls["reference"] = wrap(
            lambda: getattr(reference, f"{cell}_layer")(x, *states, *weights)[0])
    return impls


def _time(fn, grad: bool, device: str) -> float:
    if device == "cuda":
        torch.cuda.synchronize()
    start = time.perf_counter()
    fn(grad)
    if device == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def _fused_engine(cell: str, batch: int, hidden: int, grad: bool, device: str) -> str:
    """What ``fused`` ran: the C loop, Triton, or (LSTM inference) torch's oneDNN LSTM."""
    if cell != "lstm":
        return "triton" if device == "cuda" else "cpu"
    x = torch.empty(batch, 1, hidden, device=device)
    return fused.lstm_engine(x, hidden, 1, grad)


def _measure(cell, batch, hidden, steps, grad, threads, rounds, device, with_reference
             ) -> list[dict]:
    """Median times of the implementations, interleaved in a shuffled order per round; the
    reference loop (10-50x slower, so insensitive to noise) joins only the first 3 rounds."""
    impls = _callables(cell, batch, hidden, steps, device, with_reference)
    times: dict[str, list[float]] = {name: [] for name in impls}
    for name in impls:  # warm-up (and the C library's compile on first use)
        if name != "reference":
            impls[name](grad)
    for r in range(rounds):
        order = [name for name in impls if name != "reference" or r < REFERENCE_ROUNDS]
        random.shuffle(order)
        for name in order:
            times[name].append(_time(impls[name], grad, device))
    per_step = 2 * batch * hidden if cell == "scan" else 4 * batch * CELLS[cell][1] * hidden ** 2
    flops = per_step * steps * (3 if grad else 1)
    names = {"torch.nn": "cudnn", "fused": "triton"} if device == "cuda" else {}
    engines = {"torch.nn": "torch", "reference": "reference",
               "fused": _fused_engine(cell, batch, hidden, grad, device)}
    rows = []
    for name, ts in times.items():
        med = statistics.median(ts)
        rows.append({"cell": cell, "batch": batch, "hidden": hidden, "steps": steps,
                     "inputs": hidden, "mode": "forward+backward" if grad else "forward",
                     "threads": threads, "device": device, "impl": names.get(name, name),
                     "engine": engines.get(name, name),
                     "us_per_step": round(med / steps * 1e6, 3),
                     "gflops": round(flops / med / 1e9, 3), "rounds": len(ts)})
    return rows


def _ratios(rows: list[dict], fast: str, slow: str) -> dict[tuple, float]:
    """``t(slow) / t(fast)`` per (cell, batch, hidden, mode, threads)."""
    by = {}
    for r in rows:
        by[(r["cell"], r["batch"], r["hidden"], r["mode"], r["threads"], r["impl"])] = r
    out = {}
    for (cell, b, h, mode, thr, impl), r in by.items():
        if impl == fast and (cell, b, h, mode, thr, slow) in by:
            out[(cell, b, h, mode, thr)] = by[(cell, b, h, mode, thr, slow)]["us_per_step"] \
                / r["us_per_step"]
    return out


def _summary(rows: list[dict]) -> list[str]:
    lines = []
    ratios = _ratios(rows, "fused", "torch.nn")
    engine = {(r["cell"], r["batch"], r["hidden"], r["mode"], r["threads"]): r["engine"]
              for r in rows if r["impl"] == "fused"}
    for key, ratio in sorted(ratios.items()):
        cell, b, h, mode, thr = key
        if cell == "lstm":
            need = 0.9
        else:
            need = 4.0 if (b, h) == (1, 64) else 1.0
        met = "met" if ratio >= need else "NOT met"
        ran = " (fused handed it to oneDNN)" if engine.get(key) == "onednn" else ""
        lines.append(f"{cell} (B={b}, H={h}) {mode}, {thr} thread(s): fused is {ratio:.2f}x "
                     f"torch.nn speed{ran} (target >= {need:g}x: {met})")
    for key, ratio in sorted(_ratios(rows, "fused", "reference").items()):
        cell, b, h, mode, thr = key
        lines.append(f"{cell} (B={b}, H={h}) {mode}, {thr} thread(s): fused is {ratio:.1f}x "
                     "the reference loop")
    for key, ratio in sorted(_ratios(rows, "fused", "torch").items()):
        _, b, h, mode, thr = key
        lines.append(f"scan (B={b}, H={h}) {mode}, {thr} thread(s): fused is {ratio:.1f}x the "
                     "torch log-space scan (no target)")
    for key, ratio in sorted(_ratios(rows, "triton", "torch").items()):
        _, b, h, mode, _ = key
        lines.append(f"GPU scan (B={b}, H={h}) {mode}: Triton is {ratio:.1f}x the torch scan")
    for key, ratio in sorted(_ratios(rows, "triton", "cudnn").items()):
        cell, b, h, mode, _ = key
        lines.append(f"GPU {cell} (B={b}, H={h}) {mode}: Triton is {ratio:.2f}x cuDNN speed")
    judged = [line for line in lines if "(target >=" in line]
    met = sum("NOT met" not in line for line in judged)
    total = len(judged)
    lines.insert(0, f"CPU targets met: {met} of {total}")
    return lines


def run(quick: bool = False) -> dict:
    """Time every configuration (7 rounds). ``quick``: (1, 64) and (16, 256), one thread, 5
    rounds, the reference loop at (1, 64) only (about 40 s).

    Returns ``{"title", "rows", "summary"}`` (rows as documented in the module docstring).
    """
    shapes = SHAPES[:2] if quick else SHAPES
    thread_counts = (1,) if quick else (1, 2)
    rounds = 5 if quick else 7
    before = torch.get_num_threads()
    rows: list[dict] = []
    try:
        for threads in thread_counts:
            torch.set_num_threads(threads)
            for batch, hidden in shapes:
                for cell in (*CELLS, "scan"):
                    for grad in (False, True):
                        rows += _measure(cell, batch, hidden, STEPS, grad, threads, rounds,
                                         "cpu", not quick or (batch, hidden) == (1, 64))
        if torch.cuda.is_available():
            from kernels.triton_cells import fits

            for batch, hidden in shapes:
                for cell, gates in [*((c, g) for c, (_, g) in CELLS.items()), ("scan", 0)]:
                    if not fits(hidden, gates, torch.float32):
                        continue  # one dense head too large for the on-chip kernel
                    for grad in (False, True):
                        rows += _measure(cell, batch, hidden, STEPS, grad, 0, rounds, "cuda",
                                         False)
    finally:
        torch.set_num_threads(before)
    return {"title": f"Classical RNN layers, T={STEPS}, I=H: fused kernels vs torch.nn vs "
                     "reference loop (us per step, median of interleaved rounds)",
            "rows": rows, "summary": _summary(rows)}
