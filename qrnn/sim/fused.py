"""Fused kernels of the ``"unitary"`` and ``"pauli"`` methods, each one autograd node with a
hand-derived VJP.

A recurrent cell builds its block once per forward pass and calls it once per time step; at
4 qubits each is a few kilobytes of arithmetic, so the cost is the number of tensor operations
and autograd nodes, not FLOPs. ``"unitary"``: :class:`BlockUnitary` builds the unitaries from
the weights; :class:`EncodedExpvalZ` runs a step (input encoding, product state, the unitary,
<Z> readout). ``"pauli"`` (:mod:`qrnn.sim.pauli`): :class:`ReadoutMatrix` builds the real
readout matrix from the weights; :class:`PauliReadout` runs a step. All are checked against
autograd, ``torch.autograd.gradcheck`` and default.qubit in the tests.

On the CPU the ``"pauli"`` method runs compiled C (:mod:`qrnn.sim.pauli_kernel`, built on
first use): :class:`HeisenbergReadout` instead of :class:`ReadoutMatrix`, and one call per step
inside :class:`PauliReadout` (``qrnn bench quantum`` measures both paths). Which runs is chosen
by the ``path`` the caller carries (:data:`PATHS`, see :func:`compiled`): the torch code stays
as the reference the tests hold the kernels to (``path="reference"``), and as the fallback of
``path="auto"`` without a C compiler (after one warning) and on other devices.
"""

from __future__ import annotations

import torch

from kernels.contract import check_path
from kernels.cpu_build import warn_once
from qrnn.sim import pauli_kernel
from qrnn.sim.encode import qubit_states, qubit_states_and_derivative
from qrnn.sim.gates import kron_tree, rotation_matrices, rotation_vjp
from qrnn.sim.pauli import (
    bloch_vectors,
    clifford_action,
    derivative_slots,
    kron_vectors,
    kron_vjp,
    observable_rows,
    readout_plan,
    rotation_transfer,
)
from qrnn.sim.pauli_nodes import TwoLayerReadout, two_layer

PATHS = ("auto", "reference", "cpu")
"""Fast-path choices of the ``"pauli"`` method (:func:`kernels.contract.check_path`)."""


def compiled(t: torch.Tensor, path: str = "auto") -> bool:
    """Whether the ``"pauli"`` method runs its compiled kernels on tensor ``t`` for ``path``.

    ``"reference"``: never (the torch code); ``"cpu"``: always (a one-line error if ``t`` is
    not on the CPU or the kernels cannot be built); ``"auto"``: on the CPU when a C compiler
    works (the first miss warns once, then the torch code runs).
    """
    check_path(path, PATHS[2:])
    if path == "reference":
        return False
    if path == "cpu":
        if not t.is_cpu:
            raise ValueError(f"path='cpu' needs CPU tensors, got {t.device}")
        pauli_kernel.LIBRARY.require()
        return True
    if not t.is_cpu:
        return False
    if pauli_kernel.available():
        return True
    reason = pauli_kernel.LIBRARY.error
    warn_once("pauli", f"qrnn's Pauli readout kernels are unavailable ({reason}); the 'pauli' "
              "method runs its slower torch path")
    return False


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


def readout_matrix(weights, kind, pairs, wires, probs, path: str = "auto") -> torch.Tensor:
    """The ``"pauli"`` method's ``(4**n, C * M)`` readout (:class:`ReadoutMatrix`).

    Args:
        weights: ``(C, L, n, k)`` rotation angles; kind: rotation name; pairs: the CNOT
            pairs of one entangling layer; wires, probs: what is measured; path: one of
            :data:`PATHS` (:func:`compiled`).

    Compiled: :class:`TwoLayerReadout` where :func:`two_layer` holds, else
    :class:`HeisenbergReadout`; torch: :class:`ReadoutMatrix`.
    """
    circuits, layers, n = weights.shape[:3]
    if layers > 0 and compiled(weights, path):
        image, sign = clifford_action(tuple(pairs), n, weights.dtype) if pairs else (None, None)
        if two_layer(layers, wires, probs):
            return TwoLayerReadout.apply(weights, kind, len(wires), image, sign)
        obs = observable_rows(n, tuple(wires), probs, weights.dtype)
        return HeisenbergReadout.apply(weights, kind, obs, image, sign)
    if layers > 0:
        plan = readout_plan(kind, tuple(pairs), tuple(wires), probs, n, layers, weights.dtype)
        return ReadoutMatrix.apply(weights, plan)
    obs = observable_rows(n, tuple(wires), probs, weights.dtype)
    return obs.repeat(circuits, 1).T  # no weights: a constant


class HeisenbergReadout(torch.autograd.Function):
    """:class:`ReadoutMatrix` as two compiled calls (:func:`qrnn.sim.pauli_kernel.heisenberg`).

    Inputs:
        weights: ``(C, L, n, k)`` (L >= 1); kind: rotation name; obs: ``(M, 4**n)`` measured
        observables (:func:`~qrnn.sim.pauli.observable_rows`); image, sign: the CNOT layer
        (:func:`~qrnn.sim.pauli.clifford_action`) or None.

    Output: ``(4**n, C * M)`` as :class:`ReadoutMatrix`. The kernel evolves each observable
    densely, layer by layer; backward retraces it
    (:func:`~qrnn.sim.pauli_kernel.heisenberg_backward`) to the transfer-matrix gradient, then
    ``g_w = <g_T, dT / dw>``.
    """

    @staticmethod
    def forward(ctx, weights, kind, obs, image, sign):
        if ctx.needs_input_grad[0]:
            transfer, dtransfer = rotation_transfer(kind, weights, derivative=True)
        else:  # frozen weights (a reservoir, inference): no derivative tables
            transfer, dtransfer = rotation_transfer(kind, weights), None
        rows = pauli_kernel.heisenberg(transfer, obs, image, sign)
        ctx.image, ctx.sign = image, sign
        ctx.save_for_backward(transfer, dtransfer, rows)
        return rows

    @staticmethod
    def backward(ctx, grad):
        transfer, dtransfer, rows = ctx.saved_tensors
        g_transfer = pauli_kernel.heisenberg_backward(transfer, rows, grad, ctx.image, ctx.sign)
        return (dtransfer * g_transfer.unsqueeze(-3)).sum((-1, -2)), None, None, None, None


class ReadoutMatrix(torch.autograd.Function):
    """The measured observables in the Heisenberg picture, in the Pauli basis (L >= 1).

    Inputs:
        weights: ``(C, L, n, k)``; plan: the block's :class:`~qrnn.sim.pauli.ReadoutPlan`.

    Output: ``(4**n, C * M)``, circuit-major columns, such that the outputs of a step are
    ``feat @ R`` for the Pauli features ``feat`` of the encoded product state.

    Forward (``o`` a row of Pauli coefficients, Heisenberg order): the last rotation layer
    keeps each observable a Kronecker product and only Z rows of its transfer matrices enter
    (``I T = I``); the CNOT layer before it maps the few resulting strings to signed strings
    (:func:`~qrnn.sim.pauli.landing_strings`); the rotation layer before that turns each into
    a Kronecker product of transfer-matrix rows, ``rows = coeffs @ kron(strings)``; earlier
    layers (L > 2) act on the dense rows one qubit at a time; a CNOT layer is a signed
    permutation. Backward retraces it with :func:`~qrnn.sim.pauli.kron_vjp`, products by the
    transposes, and ``g_w = <g_T, dT / dw>`` from :func:`~qrnn.sim.pauli.rotation_transfer`.
    """

    @staticmethod
    def forward(ctx, weights, plan):
        circuits, layers, n = weights.shape[:3]
        transfer, dtransfer = rotation_transfer(plan.kind, weights, derivative=True)
        zrows = transfer[:, -1, :, 3]  # (C, n, 4): Z after the last rotation layer
        ctx.plan, ctx.circuits = plan, circuits
        saved = [dtransfer]
        if layers == 1:
            vecs = plan.ident + plan.zpart * zrows.unsqueeze(1)  # (C, M, n, 4)
            rows = kron_vectors(vecs)
            saved.append(vecs)
        else:
            on_wires = zrows[:, plan.wires]  # (C, m, 4)
            if plan.z_mask is None:  # probs: (I +- Z) / 2 on every measured wire
                factors = plan.ident[:, plan.wires] + plan.zpart[:, plan.wires] * on_wires[:, None]
                coeffs = kron_vectors(factors) * plan.string_sign  # (C, M, 4**m)
                saved.append(factors)
            else:  # block diagonal: row m has X, Y, Z on wires[m] only
                coeffs = on_wires[..., 1:].reshape(circuits, 1, -1) * plan.z_mask
            strings = transfer[:, -2].reshape(circuits, 4 * n, 4).index_select(1, plan.index)
            strings = strings.reshape(circuits, -1, n, 4)  # (C, S, n, 4)
            terms = kron_vectors(strings)
            rows = coeffs @ terms  # (C, M, 4**n)
            saved += [coeffs, strings, terms, transfer[:, : layers - 2]]
            for layer in range(layers - 3, -1, -1):
                if plan.image is not None:
                    rows = rows[..., plan.image] * plan.sign.T
                for q in range(n):
                    view = rows.reshape(circuits, -1, 4, 4 ** (n - 1 - q))
                    saved.append(view)
                    rows = torch.einsum("cmar,cab->cmbr", view, transfer[:, layer, q])
        ctx.save_for_backward(*saved)
        rows = rows.reshape(-1, 4**n).T
        return rows if plan.image is None else rows.index_select(0, plan.image) * plan.sign

    @staticmethod
    def backward(ctx, grad):
        dtransfer, *saved = ctx.saved_tensors
        plan, circuits = ctx.plan, ctx.circuits
        layers, n = dtransfer.shape[1:3]
        g_transfer = torch.zeros(dtransfer.shape[:3] + (4, 4), dtype=grad.dtype)
        if plan.image is not None:
            grad = (grad * plan.sign).index_select(0, plan.inverse)
        g_rows = grad.T.reshape(circuits, -1, 4**n)
        if layers == 1:
            g_transfer[:, -1, :, 3] = (kron_vjp(saved[0], g_rows) * plan.zpart).sum(1)
        else:
            factors = saved.pop(0) if plan.z_mask is None else None
            coeffs, strings, terms, early, *views = saved
            for layer in range(layers - 2):  # undo the dense layers, first applied last
                for q in reversed(range(n)):
                    view = views.pop()
                    g_out = g_rows.reshape(view.shape)
                    g_transfer[:, layer, q] = torch.einsum("cmar,cmbr->cab", view, g_out)
                    g_rows = torch.einsum("cmbr,cab->cmar", g_out, early[:, layer, q])
                g_rows = g_rows.reshape(circuits, -1, 4**n)
                if plan.image is not None:
                    g_rows = (g_rows * plan.sign.T)[..., plan.inverse]
            g_coeffs = g_rows @ terms.transpose(-1, -2)
            g_strings = kron_vjp(strings, coeffs.transpose(-1, -2) @ g_rows)
            g_prev = torch.zeros(circuits, 4 * n, 4, dtype=grad.dtype)
            g_prev.index_add_(1, plan.index, g_strings.reshape(circuits, -1, 4))
            g_transfer[:, -2] = g_prev.reshape(circuits, n, 4, 4)
            if factors is not None:
                g_factors = kron_vjp(factors, g_coeffs * plan.string_sign)
                g_wires = (g_factors * plan.zpart[:, plan.wires]).sum(1)  # (C, m, 4)
            else:
                g_z = (g_coeffs * plan.z_mask).sum(1).reshape(circuits, -1, 3)
                g_wires = torch.nn.functional.pad(g_z, (1, 0))
            g_transfer[:, -1, plan.wires, 3] = g_wires
        return (dtransfer * g_transfer.unsqueeze(-3)).sum((-1, -2)), None


class PauliReadout(torch.autograd.Function):
    """``out[b] = kron_q bloch(x[b, q]) @ readout`` (one step of a block, all its circuits).

    Inputs:
        x: ``(B, n)`` real inputs; readout: ``(4**n, C * m)`` real (:func:`readout_matrix`);
        circuits: C; kind: encoding name; path: one of :data:`PATHS` (no gradients).

    Output: ``(B, C, m)``.

    When ``x`` needs a gradient, the forward product also takes the n derivative features
    (``kron`` with ``d bloch / d x_q`` in slot q, :func:`~qrnn.sim.pauli.derivative_slots`),
    giving the Jacobian ``J (B, n, M)``; backward: ``g_x = J g``, ``g_readout = feat^T g``.
    On the CPU the forward pass is one compiled call (:func:`qrnn.sim.pauli_kernel.readout`);
    with ``path="reference"``, without a C compiler and on other devices it runs
    :func:`pauli_readout_torch`.
    """

    @staticmethod
    def forward(ctx, x, readout, circuits, kind, path="auto"):
        batch = x.shape[0]
        jacobian, features = ctx.needs_input_grad[:2]
        if compiled(x, path):
            out, feats, jac = pauli_kernel.readout(x, readout, kind, jacobian, features)
        else:
            out, feats, jac = pauli_readout_torch(x, readout, kind, jacobian)
        ctx.save_for_backward(feats, jac)
        return out.reshape(batch, circuits, -1)

    @staticmethod
    def backward(ctx, grad):
        feats, jacobian = ctx.saved_tensors
        grad = grad.reshape(grad.shape[0], -1)
        g_x = (jacobian @ grad.unsqueeze(-1)).squeeze(-1) if ctx.needs_input_grad[0] else None
        g_readout = feats.T @ grad if ctx.needs_input_grad[1] else None
        return g_x, g_readout, None, None, None


def pauli_readout_torch(x: torch.Tensor, readout: torch.Tensor, kind: str, jacobian: bool):
    """The torch path of :class:`PauliReadout` (reference and fallback of
    :func:`qrnn.sim.pauli_kernel.readout`).

    Returns ``(out (B, M), feats (B, 4**n), jac (B, n, M) or None)``."""
    batch, n = x.shape
    vecs, dvecs = bloch_vectors(kind, x, jacobian)  # (B, n, 4)
    if dvecs is None:
        vecs = vecs.unsqueeze(1)
    else:
        vecs = torch.where(derivative_slots(n), dvecs.unsqueeze(1), vecs.unsqueeze(1))
    feats = kron_vectors(vecs)  # (B, 1 [+ n], 4**n)
    out = (feats.reshape(-1, readout.shape[0]) @ readout).reshape(batch, -1, readout.shape[1])
    return out[:, 0], feats[:, 0], out[:, 1:] if jacobian else None
