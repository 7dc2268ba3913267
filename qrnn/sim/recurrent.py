"""Fused recurrent quantum cell: a whole QLSTM sequence as one autograd node.

The cell is Chen, Yoo & Fang's QLSTM: six variational circuits of ``n`` qubits (one
:class:`~qrnn.circuit.BlockSpec`, every qubit read as <Z>), shared over time and batch.
With ``v_t = [x_t, h_{t-1}]`` (``input_size + hidden_size <= n`` values, zero-padded to ``n``)::

    f, i, o = sigmoid(VQC_0, VQC_1, VQC_3 (v_t)),  g = tanh(VQC_2(v_t))     (n each)
    c_t = f * c_{t-1} + i * g,  u_t = o * tanh(c_t)
    h_t = VQC_4(u_t)[:hidden_size],  y_t = VQC_5(u_t)                       (y: n values)

Two ways to run it, chosen by ``path`` (:func:`kernels.contract.check_path`):

* ``"reference"`` (:func:`reference_sequence`): the per-step torch code, one
  :class:`~qrnn.sim.block.CompiledBlock` call (itself on ``path="reference"``) for the four
  gate circuits and one for the two output circuits per step, the cell arithmetic in torch.
* ``"cpu"`` (:class:`FusedQLSTM`): the circuits' readout matrix ``R (4**n, 6 n)`` (the
  ``"pauli"`` method of :mod:`qrnn.sim.pauli`, Heisenberg picture) is built once per call; the
  time loop (encoding, Pauli features, products with ``R``, gates, cell update) runs in one
  call of :file:`recurrent.c`, and its backward pass is one BPTT call giving the gradients
  of ``x``, the initial state and ``R`` (then through the readout build to the weights).
* ``"auto"``: compiled on the CPU when a C compiler is there, otherwise the reference after
  one warning.

Shapes: ``x (B, T, input_size)``; ``state`` ``(h (B, hidden_size), c (B, n))`` or None for
zeros; returns ``(ys (B, T, n), hs (B, T, hidden_size), c_T (B, n))``. The computation runs
in the weights' dtype (float32 or float64).
"""

from __future__ import annotations

import ctypes
from functools import lru_cache
from pathlib import Path

import torch
from torch import Tensor

from kernels import cpu_build
from kernels.contract import AUTO, REFERENCE, check_path
from qrnn.circuit import BlockSpec, real_tensor
from qrnn.sim import pauli_kernel
from qrnn.sim.block import PAULI_MAX_QUBITS, CompiledBlock, stack_weights
from qrnn.sim.fused import two_layer
from qrnn.sim.pauli import clifford_action, observable_rows, rotation_transfer
from qrnn.sim.pauli_kernel import ENCODING_CODES, ROTATION_CODES

GATE_CIRCUITS, OUT_CIRCUITS = 4, 2
CIRCUITS = GATE_CIRCUITS + OUT_CIRCUITS
"""The QLSTM's circuits: forget, input, candidate, output gates, then hidden and output."""
PATHS = ("cpu",)
"""Compiled choices of ``path`` (:func:`kernels.contract.check_path`), named as in
:mod:`qrnn.sim.fused`."""
_SOURCES = [Path(__file__).with_name(name) for name in ("recurrent.c", "recurrent_gated.c")]
_FLOAT = "#define REAL float\n#define SFX(name) name##_f32\n#define MATH(fn) fn##f\n"
_UNDEF = "\n#undef REAL\n#undef SFX\n#undef MATH\n"


def _source() -> str:
    """The C text: a float32 copy of :file:`recurrent.c` and :file:`recurrent_gated.c`, then
    the files as written (float64)."""
    text = "\n".join(cpu_build.source_file(path) for path in _SOURCES)
    return _FLOAT + text + _UNDEF + text


_PTR, _I32, _SIZE = ctypes.c_void_p, ctypes.c_int, ctypes.c_size_t
_SIGNATURES = {
    "qlstm_forward": [_I32] * 7 + [_PTR] * 8 + [_SIZE],
    "qlstm_backward": [_I32] * 5 + [_PTR, _SIZE] + [_PTR] * 7,
    "qlstm_forward2": [_I32] * 8 + [_PTR] * 10 + [_SIZE],
    "qlstm_backward2": [_I32] * 6 + [_PTR] * 4 + [_SIZE] + [_PTR] * 7,
    "gated_forward": [_I32] * 7 + [_PTR] * 5 + [_SIZE],
    "gated_backward": [_I32] * 6 + [_PTR, _SIZE] + [_PTR] * 4,
}
LIBRARY = cpu_build.Library("recurrent", _source, "fused recurrent quantum kernels",
                           cpu_build.per_precision(_SIGNATURES))
"""The compiled kernels (built on first use; ``LIBRARY.error`` says why if impossible)."""


def record_size(n: int) -> int:
    """Values the forward pass keeps per time step and sample for BPTT (as in the C file):
    two feature vectors, both input Jacobians, four gates, ``c_{t-1}`` and ``tanh(c_t)``."""
    return 2 * 4**n + n * CIRCUITS * n + (GATE_CIRCUITS + 2) * n


def _ptr(t: Tensor | None):
    return None if t is None else t.data_ptr()


class FusedQLSTM(torch.autograd.Function):
    """The QLSTM sequence from the circuit weights: readout build, forward and BPTT compiled.

    Inputs:
        x: ``(B, T, input_size)``; weights: ``(6, *spec.weight_shape)``; h0
        ``(B, hidden_size)``, c0 ``(B, n)`` or both None for zeros, all of one dtype
        (float32/float64) on the CPU; spec: the circuits' :class:`~qrnn.circuit.BlockSpec`;
        hidden: hidden_size (no gradients for the last two).

    Outputs: ``ys (B, T, n)``, ``hs (B, T, hidden_size)``, ``c_T (B, n)``.

    Forward: the readout matrix ``R (4**n, 6 n)`` of the six circuits (column ``c n + k``
    the <Z_k> row of circuit c) from the rotations' Pauli transfer matrices, then the time
    loop of :file:`recurrent.c`, which keeps :func:`record_size` values per step and sample
    (features and input Jacobians of both readouts, the gates) when any input needs a
    gradient. Backward: one pass back in time per sample (gradients of x, h0, c0 and ``R``),
    then ``R``'s gradient back to the angles. Two-layer circuits (:func:`structured`) do
    all of it in one compiled call each way (``qlstm_forward2``, ``qlstm_backward2``: the
    build of ``pauli_readout2.h`` inside); others build ``R`` by :func:`_readout` and take
    its gradient back by :func:`readout_weight_grad`.
    """

    @staticmethod
    def forward(ctx, x, weights, h0, c0, spec, hidden):
        batch, steps, inputs = x.shape
        n = spec.n_qubits
        weights, x = weights.contiguous(), x.contiguous()
        h0, c0 = _contiguous(h0), _contiguous(c0)
        ys, hs = x.new_empty(batch, steps, n), x.new_empty(batch, steps, hidden)
        c_out = x.new_empty(batch, n)
        train = any(ctx.needs_input_grad[:4])
        ctx.set_materialize_grads(False)  # outputs without a gradient come back as None
        record = record_size(n)
        saved = x.new_empty(steps, batch, record) if train else None
        sizes = (batch, steps, n, inputs, hidden)
        code, x_grad = ENCODING_CODES[spec.encoding], int(ctx.needs_input_grad[0])
        ctx.layer = layer = _layer(spec, x.dtype)
        outputs = (x.data_ptr(), _ptr(h0), _ptr(c0), ys.data_ptr(), hs.data_ptr(),
                   c_out.data_ptr(), _ptr(saved), record)
        if structured(spec):  # readout build inside the call
            readout = transfer = dtransfer = None
            failed = LIBRARY.function("qlstm_forward2", x.dtype)(
                *sizes, code, x_grad, ROTATION_CODES[spec.rotation], weights.data_ptr(),
                *map(_ptr, layer), *outputs)
        else:
            grad_w = ctx.needs_input_grad[1] and spec.n_layers > 0
            readout, transfer, dtransfer, _ = _readout(spec, weights, grad_w)
            failed = LIBRARY.function("qlstm_forward", x.dtype)(
                *sizes, code, x_grad, outputs[0], readout.data_ptr(), *outputs[1:])
        if failed:
            raise MemoryError(f"fused QLSTM kernel could not allocate its scratch (n={n})")
        if train:
            ctx.save_for_backward(saved, readout, weights, transfer, dtransfer)
            ctx.sizes, ctx.spec = sizes, spec
        return ys, hs, c_out

    @staticmethod
    def backward(ctx, g_ys, g_hs, g_c):
        saved, readout, weights, transfer, dtransfer = ctx.saved_tensors
        spec, (batch, steps, n, inputs, hidden) = ctx.spec, ctx.sizes
        needs = ctx.needs_input_grad
        g_x = saved.new_empty(batch, steps, inputs) if needs[0] else None
        g_h0 = saved.new_empty(batch, hidden) if needs[2] else None
        g_c0 = saved.new_empty(batch, n) if needs[3] else None
        grads = [None if g is None else g.contiguous() for g in (g_ys, g_hs, g_c)]
        common = (saved.data_ptr(), saved.shape[-1], *map(_ptr, grads), _ptr(g_x))
        g_w = None
        if structured(spec):
            g_w = torch.empty_like(weights)
            failed = LIBRARY.function("qlstm_backward2", saved.dtype)(
                *ctx.sizes, ROTATION_CODES[spec.rotation], weights.data_ptr(),
                *map(_ptr, ctx.layer), *common, g_w.data_ptr(), _ptr(g_h0), _ptr(g_c0))
        else:
            g_r = torch.zeros_like(readout)
            failed = LIBRARY.function("qlstm_backward", saved.dtype)(
                *ctx.sizes, *common, g_r.data_ptr(), _ptr(g_h0), _ptr(g_c0))
            if needs[1] and not failed:
                g_w = readout_weight_grad(ctx, spec, weights, readout, transfer, dtransfer, g_r)
        if failed:
            raise RuntimeError(f"fused QLSTM backward rejected its sizes (n={n})")
        return g_x, g_w if needs[1] else None, g_h0, g_c0, None, None


def _contiguous(t: Tensor | None) -> Tensor | None:
    return None if t is None else t.contiguous()


@lru_cache(maxsize=64)
def _layer(spec: BlockSpec, dtype: torch.dtype):
    """The entangling layer's ``(image, sign)`` (:func:`~qrnn.sim.pauli.clifford_action`) or
    ``(None, None)``. (Cached: do not modify.)"""
    pairs = spec.entangler_pairs()
    return clifford_action(pairs, spec.n_qubits, dtype) if pairs else (None, None)


def _readout(spec: BlockSpec, weights: Tensor, derivative: bool):
    """``(R (4**n, C m), transfer, dtransfer, (image, sign))`` of C circuits (``weights``
    ``(C, *spec.weight_shape)``, contiguous) reading ``m = len(spec.wires)`` values each.

    Two-layer circuits that read qubits ``0..m-1`` are built from the angles by the
    structured :func:`qrnn.sim.pauli_kernel.readout2` (no transfer matrices returned: backward
    recomputes them); others by :func:`qrnn.sim.pauli_kernel.heisenberg` from
    :func:`~qrnn.sim.pauli.rotation_transfer` (and its derivatives when ``derivative``)."""
    n, dtype, circuits = spec.n_qubits, weights.dtype, weights.shape[0]
    wires = spec.wires
    pairs = spec.entangler_pairs()
    layer = clifford_action(pairs, n, dtype) if pairs else (None, None)
    obs = observable_rows(n, wires, False, dtype)
    if spec.n_layers == 0:
        return obs.T.repeat(1, circuits).contiguous(), None, None, layer
    if structured(spec):
        return pauli_kernel.readout2(weights, len(wires), spec.rotation, *layer), None, None, layer
    if derivative:
        transfer, dtransfer = rotation_transfer(spec.rotation, weights, derivative=True)
    else:
        transfer, dtransfer = rotation_transfer(spec.rotation, weights), None
    return pauli_kernel.heisenberg(transfer, obs, *layer), transfer, dtransfer, layer


@lru_cache(maxsize=64)
def structured(spec: BlockSpec) -> bool:
    """Whether :func:`_readout` builds ``spec``'s readout with the structured C kernel."""
    return two_layer(spec.n_layers, spec.wires, spec.measurement == "probs")


def readout_weight_grad(ctx, spec: BlockSpec, weights, readout, transfer, dtransfer, g_r):
    """The angles' gradient ``(C, *spec.weight_shape)`` from the readout's ``g_r``."""
    if spec.n_layers == 0:  # the readout does not depend on the (empty) weights
        return torch.zeros_like(weights)
    if structured(spec):
        return pauli_kernel.readout2_backward(weights, len(spec.wires), spec.rotation, g_r,
                                              *ctx.layer)
    g_t = pauli_kernel.heisenberg_backward(transfer, readout, g_r, *ctx.layer)
    return (dtransfer * g_t.unsqueeze(-3)).sum((-1, -2))


def reference_sequence(gates, outs, x: Tensor, h0: Tensor, c0: Tensor):
    """The QLSTM sequence step by step in torch (the reference of :class:`FusedQLSTM`).

    Args:
        gates: callable ``v (B, n) -> (B, 4, n)``, the four gate circuits (f, i, g, o).
        outs: callable ``u (B, n) -> (B, 2, n)``, the hidden and output circuits.
        x: ``(B, T, input_size)``; h0: ``(B, hidden_size)``; c0: ``(B, n)``; the circuits
            read ``[x_t, h_{t-1}]`` zero-padded to ``n``.

    Returns:
        ``(ys (B, T, n), hs (B, T, hidden_size), c_T (B, n))``.
    """
    hidden, pad = h0.shape[1], c0.shape[1] - x.shape[2] - h0.shape[1]
    h, c, ys, hs = h0, c0, [], []
    for t in range(x.shape[1]):
        z = gates(torch.nn.functional.pad(torch.cat([x[:, t], h], 1), (0, pad)))
        f, i, o = torch.sigmoid(z[:, 0]), torch.sigmoid(z[:, 1]), torch.sigmoid(z[:, 3])
        c = f * c + i * torch.tanh(z[:, 2])
        w = outs(o * torch.tanh(c))
        h = w[:, 0, :hidden]
        ys.append(w[:, 1])
        hs.append(h)
    return torch.stack(ys, 1), torch.stack(hs, 1), c


def check_cell(spec: BlockSpec, input_size: int, hidden_size: int) -> None:
    """Raise a one-line error unless ``spec`` and the sizes make a QLSTM cell."""
    if not isinstance(spec, BlockSpec):
        raise TypeError(f"spec must be a BlockSpec, got {type(spec).__name__}")
    n = spec.n_qubits
    if spec.measurement != "z" or spec.wires != tuple(range(n)):
        raise ValueError(f"the QLSTM cell reads <Z> of every qubit in order; spec has "
                         f"measurement={spec.measurement!r}, measured={spec.measured!r}")
    if input_size < 1 or hidden_size < 1 or input_size + hidden_size > n:
        raise ValueError(f"input_size + hidden_size = {input_size} + {hidden_size} must be "
                         f"sizes >= 1 that fit n_qubits={n}: the circuits read [x_t, h_(t-1)]")
    if n > PAULI_MAX_QUBITS:
        raise ValueError(f"n_qubits={n} exceeds the QLSTM cell's limit of {PAULI_MAX_QUBITS}")


def resolve_path(path: str, x: Tensor) -> str:
    """``"cpu"`` or ``"reference"`` for ``path`` (validated) and tensor ``x``.

    ``"auto"`` takes the kernel for CPU tensors when it can be compiled, else warns once and
    takes the reference; ``"cpu"`` raises if the kernel is unavailable."""
    path = check_path(path, PATHS)
    if path == AUTO:
        if not x.is_cpu:
            return REFERENCE
        if LIBRARY.available() and pauli_kernel.available():
            return "cpu"
        reason = LIBRARY.error or pauli_kernel.LIBRARY.error
        cpu_build.warn_once("recurrent", f"the fused recurrent quantum kernels are unavailable "
                            f"({reason}); the quantum cells run their per-step torch path")
        return REFERENCE
    if path == "cpu":
        LIBRARY.require()
        pauli_kernel.LIBRARY.require()
        if not x.is_cpu:
            raise ValueError(f"path='cpu' runs on the CPU; x is on {x.device}")
    return path


def qlstm_sequence(spec: BlockSpec, weights, x: Tensor, state=None, *,
                   hidden_size: int | None = None, path: str = AUTO):
    """Run a QLSTM over a sequence (see the module docstring for the cell).

    Args:
        spec: the circuits (all six share it): <Z> of every qubit, ``n_qubits <= 6``.
        weights: six tensors of ``spec.weight_shape`` or one ``(6, *spec.weight_shape)``,
            in the order f, i, g, o gates, hidden circuit, output circuit.
        x: ``(B, T, input_size)``.
        state: ``(h0 (B, hidden_size), c0 (B, n_qubits))`` or None for zeros.
        hidden_size: default ``n_qubits - input_size``; ``input_size + hidden_size <=
            n_qubits`` (the circuits' unused qubits read 0).
        path: ``"auto"``, ``"reference"`` (the per-step torch code throughout, also inside
            the circuits) or ``"cpu"`` (the fused kernel).

    Returns:
        ``(ys (B, T, n_qubits), hs (B, T, hidden_size), c_T (B, n_qubits))``.
    """
    if not isinstance(x, Tensor) or x.ndim != 3:
        raise ValueError(f"x must be a (batch, time, input_size) tensor, got "
                         f"{tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__}")
    hidden = spec.n_qubits - x.shape[-1] if hidden_size is None else hidden_size
    check_cell(spec, x.shape[-1], hidden)
    stacked = _six(spec, weights)
    x = real_tensor("x", x).to(stacked.dtype)
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"x has shape {tuple(x.shape)}; batch and time must be >= 1")
    return run_sequence(spec, stacked, x, state, hidden, path)


def run_sequence(spec: BlockSpec, weights: Tensor, x: Tensor, state, hidden: int, path: str):
    """:func:`qlstm_sequence` once its arguments are known valid: ``weights`` one ``(6,
    *spec.weight_shape)`` tensor and ``x`` a finite ``(B, T, input_size)`` tensor of its dtype
    (a :class:`~qrnn.qlstm.QLSTM` body checks x and holds valid weights; ``state`` and
    ``path`` are still checked here)."""
    path = resolve_path(path, x)
    if state is None and path != REFERENCE:
        h0 = c0 = None  # zeros, inside the kernel
    else:
        h0, c0 = _state(state, x.shape[0], hidden, spec.n_qubits, x.dtype)
    if path == REFERENCE:
        block = CompiledBlock(spec, list(weights), path=REFERENCE)
        gates, outs = block.split([GATE_CIRCUITS, OUT_CIRCUITS])
        return reference_sequence(gates, outs, x, h0, c0)
    return FusedQLSTM.apply(x, weights, h0, c0, spec, hidden)


def _six(spec: BlockSpec, weights) -> Tensor:
    """The six circuits' weights as one ``(6, *weight_shape)`` tensor, validated (a tensor of
    that shape is used as it is; a sequence of six is stacked)."""
    shape = (CIRCUITS, *spec.weight_shape)
    if isinstance(weights, Tensor):
        if tuple(weights.shape) != shape:
            raise ValueError(f"weights have shape {tuple(weights.shape)}; expected {shape} or "
                             f"a sequence of {CIRCUITS} tensors of shape {spec.weight_shape}")
        return real_tensor("weights", weights)
    if len(weights) != CIRCUITS:
        raise ValueError(f"weights is a sequence of {len(weights)} tensors; expected "
                         f"{CIRCUITS} of shape {spec.weight_shape}")
    stacked = stack_weights(spec, weights)
    if stacked.ndim != 4:
        raise ValueError("per-sample weights are not supported by the QLSTM cell")
    return stacked


def _state(state, batch: int, hidden: int, n: int, dtype: torch.dtype):
    """``(h0 (B, hidden), c0 (B, n))`` from ``state`` (None: zeros), validated."""
    if state is None:
        return torch.zeros(batch, hidden, dtype=dtype), torch.zeros(batch, n, dtype=dtype)
    if not isinstance(state, (tuple, list)) or len(state) != 2:
        raise ValueError("state must be None or a pair (h0 (batch, hidden), c0 (batch, n))")
    h0, c0 = (real_tensor(name, s).to(dtype) for name, s in zip(("h0", "c0"), state, strict=True))
    if h0.shape != (batch, hidden) or c0.shape != (batch, n):
        raise ValueError(f"state has shapes {tuple(h0.shape)}, {tuple(c0.shape)}; expected "
                         f"({batch}, {hidden}) and ({batch}, {n})")
    return h0, c0


__all__ = [
    "FusedQLSTM",
    "LIBRARY",
    "check_cell",
    "qlstm_sequence",
    "record_size",
    "reference_sequence",
    "resolve_path",
    "run_sequence",
]
