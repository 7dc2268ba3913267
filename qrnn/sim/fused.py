"""Fused kernels of the ``"unitary"`` method, each one autograd node with a hand-derived VJP.

A recurrent cell builds its block once per forward pass and calls it once per time step; at
4 qubits each is a few kilobytes of arithmetic, so the cost is the number of tensor operations
and autograd nodes, not FLOPs. :class:`BlockUnitary` builds the unitaries from the weights;
:class:`EncodedExpvalZ` runs a step (input encoding, product state, the unitary, <Z>
readout). Both are checked against autograd and ``torch.autograd.gradcheck`` in the tests.
"""

from __future__ import annotations

import torch

from qrnn.sim.encode import qubit_states, qubit_states_and_derivative
from qrnn.sim.gates import kron_tree, rotation_matrices, rotation_vjp


def _kron_rests(vecs: torch.Tensor) -> list[torch.Tensor]:
    """``rests[i]`` = kron of ``vecs[:, n-1-i:]`` (the last i+1 factors): ``(N, n, d)`` input."""
    batch, n = vecs.shape[:2]
    rests = [vecs[:, n - 1]]
    for q in range(n - 2, -1, -1):
        rests.append((vecs[:, q].unsqueeze(-1) * rests[-1].unsqueeze(1)).reshape(batch, -1))
    return rests


def _kron_vjp(vecs: torch.Tensor, rests: list[torch.Tensor], grad: torch.Tensor) -> torch.Tensor:
    """Gradient of ``kron_q vecs[:, q]`` w.r.t. each factor (complex, PyTorch convention).

    Args:
        vecs: ``(N, n, d)`` factors; ``rests`` from :func:`_kron_rests` of ``vecs``.
        grad: ``(N, d**n)`` gradient of the product.

    Returns:
        ``(N, n, d)``: ``g_q = G_q conj(rest after q)``, ``G_{q+1} = conj(v_q) G_q``.
    """
    batch, n, d = vecs.shape
    out = []
    for q in range(n - 1):
        view = grad.reshape(batch, d, -1)
        out.append(torch.bmm(view, rests[n - 2 - q].conj().unsqueeze(-1)).squeeze(-1))
        grad = torch.bmm(vecs[:, q].conj().unsqueeze(1), view).squeeze(1)
    out.append(grad)
    return torch.stack(out, 1)


class BlockUnitary(torch.autograd.Function):
    """Transposed block unitaries ``rows = U^T``, ``U = M_L ... M_1``, ``M_l = K_l P``.

    Inputs:
        weights: ``(C, L, n, k)`` rotation angles (L >= 1).
        kind: rotation name; ``src``, ``inverse``: entangler permutation and its inverse
            (:func:`~qrnn.sim.gates.cnot_permutation`) or None for no entangler.

    Output: ``(2**n, C * 2**n)`` complex, the C transposed unitaries side by side (the layout
    :class:`EncodedExpvalZ` takes); ``K_l`` = kron of layer l's rotations and
    ``P psi = psi[src]``, so ``M_l = K_l[..., inverse]``.

    VJP: ``g_M_l = A_l^H g_U B_l^H`` (A, B: the products after / before layer l),
    ``g_K = g_M[..., src]``, Kronecker and rotation-angle derivatives as in the forward.
    """

    @staticmethod
    def forward(ctx, weights, kind, src, inverse):
        circuits, layers, n = weights.shape[:3]
        mats = rotation_matrices(kind, weights)  # (C, L, n, 2, 2)
        kron = kron_tree(mats)  # (C, L, dim, dim)
        steps = kron if inverse is None else kron[..., inverse]
        befores = [None]  # befores[l] = M_{l-1} ... M_0
        unitary = steps[:, 0]
        for layer in range(1, layers):
            befores.append(unitary)
            unitary = steps[:, layer] @ unitary
        ctx.kind, ctx.src = kind, src
        ctx.save_for_backward(weights, mats, steps, *befores[1:])
        return unitary.permute(2, 0, 1).reshape(unitary.shape[-1], -1)  # rows[j, c*dim+i]

    @staticmethod
    def backward(ctx, grad):
        weights, mats, steps, *befores = ctx.saved_tensors
        befores = [None, *befores]
        circuits, layers, n = weights.shape[:3]
        dim = grad.shape[0]
        after = grad.reshape(dim, circuits, dim).permute(1, 2, 0)  # g_U; then A_l^H g_U
        g_steps = [None] * layers
        for layer in reversed(range(layers)):
            before = befores[layer]
            g_steps[layer] = after if before is None else after @ before.conj().transpose(-1, -2)
            if layer > 0:
                after = steps[:, layer].conj().transpose(-1, -2) @ after
        g_kron = torch.stack(g_steps, 1)
        if ctx.src is not None:
            g_kron = g_kron[..., ctx.src]
        # K = kron of vec(G_q) in the interleaved index order (i_0, j_0, i_1, j_1, ...)
        axes = [a for q in range(n) for a in (1 + q, 1 + n + q)]
        g_vec = g_kron.reshape(-1, *(2,) * (2 * n)).permute(0, *axes).reshape(-1, 4**n)
        vecs = mats.reshape(-1, n, 4)
        g_mats = _kron_vjp(vecs, _kron_rests(vecs), g_vec)
        g_weights = rotation_vjp(ctx.kind, weights, g_mats.reshape(mats.shape))
        return g_weights, None, None, None


class EncodedExpvalZ(torch.autograd.Function):
    """``z[b, c, k] = sum_j signs[j, k] |(psi_b @ rows)[c * dim + j]|^2``, psi_b = encode(x_b).

    Inputs:
        x: ``(B, n)`` real inputs.
        rows: ``(dim, C * dim)`` complex: C transposed unitaries side by side.
        signs: ``(dim, m)`` real Z eigenvalues of the measured qubits (no gradient).
        kind: encoding name (no gradient).

    Output: ``(B, C, m)`` real.

    Gradients follow PyTorch's complex convention (conjugate Wirtinger): with
    ``phi = psi @ rows``: ``g_phi = 2 (g @ signs^T) * phi``, ``g_rows = psi^H g_phi``,
    ``g_psi = g_phi rows^H``; through ``psi = a_0 (x) rest_0``, ``rest_q = a_{q+1} (x) rest_{q+1}``:
    ``g_a_q = G_q conj(rest_q)`` and ``G_{q+1} = conj(a_q) G_q``; finally
    ``g_x = Re(sum_s g_a * conj(d a / d x))``.
    """

    @staticmethod
    def forward(ctx, x, rows, signs, kind):
        batch, n = x.shape
        if x.requires_grad:
            amps, damps = qubit_states_and_derivative(kind, x)
        else:  # inputs without gradient (e.g. data): skip d amplitude / d x
            amps, damps = qubit_states(kind, x), None
        rests = _kron_rests(amps)  # rests[-1] is the product state
        phi = rests[-1] @ rows  # (B, C * dim)
        probs = torch.view_as_real(phi).square().sum(-1)
        ctx.save_for_backward(amps, damps, rows, signs, phi, *rests)
        return probs.reshape(batch, -1, rows.shape[0]) @ signs

    @staticmethod
    def backward(ctx, grad):
        amps, damps, rows, signs, phi, *rests = ctx.saved_tensors
        batch, n = amps.shape[:2]
        g_phi = 2 * (grad @ signs.T).reshape(batch, -1) * phi
        g_rows = rests[-1].conj().T @ g_phi if ctx.needs_input_grad[1] else None
        g_x = None
        if ctx.needs_input_grad[0]:
            g_amps = _kron_vjp(amps, rests, g_phi @ rows.conj().T)
            g_x = (g_amps * damps.conj()).real.sum(-1)
        return g_x, g_rows, None, None
