"""Benchmark: forward pass of analog layers against the float layer.

Two layers at batch 64: a 256 -> 1024 linear layer and an LSTM-sized layer (the combined
``[x, h]`` array of an LSTM with 128 inputs and 256 hidden units: 384 -> 4 * 256). Each
is timed as ``nn.Linear`` (float), as :class:`analog.layers.AnalogLinear` with
``CrossbarConfig.ideal()`` and with ``CrossbarConfig.rram_realistic()`` (eval mode,
programmed once, fresh read noise every call). Timings are medians of interleaved
repeats after a warm-up, under ``torch.no_grad``, with torch's default thread count and
again with one thread (the many small element-wise steps of the analog chain suffer
more than one matrix product when other processes share the cores). Target: the
realistic preset costs at most 3x the float layer. Each analog row also carries the
relative output error against float and the energy/latency/area bill of
:func:`analog.cost.layer_cost`. The sequence rows at the end (the analog LSTM with nonlinear
ramp ADCs over whole sequences, inference and training step) come from
:mod:`analog.bench_sequence`.
"""

from __future__ import annotations

import statistics
import time

import torch
from torch import nn

from analog import bench_sequence
from analog import readout as compiled_readout
from analog.config import CrossbarConfig
from analog.cost import layer_cost
from analog.layers import AnalogLinear

TARGET_RATIO = 3.0
LAYERS = (("linear 256->1024", 256, 1024), ("lstm [x,h] 128+256->4*256", 384, 1024))
BATCH = 64


def _time_interleaved(fns: dict, repeats: int, inner: int) -> dict[str, list[float]]:
    """Per-call seconds of each function, ``repeats`` rounds of ``inner`` calls each,
    the functions taking turns within every round."""
    times: dict[str, list[float]] = {name: [] for name in fns}
    for _ in range(repeats):
        for name, fn in fns.items():
            start = time.perf_counter()
            for _ in range(inner):
                fn()
            times[name].append((time.perf_counter() - start) / inner)
    return times


def _thread_settings() -> list[int]:
    """The default torch thread count, and 1 thread when that differs (a single thread is
    less disturbed by other processes on a shared machine)."""
    default = torch.get_num_threads()
    return [default] if default == 1 else [default, 1]


def run(quick: bool = False) -> dict:
    """Run the benchmark; ``quick`` uses fewer repeats (well under 60 s).

    Returns ``{"title", "rows", "summary"}``: one row per (layer, threads, variant) with
    the median, 10th and 90th percentile time per forward (ms), the ratio to float, the
    relative error against float and, for analog variants, the cost bill.
    """
    repeats, inner = (12, 3) if quick else (60, 5)
    configs = {"ideal": CrossbarConfig.ideal(), "rram_realistic": CrossbarConfig.rram_realistic()}
    rows: list[dict] = []
    summary: list[str] = []
    gen = torch.Generator().manual_seed(0)
    default_threads = torch.get_num_threads()
    for label, n_in, n_out in LAYERS:
        float_layer = nn.Linear(n_in, n_out)
        with torch.no_grad():
            float_layer.weight.copy_(torch.randn(n_out, n_in, generator=gen) / n_in**0.5)
            float_layer.bias.copy_(torch.randn(n_out, generator=gen) * 0.1)
        x = torch.rand(BATCH, n_in, generator=gen) * 2 - 1
        modules: dict[str, nn.Module] = {"float": float_layer.eval()}
        bills = {}
        for name, config in configs.items():
            modules[name] = AnalogLinear.from_linear(float_layer, config, seed=0).eval()
            bills[name] = layer_cost(n_in, n_out, BATCH, config,
                                     mean_conductance_us=modules[name].mean_conductance_us())
        fns = {name: (lambda m=m, x=x: m(x)) for name, m in modules.items()}
        with torch.no_grad():
            reference = float_layer(x)
            errors = {name: float((m(x) - reference).norm() / reference.norm())
                      for name, m in modules.items()}
            for threads in _thread_settings():
                torch.set_num_threads(threads)
                try:
                    _time_interleaved(fns, 3, inner)
                    times = _time_interleaved(fns, repeats, inner)
                finally:
                    torch.set_num_threads(default_threads)
                rows.extend(_rows(label, n_in, n_out, threads, times, errors, bills))
                medians = {name: statistics.median(t) for name, t in times.items()}
                ratio = medians["rram_realistic"] / medians["float"]
                met = "met" if ratio <= TARGET_RATIO else "NOT met"
                summary.append(
                    f"{label}, {threads} thread(s): realistic/float = {ratio:.2f}x (target <= "
                    f"{TARGET_RATIO:.0f}x: {met}); ideal/float = "
                    f"{medians['ideal'] / medians['float']:.2f}x; float "
                    f"{medians['float'] * 1e3:.3f} ms")
        bill = bills["rram_realistic"]
        summary.append(f"{label}: realistic relative error {errors['rram_realistic']:.3f}; "
                       f"bill {bill.energy_pj / 1e3:.1f} nJ, {bill.latency_ns / 1e3:.2f} us, "
                       f"{bill.area_mm2:.3f} mm^2, {bill.tops_per_w:.1f} TOPS/W, "
                       f"{bill.tops_per_mm2:.2f} TOPS/mm^2")
    summary.append("analog readout: " + (
        "fused C kernel (analog/adc.c)" if compiled_readout.available()
        else f"torch path ({compiled_readout.LIBRARY.error})"))
    sequences = bench_sequence.run(quick)
    return {"title": f"analog crossbar forward, batch {BATCH}: float vs ideal vs realistic; "
                     "analog LSTM sequences",
            "rows": rows + sequences["rows"], "summary": summary + sequences["summary"]}


def _rows(label, n_in, n_out, threads, times, errors, bills) -> list[dict]:
    float_median = statistics.median(times["float"])
    out = []
    for name, samples in times.items():
        q = statistics.quantiles(samples, n=10)
        row = {"layer": label, "in_features": n_in, "out_features": n_out, "batch": BATCH,
               "threads": threads, "variant": name,
               "median_ms": statistics.median(samples) * 1e3,
               "p10_ms": q[0] * 1e3, "p90_ms": q[-1] * 1e3,
               "ratio_to_float": statistics.median(samples) / float_median,
               "rel_error_vs_float": errors[name]}
        if name in bills:
            bill = bills[name].as_dict()
            row.update({f"cost_{k}": bill[k] for k in
                        ("energy_pj", "latency_ns", "area_mm2", "tops_per_w", "tops_per_mm2",
                         "array_reads", "adc_conversions", "dac_conversions")})
        out.append(row)
    return out
