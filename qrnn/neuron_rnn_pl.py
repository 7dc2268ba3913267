"""A :class:`~qrnn.neuron_rnn.QuantumNeuronRNN` executed on PennyLane devices.

The cell state cannot leave a device between tapes (PennyLane returns no state from a circuit
with mid-circuit measurements), so the output of step ``t`` comes from one tape that runs
steps ``0..t``: ``T`` tapes of growing length per sequence (broadcast over the batch on
``default.qubit``, one per sample on ``qiskit.aer``), each neuron's ancillas measured
mid-circuit and postselected on 0 (:mod:`qrnn.neuron_pl`). Every sequence starts from
``|0...0>``.
"""

from __future__ import annotations

import torch

from qrnn.neuron_pl import check_aer_width, check_backend, run_exact, run_shots


def forward_pennylane(model, x: torch.Tensor, state):
    """``(y (B, T, 2**readout), NeuronRNNState)`` of ``model`` on ``model.backend``.

    ``log_success`` is the kept fraction of shots of the whole sequence on ``qiskit.aer`` (log)
    and NaN on ``default.qubit``; ``repetitions`` is NaN (per-neuron success probabilities are
    not observable there).
    """
    from qrnn.neuron_rnn import NeuronRNNState

    cfg = model.config
    check_backend(model.backend, cfg.shots)
    if state is not None:
        raise ValueError(
            f"backend {model.backend!r} starts every sequence from |0...0>; pass state=None "
            "(carrying a state between calls needs backend 'fast')"
        )
    angles = model.angles(x)  # (B, T, stages, register)
    readout = tuple(range(cfg.readout))
    batch, steps = x.shape[:2]
    dtype = model.bias.dtype
    if model.backend == "default.qubit":  # one broadcast tape per output step
        ops, outs = [], []
        for t in range(steps):
            ops += step_gates(model, angles[:, t])
            outs.append(run_exact(list(ops), readout)[0].reshape(batch, -1).to(dtype))
        y, success = torch.stack(outs, 1), [float("nan")] * batch
    else:  # qiskit.aer: one sampled circuit per sample and output step
        per_neuron = sum(g.kind == "post" for g in model.neuron_gates(0.0, 0, 0))
        check_aer_width(cfg.n_qubits, per_neuron * steps * cfg.stages * cfg.register,
                        cfg.readout)
        rows, success = [], []
        for b in range(batch):
            ops, outs = [], []
            for t in range(steps):
                ops += step_gates(model, angles[b, t])
                seed = model.shot_seed() + b * steps + t
                probs, kept = run_shots(list(ops), cfg.n_qubits, readout, cfg.shots, seed)
                outs.append(probs.to(dtype))
            rows.append(torch.stack(outs))
            success.append(float(kept))
        y = torch.stack(rows)
    nan = torch.full((batch,), float("nan"), dtype=dtype)
    log_success = torch.tensor(success, dtype=dtype).log()
    neurons = steps * cfg.stages * cfg.register
    flags = torch.zeros(batch, dtype=torch.bool)
    return y, NeuronRNNState(None, log_success, nan, neurons, flags)


def step_gates(model, angles: torch.Tensor) -> list:
    """Gates of one time step; ``angles`` ``([B,] stages, register)``."""
    ops = []
    for s in range(model.config.stages):
        for j in range(model.config.register):
            ops += model.neuron_gates(angles[..., s, j], s, j)
    return ops


__all__ = ["forward_pennylane", "step_gates"]
