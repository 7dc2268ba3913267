"""Time aihwkit's analog LSTM next to a float nn.LSTM and this repo's fused analog LSTM.

Runs inside the virtual environment built by ``run.sh`` (aihwkit 1.1.0); the repository is on
PYTHONPATH so ``analog`` is imported from the working tree. Variants, all at one torch thread,
warm interleaved medians:

- ``float``: ``torch.nn.LSTM``;
- ``aihwkit``: ``AnalogRNN(AnalogLSTMCell)`` with ``TorchInferenceRPUConfig()`` (its pure-torch
  tile; the C++ tile fails to build here), one analog tile per gate matrix, float activations;
- ``aihwkit_combined``: the same with ``AnalogLSTMCellCombinedWeight`` (one [x, h] tile);
- ``qrnn_nl_adc``: :class:`analog.cells.AnalogLSTM` on the realistic RRAM preset with 5-bit
  nonlinear ramp ADCs as gate activations (``adc_kind="nl_ramp"``), on its default path (the
  compiled time loop of :mod:`analog.fused_cell`).

Sizes: keyword spotting (13 inputs, hidden 64, batch 64, 60 frames) and (256 inputs, hidden
256, batch 16, 256 steps). Modes: inference (eval, no autograd) and a hardware-aware
training step (train mode, forward + backward of the mean squared output).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import statistics
import time

import torch
from aihwkit.nn import AnalogRNN
from aihwkit.nn.modules.rnn.cells import AnalogLSTMCell, AnalogLSTMCellCombinedWeight
from aihwkit.simulator.configs import TorchInferenceRPUConfig

from analog.cells import AnalogLSTM
from analog.config import CrossbarConfig

SIZES = {"kws": (13, 64, 64, 60), "large": (256, 256, 16, 256)}


def _float_call(model):
    return lambda x: model(x)[0]


def _aihwkit_call(model):
    return lambda x: model(x.transpose(0, 1))[0]  # aihwkit is time-major


def variants(inputs: int, hidden: int) -> dict:
    """The four models at one size; ours holds the float model's weights, aihwkit's are
    initialised as torch.nn.LSTM does (weights do not change the timing)."""
    torch.manual_seed(0)
    lstm = torch.nn.LSTM(inputs, hidden, batch_first=True)
    out = {"float": (lstm, _float_call(lstm))}
    for name, cell in (("aihwkit", AnalogLSTMCell),
                       ("aihwkit_combined", AnalogLSTMCellCombinedWeight)):
        model = AnalogRNN(cell, inputs, hidden, bias=True, rpu_config=TorchInferenceRPUConfig())
        out[name] = (model, _aihwkit_call(model))
    config = dataclasses.replace(CrossbarConfig.rram_realistic(), adc_kind="nl_ramp", adc_bits=5)
    ours = AnalogLSTM.from_torch(lstm, config, seed=0)
    out["qrnn_nl_adc"] = (ours, _float_call(ours))
    return out


def measure(models: dict, x: torch.Tensor, repeats: int, train: bool) -> dict[str, float]:
    """Median seconds per call of every variant, interleaved, after two warm-up rounds."""
    times: dict[str, list[float]] = {name: [] for name in models}
    for rnd in range(repeats + 2):
        for name, (module, call) in models.items():
            module.train(train)
            start = time.perf_counter()
            if train:
                module.zero_grad(set_to_none=True)
                call(x).square().mean().backward()
            else:
                with torch.no_grad():
                    call(x)
            if rnd >= 2:
                times[name].append(time.perf_counter() - start)
    return {name: statistics.median(t) for name, t in times.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=9)
    parser.add_argument("--sizes", default="kws,large", help="comma list of kws, large")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rows = []
    for size in args.sizes.split(","):
        inputs, hidden, batch, steps = SIZES[size]
        models = variants(inputs, hidden)
        x = torch.randn(batch, steps, inputs, generator=torch.Generator().manual_seed(1))
        for mode in ("inference", "train_step"):
            med = measure(models, x, args.repeats, train=mode == "train_step")
            for name, seconds in med.items():
                rows.append({"size": size, "inputs": inputs, "hidden": hidden, "batch": batch,
                             "steps": steps, "mode": mode, "variant": name,
                             "median_ms": seconds * 1e3,
                             "ratio_to_float": seconds / med["float"],
                             "aihwkit_over_this": med["aihwkit"] / seconds})
    if args.json:
        print(json.dumps({"torch": torch.__version__, "threads": 1, "rows": rows}, indent=1))
        return
    print(f"torch {torch.__version__}, 1 thread, {args.repeats} interleaved repeats")
    for r in rows:
        print(f"{r['size']:<6} {r['mode']:<11} {r['variant']:<17} {r['median_ms']:9.2f} ms "
              f"{r['ratio_to_float']:6.2f}x float  aihwkit/this {r['aihwkit_over_this']:6.2f}")


if __name__ == "__main__":
    main()
