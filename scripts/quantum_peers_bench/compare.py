"""Time the fast path next to PennyLane + JAX, tensorcircuit-ng and Catalyst, all in one process.

Runs inside the virtual environment built by ``run.sh`` (the peers installed there, torch and
the repository from the system site-packages and PYTHONPATH). Every peer and the fast path run
on one thread where they can (torch threads 1, XLA's Eigen thread pool off: JAX's runtime
still keeps a second thread busy, so its process CPU time exceeds its wall time), float64;
the timings are medians of single warm calls, timed in rows per candidate (up to
``--calls``) in ``--repeats`` interleaved rounds (:func:`qrnn.bench.median_times`, as ``qrnn
bench quantum`` times); each peer's first call (trace + jit compile + run) is reported apart
as its compile time. Before timing, every peer's values and gradients are checked
against the fast path (``--tolerance``, default 1e-10): a peer that disagrees is reported as
such and not timed.

Workloads (see ``peers.py``): one QLSTM block (4/8/12 qubits, 2 layers, batch 32, value and
weight gradient of the sum of outputs) and one QLSTM(1, 3) training step (six 4-qubit
circuits, 4 steps, batch 10, MSE on the last step, gradients, RMSprop update). The 100-epoch
column is compile time + 100 epochs x ``STEPS_PER_EPOCH`` training steps at the measured
median (training steps only; evaluation passes are not counted for anyone).
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")
os.environ.setdefault("OMP_NUM_THREADS", "1")  # lightning.qubit (Catalyst) spins otherwise

import argparse  # noqa: E402
import json  # noqa: E402
import statistics  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import jax  # noqa: E402
import numpy as np  # noqa: E402
import peers  # noqa: E402
import torch  # noqa: E402

from qrnn.bench import median_times  # noqa: E402
from qrnn.circuit import BlockSpec  # noqa: E402
from qrnn.qlstm import QLSTM  # noqa: E402
from qrnn.sim.block import CompiledBlock  # noqa: E402

BLOCK_BATCH, QLSTM_BATCH, QLSTM_STEPS = 32, 10, 4
STEPS_PER_EPOCH = 16
"""damped_shm: 236 windows of 4, 67 % (158) for training, batch 10 -> 16 steps an epoch."""
EPOCHS = 100


def first_call(fn, *args):
    """``(result, seconds)`` of the first (compiling) call of a jitted function."""
    start = time.perf_counter()
    out = jax.block_until_ready(fn(*args))
    return out, time.perf_counter() - start


def max_error(got, want) -> float:
    return max(float(np.max(np.abs(np.asarray(g) - np.asarray(w))))
               for g, w in zip(got, want, strict=True))


def run_peers(candidates: dict, args: tuple, want, tolerance: float, rows: list,
              fns: dict, base: dict) -> dict:
    """Compile and check every candidate; the ones that agree join ``fns`` for timing. The
    arguments go in as JAX arrays already on the device (as a training loop holds them), so
    no call pays a host-to-device copy (the fast path's tensors are where it reads them)."""
    args = jax.device_put(args)
    compile_s = {}
    for name, build in candidates.items():
        row = {**base, "backend": name}
        try:
            fn = build()
            out, seconds = first_call(fn, *args)
        except Exception as err:  # a peer that cannot run this workload is reported, not fatal
            rows.append({**row, "error": f"{type(err).__name__}: {str(err).splitlines()[0]}"})
            continue
        error = max_error(jax.tree_util.tree_leaves(out)[: len(want)], want)
        compile_s[name] = seconds
        if error > tolerance:
            rows.append({**row, "compile_s": seconds, "max_error": error,
                         "error": f"disagrees with the fast path by {error:.2e}"})
            continue
        rows.append({**row, "compile_s": seconds, "max_error": error})
        fns[name] = lambda fn=fn: jax.block_until_ready(fn(*args))
    return compile_s


def block_case(n: int, repeats: int, calls: int, tolerance: float,
               only: set | None) -> list[dict]:
    rng = np.random.default_rng(n)
    x, w = rng.normal(size=(BLOCK_BATCH, n)), rng.normal(size=(2, n, 3))
    spec, xt = BlockSpec(n, 2), torch.tensor(x)
    wt = torch.tensor(w, requires_grad=True)

    def fast():
        wt.grad = None
        total = CompiledBlock(spec, wt)(xt).sum()
        total.backward()
        return total.detach().numpy(), wt.grad.numpy()

    want = fast()
    base = {"workload": "block_fwd_bwd", "n_qubits": n, "batch": BLOCK_BATCH, "layers": 2}
    rows, fns = [], {"fast": fast}
    candidates = {k: v for k, v in peers.block_peers(n).items() if only is None or k in only}
    run_peers(candidates, (w, x), want, tolerance, rows, fns, base)
    med = median_times(fns, repeats, calls)
    out = [{**base, "backend": "fast"}, *rows]
    for row in out:
        if row["backend"] in med:
            row["ms"], row["cpu_ms"] = (t * 1e3 for t in med[row["backend"]])
    return out


def torch_qlstm(params: tuple, x, y, backend: str = "fast", per_step: bool = False):
    """The repository's ``QLSTM(1, 3)`` with its Linear(4 -> 1) head and torch's RMSprop:
    ``(step() -> loss, loss_and_backward() -> loss, parameters)``. ``per_step``: the same
    model with its fused sequence kernel off (two CompiledBlock calls per time step)."""

    class PerStepQLSTM(QLSTM):
        fused = False

    body = (PerStepQLSTM if per_step else QLSTM)(1, 3).double()
    body.backend = backend
    head = torch.nn.Linear(4, 1).double()
    with torch.no_grad():
        body.weights.copy_(torch.tensor(params[0]))
        head.weight.copy_(torch.tensor(params[1]))
        head.bias.copy_(torch.tensor(params[2]))
    leaves = [body.weights, head.weight, head.bias]
    opt = torch.optim.RMSprop(leaves, lr=peers.LR, alpha=peers.ALPHA, eps=peers.EPS)
    xt, yt = torch.tensor(x), torch.tensor(y)

    def loss_and_backward():
        loss = torch.nn.functional.mse_loss(head(body(xt)[0][:, -1]), yt)
        loss.backward()
        return loss

    def step():
        opt.zero_grad(set_to_none=True)
        loss = loss_and_backward()
        opt.step()
        return loss

    return step, loss_and_backward, leaves


def qlstm_case(repeats: int, calls: int, tolerance: float, only: set | None,
               with_default_qubit: bool, scan: bool = True) -> list[dict]:
    rng = np.random.default_rng(0)
    params = (rng.normal(size=(6, 2, 4, 3)), 0.5 * rng.normal(size=(1, 4)),
              0.1 * rng.normal(size=(1,)))
    x, y = rng.normal(size=(QLSTM_BATCH, QLSTM_STEPS, 1)), rng.normal(size=(QLSTM_BATCH, 1))
    _, check, leaves = torch_qlstm(params, x, y)
    loss = check()
    want = [loss.detach().numpy()] + [t.grad.numpy() for t in leaves]
    fns = {"fast (fused)": torch_qlstm(params, x, y)[0],
           "fast (per-step)": torch_qlstm(params, x, y, per_step=True)[0]}
    errors = {}
    if with_default_qubit:
        fns["default.qubit (torch)"] = torch_qlstm(params, x, y, "default.qubit")[0]
        _, check, leaves = torch_qlstm(params, x, y, "default.qubit")
        got = [check().detach().numpy()] + [t.grad.numpy() for t in leaves]
        errors["default.qubit (torch)"] = max_error(got, want)
    square_avg = tuple(np.zeros_like(p) for p in params)
    candidates = {
        "pennylane+jax vmap": lambda: jax.jit(peers.qlstm_train_step(
            peers.pennylane_batched(4, "vmap"), scan)),
        "pennylane+jax broadcast": lambda: jax.jit(peers.qlstm_train_step(
            peers.pennylane_batched(4, "broadcast"), scan)),
        "tensorcircuit-ng": lambda: jax.jit(peers.qlstm_train_step(
            peers.tensorcircuit_batched(4), scan)),
    }
    candidates = {k: v for k, v in candidates.items() if only is None or k in only}
    base = {"workload": "qlstm_train_step", "circuits": 6, "n_qubits": 4,
            "steps": QLSTM_STEPS, "batch": QLSTM_BATCH}
    rows = []
    run_peers(candidates, (params, square_avg, x, y), want, tolerance, rows, fns, base)
    med = median_times(fns, repeats, calls)
    out = [{**base, "backend": name, **({"max_error": errors[name]} if name in errors else {})}
           for name in fns if name not in candidates]
    for row in out + rows:
        if row["backend"] in med:
            row["ms"], row["cpu_ms"] = (t * 1e3 for t in med[row["backend"]])
            row["run_100_epochs_s"] = (row.get("compile_s", 0.0)
                                       + EPOCHS * STEPS_PER_EPOCH * med[row["backend"]][0])
    return out + rows


def alone_case(rows: list[dict], rounds: int, seconds: float) -> None:
    """Time every candidate of the block rows ``rows`` (those with a time) again, each in a
    fresh process holding only its own library (``alone.py``), the candidates in turn in each
    of ``rounds`` rounds; adds the medians as ``alone_ms`` and ``alone_cpu_ms``."""
    script = Path(__file__).with_name("alone.py")
    timed = [row for row in rows if "ms" in row]
    got = {id(row): [] for row in timed}
    for _ in range(rounds):
        for row in timed:
            proc = subprocess.run(
                [sys.executable, str(script), row["backend"], str(row["n_qubits"]),
                 str(seconds)], capture_output=True, text=True, check=True)
            got[id(row)].append(json.loads(proc.stdout.strip().splitlines()[-1]))
    for row in timed:
        row["alone_ms"] = statistics.median(r["ms"] for r in got[id(row)])
        row["alone_cpu_ms"] = statistics.median(r["cpu_ms"] for r in got[id(row)])


def table(rows: list[dict]) -> str:
    def cell(row: dict, key: str, fmt: str) -> str:
        return format(row[key], fmt) if key in row else "-"

    lines = [f"{'workload':<18}{'qubits':>7}  {'backend':<26}{'ms':>10}{'cpu ms':>10}"
             f"{'alone ms':>10}{'alone cpu':>10}{'compile s':>11}{'100 epochs s':>14}"
             f"{'max err':>10}  note"]
    for r in rows:
        lines.append(f"{r['workload']:<18}{r['n_qubits']:>7}  {r['backend']:<26}"
                     f"{cell(r, 'ms', '.3f'):>10}{cell(r, 'cpu_ms', '.3f'):>10}"
                     f"{cell(r, 'alone_ms', '.3f'):>10}{cell(r, 'alone_cpu_ms', '.3f'):>10}"
                     f"{cell(r, 'compile_s', '.1f'):>11}{cell(r, 'run_100_epochs_s', '.1f'):>14}"
                     f"{cell(r, 'max_error', '.1e'):>10}  {r.get('error', '')}")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="4,8,12", help="block qubit counts")
    parser.add_argument("--repeats", type=int, default=15, help="interleaved rounds")
    parser.add_argument("--calls", type=int, default=50,
                        help="timed calls in a row per candidate and round (at most 0.2 s)")
    parser.add_argument("--tolerance", type=float, default=1e-10)
    parser.add_argument("--peers", default=None,
                        help="comma-separated subset of peer names (default: all)")
    parser.add_argument("--skip-qlstm", action="store_true")
    parser.add_argument("--default-qubit", action="store_true",
                        help="also time the QLSTM step on default.qubit (torch, ~1 s a step)")
    parser.add_argument("--alone", type=int, default=0, metavar="ROUNDS",
                        help="also time every block candidate alone in a fresh process "
                             "(alone.py), in this many rounds")
    parser.add_argument("--qlstm-loop", choices=("scan", "unrolled"), default="scan",
                        help="the peers' QLSTM time loop: jax.lax.scan or unrolled (see peers.py)")
    parser.add_argument("--json", default=None, help="also write the rows to this file")
    args = parser.parse_args()
    torch.set_num_threads(1)
    only = None if args.peers is None else set(args.peers.split(","))
    rows = []
    for n in (int(s) for s in args.sizes.split(",") if s):
        reps = args.repeats if n < 12 else max(3, args.repeats // 3)
        case = block_case(n, reps, args.calls, args.tolerance, only)
        if args.alone:
            alone_case(case, args.alone, 1.0)
        rows += case
        print(table(rows), flush=True)
    if not args.skip_qlstm:
        rows += qlstm_case(args.repeats, args.calls, args.tolerance, only, args.default_qubit,
                           args.qlstm_loop == "scan")
    print(f"\nquantum peers (float64, 1 thread, jax {jax.__version__}, torch "
          f"{torch.__version__}; medians of single calls, up to {args.calls} in a row after "
          f"a warm-up, in {args.repeats} interleaved rounds; the peers' QLSTM loop "
          f"{args.qlstm_loop}: "
          "wall ms and process CPU ms; 100 epochs = compile + 1600 steps at the wall median)")
    print(table(rows))
    if args.json:
        with open(args.json, "w") as f:
            json.dump(rows, f, indent=1)


if __name__ == "__main__":
    main()
