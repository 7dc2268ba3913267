"""Time aihwkit's pure-torch inference tile next to float and this repo's analog preset.

Runs inside the virtual environment built by ``run.sh`` (aihwkit 1.1.0, torch 2.14.1);
the repository is on PYTHONPATH so ``analog`` is imported from the working tree. Layer:
256 -> 1024, batch 64, forward only, eval mode, no autograd. Prints medians of
interleaved repeats (ms) and ratios to float. aihwkit's C++ tile
(``InferenceRPUConfig``) is not used: it crashed on this kind of machine.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch
from aihwkit.nn import AnalogLinear as AihwkitLinear
from aihwkit.simulator.configs import TorchInferenceRPUConfig

from analog import AnalogLinear, CrossbarConfig


def measure(variants: dict, x: torch.Tensor, repeats: int) -> list[dict]:
    """Median forward time (ms) of every variant, interleaved repeats after a warm-up."""
    times: dict[str, list[float]] = {name: [] for name in variants}
    with torch.no_grad():
        for module in variants.values():
            for _ in range(5):
                module(x)
        for _ in range(repeats):
            for name, module in variants.items():
                start = time.perf_counter()
                module(x)
                times[name].append(time.perf_counter() - start)
    base = statistics.median(times["float"])
    return [{"variant": name, "threads": torch.get_num_threads(),
             "median_ms": statistics.median(t) * 1e3,
             "ratio_to_float": statistics.median(t) / base} for name, t in times.items()]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=200)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.manual_seed(0)
    x = torch.randn(64, 256)
    float_layer = torch.nn.Linear(256, 1024).eval()
    aihwkit_layer = AihwkitLinear(256, 1024, bias=True,
                                  rpu_config=TorchInferenceRPUConfig()).eval()
    aihwkit_layer.set_weights(float_layer.weight.detach(), float_layer.bias.detach())
    aihwkit_layer.program_analog_weights()
    ours = AnalogLinear.from_linear(float_layer, CrossbarConfig.rram_realistic(), seed=0).eval()
    variants = {"float": float_layer, "aihwkit_torch_inference": aihwkit_layer,
                "analog_rram_realistic": ours}
    rows = []
    default_threads = torch.get_num_threads()
    for threads in sorted({default_threads, 1}, reverse=True):
        torch.set_num_threads(threads)
        rows += measure(variants, x, args.repeats)
    torch.set_num_threads(default_threads)
    if args.json:
        print(json.dumps({"torch": torch.__version__, "rows": rows}, indent=1))
        return
    print(f"torch {torch.__version__}, 256->1024, batch 64, {args.repeats} interleaved repeats")
    for row in rows:
        print(f"{row['variant']:<26} {row['threads']} thread(s) {row['median_ms']:8.3f} ms "
              f"{row['ratio_to_float']:6.2f}x")


if __name__ == "__main__":
    main()
