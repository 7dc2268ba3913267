"""Autograd nodes over the compiled two-layer Pauli kernels (:mod:`qrnn.sim.pauli_kernel`).

Blocks of two variational layers that read <Z> of qubits ``0..m-1`` (the QLSTM's circuits,
``BlockSpec(n, 2)``) have their readout matrix built from the angles by the structured kernel
:func:`~qrnn.sim.pauli_kernel.readout2`. Two nodes use it:

* :class:`TwoLayerReadout`: the build alone (weights -> readout matrix), for blocks called
  many times (:meth:`qrnn.sim.block.CompiledBlock.split`, recurrent cells);
* :class:`PauliBlock`: the build and the first step as one node, one compiled call each way
  (the readout matrix is scratch inside the call). A block called once per build (a
  feed-forward layer, the benchmark's block call) costs just this node; a block called
  again builds its matrix with :class:`TwoLayerReadout` once for the later steps
  (:class:`qrnn.sim.fused.PauliReadout`).

Both are held to the torch build (:class:`qrnn.sim.fused.ReadoutMatrix`) and to
``torch.autograd.gradcheck`` in ``tests/qrnn/test_pauli_nodes.py``.
"""

from __future__ import annotations

import torch

from qrnn.sim import pauli_kernel
from qrnn.sim.pauli_kernel import ENCODING_CODES, ROTATION_CODES


def two_layer(layers: int, wires, probs: bool) -> bool:
    """Whether a block's compiled readout build is the structured two-layer kernel
    (:func:`qrnn.sim.pauli_kernel.readout2`: two layers, <Z> of qubits ``0..m-1``)."""
    return layers == 2 and not probs and tuple(wires) == tuple(range(len(wires)))


class TwoLayerReadout(torch.autograd.Function):
    """The readout matrix of two-layer circuits reading <Z> of qubits ``0..m-1``, one compiled
    call each way (:func:`~qrnn.sim.pauli_kernel.readout2` and its backward).

    Inputs: weights ``(C, 2, n, k)``; kind: rotation name; m: measured qubits; image, sign:
    the CNOT layer (:func:`~qrnn.sim.pauli.clifford_action`) or None.
    Output: ``(4**n, C * m)``, column ``c * m + k`` the <Z_k> row of circuit c (the layout of
    :class:`qrnn.sim.fused.ReadoutMatrix`).
    """

    @staticmethod
    def forward(ctx, weights, kind, m, image, sign):
        weights = weights.contiguous()
        ctx.args = (m, kind, image, sign)
        ctx.save_for_backward(weights)
        return pauli_kernel.readout2(weights, m, kind, image, sign)

    @staticmethod
    def backward(ctx, grad):
        (weights,) = ctx.saved_tensors
        m, kind, image, sign = ctx.args
        return pauli_kernel.readout2_backward(weights, m, kind, grad, image, sign), *[None] * 4


class PauliBlock(torch.autograd.Function):
    """The readout build and one step of a two-layer block as one node.

    Inputs:
        x: ``(B, n)`` real inputs (CPU, the weights' dtype); weights: ``(C, 2, n, k)``, or
        ``(2, n, k)`` for one circuit; kind: rotation name; m: measured qubits; encoding:
        encoding name; image, sign: the CNOT layer or None (no gradients for the last five).

    Output: ``(B, C, m)`` (``(B, m)`` for 3-D weights), the step's <Z> values.

    Forward: one compiled call (:func:`~qrnn.sim.pauli_kernel.run_block`: the build into
    scratch, then the step with the Pauli features when the weights need a gradient and the
    input Jacobian when ``x`` needs one; it raises on a NaN or infinity in ``x`` or the
    weights, which the kernel checks as it reads them). Backward: ``g_x = J g_out``; one
    compiled call (:func:`~qrnn.sim.pauli_kernel.run_block_backward`) for ``feats^T g_out``
    and the angles' gradient. A block called once per build (a feed-forward layer, the
    benchmark's block call) costs this one node; a block called again builds its readout
    matrix once (:class:`TwoLayerReadout`) for the later steps. The arguments are not
    checked again here: the caller (:class:`qrnn.sim.block.CompiledBlock`) made them.
    """

    @staticmethod
    def forward(ctx, x, weights, kind, m, encoding, image, sign):
        weights = weights if weights.is_contiguous() else weights.contiguous()
        x = x if x.is_contiguous() else x.contiguous()
        circuits = 1 if weights.ndim == 3 else weights.shape[0]
        jacobian, features = ctx.needs_input_grad[:2]
        shape = (x.shape[0], m) if weights.ndim == 3 else (x.shape[0], circuits, m)
        rot = ROTATION_CODES[kind]
        out, feats, jac = pauli_kernel.run_block(
            x, weights, circuits, m, rot, ENCODING_CODES[encoding], image, sign, jacobian,
            features, shape)
        ctx.args = (circuits, x.shape[1], m, rot, image, sign)
        ctx.save_for_backward(weights, feats, jac)
        return out

    @staticmethod
    def backward(ctx, g_out):
        weights, feats, jac = ctx.saved_tensors
        circuits, n, m, rot, image, sign = ctx.args
        g_out = g_out if g_out.ndim == 2 else g_out.reshape(g_out.shape[0], -1)
        g_x = (jac @ g_out.unsqueeze(-1)).squeeze(-1) if ctx.needs_input_grad[0] else None
        g_w = None
        if ctx.needs_input_grad[1]:
            g_w = pauli_kernel.run_block_backward(weights, circuits, n, m, rot, image, sign,
                                                  feats, g_out)
        return g_x, g_w, *[None] * 5
