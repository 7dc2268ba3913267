"""Benchmark rows: the analog LSTM over whole sequences against the float ``torch.nn.LSTM``.

The realistic analog LSTM (:class:`analog.cells.AnalogLSTM` on
:meth:`CrossbarConfig.rram_realistic` with ``adc_kind="nl_ramp"``, 5-bit nonlinear ramp ADCs as
gate activations, read noise every step) at keyword-spotting size (13 inputs, hidden 64,
batch 64, 60 frames) and at (256 inputs, hidden 256, batch 16, 256 steps), holding the float
LSTM's weights, on its default path (the compiled time loop of :mod:`analog.fused_cell`); at
keyword-spotting size (not with ``quick``) also on ``path="reference"`` (the per-step torch
code). Two modes:
inference (eval, ``torch.no_grad``) and a hardware-aware training step (train mode: fresh
programming, forward and straight-through backward of the mean squared output). One torch
thread, warm interleaved medians. Targets: inference within :data:`TARGET_INFERENCE` x and a
training step within :data:`TARGET_TRAIN` x of the float LSTM. IBM aihwkit's analog LSTM is
timed by ``scripts/aihwkit_bench/run.sh lstm`` (its own environment; never a dependency).
"""

from __future__ import annotations

import dataclasses
import statistics
import time

import torch
from torch import nn

from analog import fused_cell_kernel
from analog.cells import AnalogLSTM
from analog.config import CrossbarConfig

TARGET_INFERENCE, TARGET_TRAIN = 3.0, 4.0
SIZES = (("kws", 13, 64, 64, 60), ("large", 256, 256, 16, 256))
NL_ADC = dataclasses.replace(CrossbarConfig.rram_realistic(), adc_kind="nl_ramp", adc_bits=5)


def _call(module: nn.Module, x: torch.Tensor, train: bool) -> None:
    module.train(train)
    if train:
        module.zero_grad(set_to_none=True)
        module(x)[0].square().mean().backward()
    else:
        with torch.no_grad():
            module(x)


def _time(modules: dict[str, nn.Module], x: torch.Tensor, train: bool, repeats: int
          ) -> dict[str, list[float]]:
    """Seconds per call of each module, ``repeats`` interleaved rounds after two warm-up
    rounds."""
    times: dict[str, list[float]] = {name: [] for name in modules}
    for rnd in range(repeats + 2):
        for name, module in modules.items():
            start = time.perf_counter()
            _call(module, x, train)
            if rnd >= 2:
                times[name].append(time.perf_counter() - start)
    return times


def run(quick: bool = False) -> dict:
    """Rows (one per size, mode and variant: median, 10th/90th percentile ms, ratio to float,
    which path ran, relative output error against float) and summary lines."""
    repeats = 5 if quick else 15
    threads = torch.get_num_threads()
    path = "compiled" if fused_cell_kernel.unavailable_reason(torch.float32) is None \
        else "reference"
    rows, summary = [], []
    torch.set_num_threads(1)
    try:
        for label, inputs, hidden, batch, steps in SIZES:
            gen = torch.Generator().manual_seed(0)
            lstm = nn.LSTM(inputs, hidden, batch_first=True)
            analog = AnalogLSTM.from_torch(lstm, NL_ADC, seed=0)
            x = torch.randn(batch, steps, inputs, generator=gen)
            with torch.no_grad():
                y_float = lstm.eval()(x)[0]
                error = float((analog.eval()(x)[0] - y_float).norm() / y_float.norm())
            modules = {"float nn.LSTM": lstm, "analog NL-ADC 5-bit": analog}
            if label == "kws" and not quick:
                reference = AnalogLSTM.from_torch(lstm, NL_ADC, seed=0)
                reference.path = "reference"
                modules["analog NL-ADC 5-bit, torch reference"] = reference
            for mode, target in (("inference", TARGET_INFERENCE), ("train step", TARGET_TRAIN)):
                times = _time(modules, x, mode == "train step", repeats)
                base = statistics.median(times["float nn.LSTM"])
                for name, samples in times.items():
                    q = statistics.quantiles(samples, n=10)
                    rows.append({
                        "layer": f"analog LSTM sequence, {label}", "inputs": inputs,
                        "hidden": hidden, "batch": batch, "steps": steps, "mode": mode,
                        "threads": 1, "variant": name,
                        "median_ms": statistics.median(samples) * 1e3, "p10_ms": q[0] * 1e3,
                        "p90_ms": q[-1] * 1e3,
                        "ratio_to_float": statistics.median(samples) / base,
                        "path": "torch" if name.startswith("float") or "reference" in name
                        else path,
                        "rel_error_vs_float": 0.0 if name.startswith("float") else error})
                ratio = statistics.median(times["analog NL-ADC 5-bit"]) / base
                met = "met" if ratio <= target else "NOT met"
                summary.append(
                    f"analog LSTM {label} ({inputs} in, H {hidden}, B {batch}, T {steps}) "
                    f"{mode}: NL-ADC/float = {ratio:.2f}x (target <= {target:.0f}x: {met}); "
                    f"float {base * 1e3:.2f} ms; {path} path")
    finally:
        torch.set_num_threads(threads)
    return {"rows": rows, "summary": summary}
