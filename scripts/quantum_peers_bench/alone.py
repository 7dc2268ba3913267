"""Time one block candidate alone: ``python alone.py NAME N_QUBITS SECONDS``.

Prints ``{"ms": ..., "cpu_ms": ...}``: the median wall and process CPU milliseconds of single
forward + backward calls of the ``N_QUBITS`` block (batch 32, the data of ``compare.py``),
after its compile and 0.5 s of warm-up, timed in a row for up to ``SECONDS``
(:func:`qrnn.bench.median_times`). The process imports only what the candidate needs: the
fast path torch and qrnn (no JAX), a peer its own library. ``compare.py --alone`` runs it for
every candidate, in rounds.
"""

from __future__ import annotations

import os

os.environ.setdefault("XLA_FLAGS", "--xla_cpu_multi_thread_eigen=false "
                      "intra_op_parallelism_threads=1")
os.environ.setdefault("OMP_NUM_THREADS", "1")

import json  # noqa: E402
import sys  # noqa: E402

import numpy as np  # noqa: E402

from qrnn.bench import median_times  # noqa: E402

BLOCK_BATCH = 32


def candidate(name: str, n: int):
    """A no-argument callable running the block's forward and backward once."""
    rng = np.random.default_rng(n)  # the data of compare.block_case
    x, w = rng.normal(size=(BLOCK_BATCH, n)), rng.normal(size=(2, n, 3))
    if name == "fast":
        import torch

        from qrnn.circuit import BlockSpec
        from qrnn.sim.block import CompiledBlock

        torch.set_num_threads(1)
        spec, xt = BlockSpec(n, 2), torch.tensor(x)
        wt = torch.tensor(w, requires_grad=True)

        def fast():
            wt.grad = None
            CompiledBlock(spec, wt)(xt).sum().backward()

        return fast
    import jax
    import peers

    fn = peers.block_peers(n)[name]()
    w, x = jax.device_put((w, x))  # on the device, as compare.run_peers passes them
    return lambda: jax.block_until_ready(fn(w, x))


def main() -> None:
    name, n, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
    fn = candidate(name, n)
    fn()  # compile
    wall, cpu = median_times({name: fn}, 1, calls=10**6, budget=seconds)[name]
    print(json.dumps({"ms": wall * 1e3, "cpu_ms": cpu * 1e3}))


if __name__ == "__main__":
    main()
