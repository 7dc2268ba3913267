"""Fused QGRU and QRNN (Elman) sequences: the construction of :mod:`qrnn.sim.recurrent` for
the cells of :mod:`qrnn.qgru`, whose circuits read <Z> of qubits ``0..hidden_size-1``.

With ``v_t = [x_t, h_{t-1}]`` zero-padded to ``n`` qubits::

    elman (1 circuit):   h_t = tanh(VQC(v_t))
    gru (3 circuits):    r = sigmoid(VQC_0(v_t)), z = sigmoid(VQC_1(v_t)),
                         a = tanh(VQC_2([x_t, r * h_{t-1}])), h_t = (1 - z) * a + z * h_{t-1}

``path`` as in :func:`qrnn.sim.recurrent.qlstm_sequence`: ``"cpu"`` runs the readout build,
the time loop and its BPTT in compiled C (:file:`recurrent_gated.c`, :class:`FusedGated`),
``"reference"`` the per-step torch code (:func:`gated_reference`), ``"auto"`` the first where
it can. Shapes: ``x (B, T, input_size)``, ``h0 (B, hidden_size)`` or None; returns ``hs (B, T,
hidden_size)`` (the outputs; the final state is ``hs[:, -1]``).
"""

from __future__ import annotations

import torch
from torch import Tensor

from kernels.contract import AUTO, REFERENCE
from qrnn.circuit import BlockSpec, real_tensor
from qrnn.sim.block import PAULI_MAX_QUBITS, CompiledBlock
from qrnn.sim.recurrent import (
    ENCODING_CODES,
    LIBRARY,
    _ptr,
    _readout,
    readout_weight_grad,
    resolve_path,
)

CELLS = {"elman": (0, 1), "gru": (1, 3)}
"""Cell name -> (code in :file:`recurrent_gated.c`, circuits)."""


def record_size(cell: str, n: int, hidden: int) -> int:
    """Values kept per time step and sample for BPTT (``gated_record_size`` in the C file)."""
    dim = 4**n
    return dim + n * hidden + hidden if cell == "elman" else 2 * dim + 3 * n * hidden + 4 * hidden


class FusedGated(torch.autograd.Function):
    """A QGRU or QRNN sequence from its circuit weights, forward and BPTT in compiled C.

    Inputs: x ``(B, T, input_size)``; weights ``(C, *spec.weight_shape)`` (C = 3 for gru,
    1 for elman); h0 ``(B, hidden)``, one dtype on the CPU; spec, cell (no gradient).
    Output: ``hs (B, T, hidden)``.
    """

    @staticmethod
    def forward(ctx, x, weights, h0, spec, cell):
        batch, steps, inputs = x.shape
        n, hidden = spec.n_qubits, h0.shape[1]
        weights = weights.contiguous()
        readout, transfer, dtransfer, layer = _readout(spec, weights, ctx.needs_input_grad[1])
        x, h0 = x.contiguous(), h0.contiguous()
        hs = x.new_empty(batch, steps, hidden)
        train = any(ctx.needs_input_grad[:3])
        record = record_size(cell, n, hidden)
        saved = x.new_empty(steps, batch, record) if train else None
        failed = LIBRARY.function("gated_forward", x.dtype)(
            CELLS[cell][0], batch, steps, n, inputs, hidden, ENCODING_CODES[spec.encoding],
            x.data_ptr(), readout.data_ptr(), h0.data_ptr(), hs.data_ptr(), _ptr(saved), record)
        if failed:
            raise MemoryError(f"fused {cell} kernel could not allocate its scratch (n={n})")
        if train:
            ctx.save_for_backward(saved, readout, weights, transfer, dtransfer)
            ctx.layer, ctx.spec, ctx.cell = layer, spec, cell
            ctx.sizes = (batch, steps, n, inputs, hidden)
        return hs

    @staticmethod
    def backward(ctx, g_hs):
        saved, readout, weights, transfer, dtransfer = ctx.saved_tensors
        batch, steps, n, inputs, hidden = ctx.sizes
        g_x, g_h0 = saved.new_empty(batch, steps, inputs), saved.new_empty(batch, hidden)
        g_r = torch.zeros_like(readout)
        g_hs = g_hs.contiguous()
        failed = LIBRARY.function("gated_backward", saved.dtype)(
            CELLS[ctx.cell][0], batch, steps, n, inputs, hidden, saved.data_ptr(),
            saved.shape[-1], g_hs.data_ptr(), g_x.data_ptr(), g_r.data_ptr(), g_h0.data_ptr())
        if failed:
            raise RuntimeError(f"fused {ctx.cell} backward rejected its sizes (n={n})")
        g_w = None
        if ctx.needs_input_grad[1]:
            g_w = readout_weight_grad(ctx, ctx.spec, weights, readout, transfer, dtransfer, g_r)
        return g_x, g_w, g_h0, None, None


def gated_reference(block, cell: str, x: Tensor, h0: Tensor) -> Tensor:
    """The sequence step by step in torch; ``block``: a compiled block of the cell's circuits
    (:class:`~qrnn.sim.block.CompiledBlock` of a list of weights). Returns ``hs``."""
    n, h, hs = block.spec.n_qubits, h0, []
    gates, candidate = block.split([2, 1]) if cell == "gru" else (block, None)

    def padded(a, b):
        v = torch.cat([a, b], -1)
        return torch.nn.functional.pad(v, (0, n - v.shape[-1]))

    for t in range(x.shape[1]):
        if cell == "elman":
            h = torch.tanh(gates(padded(x[:, t], h))[:, 0])
        else:
            rz = torch.sigmoid(gates(padded(x[:, t], h)))
            r, z = rz[:, 0], rz[:, 1]
            a = torch.tanh(candidate(padded(x[:, t], r * h))[:, 0])
            h = (1 - z) * a + z * h
        hs.append(h)
    return torch.stack(hs, 1)


def gated_sequence(spec: BlockSpec, weights: Tensor, x: Tensor, h0=None, *, cell: str,
                   path: str = AUTO) -> Tensor:
    """Run a QGRU (``cell="gru"``) or QRNN (``"elman"``) over ``x``; returns ``hs``.

    Args:
        spec: the circuits (<Z> of qubits ``0..hidden-1``, ``n_qubits <= 6``).
        weights: ``(C, *spec.weight_shape)``, C = 3 (gru: r, z, candidate) or 1 (elman).
        x: ``(B, T, input_size)``; h0: ``(B, hidden)`` or None for zeros.
        cell, path: see the module docstring.
    """
    if cell not in CELLS:
        raise ValueError(f"cell={cell!r} is unknown; allowed: {', '.join(CELLS)}")
    if not isinstance(x, Tensor) or x.ndim != 3 or x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError("x must be a (batch >= 1, time >= 1, input_size) tensor")
    n, hidden, circuits = spec.n_qubits, len(spec.wires), CELLS[cell][1]
    if spec.measurement != "z" or spec.wires != tuple(range(hidden)) or n > PAULI_MAX_QUBITS:
        raise ValueError(f"the {cell} cell reads <Z> of qubits 0..hidden-1 of at most "
                         f"{PAULI_MAX_QUBITS}; spec has measured={spec.measured!r}, n={n}")
    if x.shape[-1] + hidden > n:
        raise ValueError(f"input_size + hidden = {x.shape[-1]} + {hidden} does not fit "
                         f"n_qubits={n}")
    if not isinstance(weights, Tensor) or tuple(weights.shape) != (circuits, *spec.weight_shape):
        raise ValueError(f"weights must have shape {(circuits, *spec.weight_shape)}")
    path = resolve_path(path, x)
    weights = real_tensor("weights", weights)
    x = real_tensor("x", x).to(weights.dtype)
    h0 = x.new_zeros(x.shape[0], hidden) if h0 is None else real_tensor("h0", h0).to(x.dtype)
    if h0.shape != (x.shape[0], hidden):
        raise ValueError(f"h0 has shape {tuple(h0.shape)}; expected ({x.shape[0]}, {hidden})")
    if path == REFERENCE:
        block = CompiledBlock(spec, list(weights), path=REFERENCE)
        return gated_reference(block, cell, x, h0)
    return FusedGated.apply(x, weights, h0, spec, cell)
