"""Fast execution of a :class:`~qrnn.circuit.BlockSpec`: compile the weights once, call per step.

Three methods, chosen by size and weight sharing (``method="auto"``):

* ``"pauli"``: for shared weights and very few qubits, the measured observables are evolved
  back through the layers once per :class:`CompiledBlock` into a real ``(4**n, outputs)``
  matrix (:mod:`qrnn.sim.pauli`); a call is the product of that matrix with the Pauli
  features of the encoded product state, one autograd node whose forward pass also yields
  the input Jacobian (on the CPU both the build and the step are compiled C,
  :mod:`qrnn.sim.pauli_kernel`). Two-layer blocks reading <Z> of qubits ``0..m-1`` build
  the matrix with the first call, as one node (:class:`qrnn.sim.pauli_nodes.PauliBlock`);
  later calls and :meth:`CompiledBlock.split` build it once more, as a matrix they share.
  Exact values only: states and shots go through the unitary.
* ``"unitary"``: for shared weights and few qubits, the variational part (all layers) is one
  dense ``2**n x 2**n`` matrix built once per :class:`CompiledBlock` (each rotation layer is
  the Kronecker product of its 2x2 gates, each entangling layer a basis permutation). A call
  is then encoding (product state) + one matrix product + readout, run as one autograd node
  (:mod:`qrnn.sim.fused`) for <Z>; several circuits that share an input (QLSTM's gates) are
  one product with their unitaries concatenated.
* ``"gates"``: layer by layer on the batched state: one basis permutation per entangling
  layer, and the rotations of every :data:`GROUP_QUBITS` neighbouring qubits fused into one
  matrix applied in place; needed for per-sample weights and for many qubits (memory grows
  with ``batch * 2**n``, not ``4**n``). With shared weights and exact <Z> on the CPU a call
  (``"auto"``: above :data:`AUTO_PAULI_MAX_QUBITS` qubits) is one compiled node instead
  (:mod:`qrnn.sim.state_kernel`: the batch's state vectors in C, gradients by the adjoint
  method), with the torch code as its reference.

Everything is differentiable; the torch code runs float32 inputs in complex64, float64 in
complex128, and every compiled path has it as its reference (``path="reference"``).
"""

from __future__ import annotations

import copy
from collections.abc import Sequence
from functools import lru_cache

import torch

from kernels.contract import check_path
from qrnn.circuit import (
    BlockSpec,
    CircuitBlock,
    check_inputs,
    check_weights,
    qubit_count_error,
    real_tensor,
)
from qrnn.sim import state_kernel
from qrnn.sim.encode import encode
from qrnn.sim.fused import PATHS, BlockUnitary, EncodedExpvalZ, PauliReadout, readout_matrix
from qrnn.sim.fused import compiled as pauli_compiled
from qrnn.sim.gates import (
    apply_group,
    apply_permutation,
    cnot_permutation,
    complex_dtype,
    inverse_permutation,
    kron_qubits,
    rotation_matrices,
)
from qrnn.sim.measure import (
    marginal,
    probabilities,
    sampled_expval_z,
    sampled_probs,
    state_expval_z,
    z_signs,
)
from qrnn.sim.pauli import clifford_action
from qrnn.sim.pauli_nodes import PauliBlock, two_layer
from qrnn.sim.state_kernel import StateBlock

PAULI_MAX_QUBITS = 6
"""Largest block the ``"pauli"`` method accepts (4096 features per sample)."""
UNITARY_MAX_QUBITS = 12
"""Largest block the ``"unitary"`` method accepts (a 4096 x 4096 complex matrix per circuit)."""
GATES_MAX_QUBITS = 20
"""Largest block the ``"gates"`` method accepts (16 MiB per complex128 amplitude vector)."""
GROUP_QUBITS = 4
"""The gate method fuses the rotations of this many neighbouring qubits into one matrix."""
AUTO_PAULI_MAX_QUBITS = 4
"""``method="auto"`` takes the Pauli readout for shared weights up to this size: measured
faster than the compiled state vectors at 4 qubits, for one call and for a build with
several steps; from 5 qubits its ``4**n`` features cost more."""
AUTO_UNITARY_MAX_QUBITS = 6
"""``method="auto"`` builds one unitary for shared weights up to this size when the compiled
state-vector kernel does not apply (no C compiler, probabilities, shots,
``path="reference"``); with it, the ``"gates"`` method runs compiled above
:data:`AUTO_PAULI_MAX_QUBITS`."""
METHODS = ("auto", "pauli", "unitary", "gates")
_LIMITS = {"pauli": PAULI_MAX_QUBITS, "unitary": UNITARY_MAX_QUBITS, "gates": GATES_MAX_QUBITS}


def qubit_groups(n: int, size: int) -> tuple[tuple[int, int], ...]:
    """Contiguous ``(first qubit, count)`` groups of at most ``size`` qubits covering ``n``."""
    return tuple((lo, min(size, n - lo)) for lo in range(0, n, size))


def layer_matrices(mats: torch.Tensor, groups) -> list[torch.Tensor]:
    """Fuse each group's rotations: ``(..., L, n, 2, 2)`` -> per group ``(..., L, d, d)``."""
    return [kron_qubits(mats, lo, lo + k) for lo, k in groups]


def apply_layers(
    spec: BlockSpec, state: torch.Tensor, fused: list[torch.Tensor], groups, perm
) -> torch.Tensor:
    """Apply ``n_layers`` x (entangler permutation, fused rotations of every qubit group).

    Args:
        state: ``(C', B, 2**n)`` complex.
        fused: from :func:`layer_matrices`, each ``(C, 1 or B, n_layers, d, d)``.
        groups: the ``(first qubit, count)`` groups ``fused`` was built for.
        perm: entangler permutation from :func:`~qrnn.sim.gates.cnot_permutation` or None.

    Returns:
        ``(C, B, 2**n)``.
    """
    n = spec.n_qubits
    for layer in range(spec.n_layers):
        if perm is not None:
            state = apply_permutation(state, perm)
        for (lo, k), mat in zip(groups, fused, strict=True):
            state = apply_group(state, mat[:, :, layer], lo, k, n)
    return state


def choose_method(spec: BlockSpec, method: str, per_sample: bool, kernel: bool = False) -> str:
    """Resolve ``method`` for this block, or raise naming the limit that is exceeded.

    ``kernel``: whether a ``"gates"`` block would run the compiled state-vector kernel
    (:mod:`qrnn.sim.state_kernel`); ``"auto"`` then takes it above
    :data:`AUTO_PAULI_MAX_QUBITS` instead of a unitary."""
    if method not in METHODS:
        raise ValueError(f"method={method!r} is not allowed; choose one of {METHODS}")
    n = spec.n_qubits
    if method == "auto":
        if per_sample or n > AUTO_UNITARY_MAX_QUBITS or (kernel and n > AUTO_PAULI_MAX_QUBITS):
            method = "gates"
        else:
            method = "pauli" if n <= AUTO_PAULI_MAX_QUBITS else "unitary"
    if method != "gates" and per_sample:
        raise ValueError(
            f"method={method!r} needs shared weights of shape "
            f"{spec.weight_shape}; per-sample weights need method='gates' or 'auto'"
        )
    limit = _LIMITS[method]
    if n > limit:
        raise qubit_count_error(method, n, limit)
    return method


class CompiledBlock(CircuitBlock):
    """A block with its weights prepared once; call it on each time step's inputs.

    Args:
        spec: the circuit description.
        weights: one tensor of shape ``spec.weight_shape`` (shared) or
            ``(batch, *spec.weight_shape)`` (per sample), or a sequence of C such tensors
            (C circuits of the same spec sharing every input, e.g. QLSTM's gates).
        method: ``"auto"``, ``"pauli"``, ``"unitary"`` or ``"gates"`` (see module docstring).
        path: ``"auto"`` (the compiled Pauli kernels where they apply), ``"reference"`` (the
            torch code) or ``"cpu"`` (force the compiled kernels); see
            :func:`qrnn.sim.fused.compiled`.
        shots: None for exact values (differentiable), or a positive number of shots per
            sample and circuit; sampled estimates carry no gradient.
        generator: the random source of the shots (required when ``shots`` is given).

    Calling ``block(x)`` with ``x`` of shape ``(batch, n_qubits)`` returns
    ``(batch, spec.output_size)`` for one weight tensor and ``(batch, C, spec.output_size)``
    for a sequence; an unbatched ``x`` of shape ``(n_qubits,)`` with shared weights drops the
    batch axis. The computation runs in the weights' dtype (float32 -> complex64).

    A NaN or infinity in the weights or in ``x`` raises a ValueError naming which. One shared
    tensor of a two-layer block on the compiled Pauli path is built with the first call,
    whose kernel checks the weights and ``x`` as it reads them, so there the weights' error
    comes with the first call (or :meth:`states`/:meth:`split`); every other set-up checks
    the weights here.
    """

    def __init__(
        self,
        spec: BlockSpec,
        weights,
        method: str = "auto",
        *,
        path: str = "auto",
        shots: int | None = None,
        generator: torch.Generator | None = None,
    ) -> None:
        if not isinstance(spec, BlockSpec):
            raise TypeError(f"spec must be a BlockSpec, got {type(spec).__name__}")
        check_shots(shots)
        if shots is not None and not isinstance(generator, torch.Generator):
            raise TypeError("shots were given without generator=torch.Generator(); seed one")
        self.spec, self.path = spec, check_path(path, PATHS[2:])
        self.shots, self.generator = shots, generator
        self.multi = isinstance(weights, Sequence) and not isinstance(weights, torch.Tensor)
        self._unitary_rows = self._readout = None
        self._fresh = False  # True: the Pauli build runs with the first call (PauliBlock)
        layer = None if self.multi or shots is not None else fused_layer(spec, weights, method,
                                                                          self.path)
        if layer is not None:  # one shared tensor: the build runs with the first call
            self._single, self._stacked, self._layer, self._fresh = weights, None, layer, True
            self.batch, self.dtype, self.method, self.n_circuits = None, weights.dtype, "pauli", 1
            return
        stacked = stack_weights(spec, weights if self.multi else [weights])  # (C, [B,] L, n, k)
        self.batch = stacked.shape[1] if stacked.ndim == 5 else None
        self.dtype = stacked.dtype
        per_sample = self.batch is not None
        kernel = (method in ("auto", "gates") and spec.n_qubits > AUTO_PAULI_MAX_QUBITS
                  and state_kernel.applies(spec.n_qubits, spec.measurement, per_sample, shots)
                  and state_kernel.compiled(stacked, self.path))
        self.method = choose_method(spec, method, per_sample, kernel)
        self.n_circuits = stacked.shape[0]
        n = spec.n_qubits
        pairs = entangler_pairs(spec)
        self._stacked = stacked
        single = not self.multi and isinstance(weights, torch.Tensor) and weights.ndim == 3
        self._single = weights if single else None  # one shared tensor, as given
        if self.method == "pauli":
            layer = None if shots is not None else _fused_layer(spec, "pauli", self.dtype)
            if layer is not None and pauli_compiled(stacked, self.path):  # built with step 1
                self._layer, self._fresh = layer, True
            else:
                self._readout = readout_matrix(stacked, spec.rotation, pairs, spec.wires,
                                               spec.measurement == "probs", self.path)
        elif self.method == "unitary":
            self._unitary()
        else:
            self._groups = qubit_groups(n, GROUP_QUBITS)
            self._perm = cnot_permutation(pairs, n) if pairs else None
            self._fused = None  # the torch path's fused rotations, built on first use
            self._kernel = kernel or (state_kernel.applies(n, spec.measurement, per_sample, shots)
                                      and state_kernel.compiled(stacked, self.path))
            if not self._kernel:
                self._layer_matrices()

    def _weights(self) -> torch.Tensor:
        """The weights stacked, ``(C, [B,] L, n, k)``; a block set up by :func:`fused_layer`
        stacks (and checks) its one tensor here, on first use."""
        if self._stacked is None:
            self._stacked = stack_weights(self.spec, [self._single])
        return self._stacked

    def _pauli_readout(self) -> torch.Tensor:
        """The ``"pauli"`` method's readout matrix; a block that builds it with its first call
        (:class:`~qrnn.sim.pauli_nodes.PauliBlock`, scratch there) builds it here, once, for
        later calls and :meth:`split`."""
        if self._readout is None:
            spec = self.spec
            self._readout = readout_matrix(self._weights(), spec.rotation,
                                           entangler_pairs(spec), spec.wires, False, self.path)
            self._fresh = False
        return self._readout

    def _layer_matrices(self) -> list[torch.Tensor]:
        """The ``"gates"`` method's fused rotations (:func:`layer_matrices`), built once."""
        if self._fused is None:
            mats = rotation_matrices(self.spec.rotation, self._stacked)  # (C, [B,] L, n, 2, 2)
            if self.batch is None:
                mats = mats.unsqueeze(1)  # broadcast over the batch
            self._fused = layer_matrices(mats, self._groups)
        return self._fused

    def _unitary(self) -> torch.Tensor:
        """The C transposed unitaries side by side, ``(2**n, C * 2**n)`` (built on first use)."""
        if self._unitary_rows is None:
            n, pairs = self.spec.n_qubits, entangler_pairs(self.spec)
            if self.spec.n_layers == 0:
                eye = torch.eye(2**n, dtype=complex_dtype(self.dtype))
                self._unitary_rows = eye.repeat(1, self.n_circuits)
            else:
                perm = cnot_permutation(pairs, n) if pairs else None
                inverse = inverse_permutation(pairs, n) if pairs else None
                self._unitary_rows = BlockUnitary.apply(
                    self._weights(), self.spec.rotation, perm, inverse
                )
        return self._unitary_rows

    def split(self, sizes: Sequence[int]) -> list[CompiledBlock]:
        """This block's circuits in consecutive groups, each callable on its own input.

        One build for circuits that read different inputs (QLSTM: four gate circuits on
        ``[x_t, h]``, two output circuits on ``o * tanh(c)``): ``gates, outs =
        CompiledBlock(spec, six_weights).split([4, 2])``. Each group behaves as a
        :class:`CompiledBlock` of a sequence of ``size`` weight tensors; gradients flow back
        to the one build.
        """
        readout = self._pauli_readout() if self.method == "pauli" else None
        groups, start = [], 0
        for size in self._check_split(sizes):
            group = copy.copy(self)
            group.multi, group.n_circuits, group._single = True, size, None
            cut = slice(start, start + size)
            group._stacked = self._weights()[cut]
            if self._unitary_rows is not None:
                dim = 2**self.spec.n_qubits
                group._unitary_rows = self._unitary_rows[:, start * dim : (start + size) * dim]
            if readout is not None:
                width = readout.shape[1] // self.n_circuits
                group._readout = readout[:, start * width : (start + size) * width]
            elif self.method == "gates" and self._fused is not None:
                group._fused = [mat[cut] for mat in self._fused]
            groups.append(group)
            start += size
        return groups

    def states(self, x) -> torch.Tensor:
        """Final states ``(batch, C, 2**n)`` complex for inputs ``x`` ``([batch,] n_qubits)``."""
        return self._states(check_inputs(self.spec, x))

    def _inputs(self, x: torch.Tensor) -> torch.Tensor:
        xb = x if x.dtype == self.dtype else x.to(self.dtype)
        xb = xb if x.ndim == 2 else xb.unsqueeze(0)
        if self.batch is not None:
            if x.ndim == 2 and x.shape[0] != self.batch:
                raise ValueError(
                    f"x has batch {x.shape[0]} but the per-sample weights have batch {self.batch}"
                )
            xb = xb.expand(self.batch, -1)
        return xb

    def _states(self, x: torch.Tensor) -> torch.Tensor:
        psi = encode(self.spec.encoding, self._inputs(x))  # (B, dim)
        if self.method != "gates":
            out = psi @ self._unitary()
            return out.reshape(psi.shape[0], self.n_circuits, -1)
        state = psi.unsqueeze(0)  # (1, B, dim)
        fused = self._layer_matrices()
        out = apply_layers(self.spec, state, fused, self._groups, self._perm)  # (C, B, dim)
        return out.expand(self.n_circuits, -1, -1).transpose(0, 1)  # C' = 1 without layers

    def __call__(self, x) -> torch.Tensor:
        """Measured outputs for ``x`` ``(batch, n_qubits)`` or ``(n_qubits,)`` (see class
        docstring); sampled estimates when the block was made with ``shots``."""
        spec, shots, generator = self.spec, self.shots, self.generator
        first = self._fresh
        x = check_inputs(spec, x, finite=not first)  # the first Pauli step's kernel checks x
        if self.method == "pauli" and shots is None:
            if first:  # one node with the build
                weights = self._stacked if self._single is None else self._single
                out = PauliBlock.apply(self._inputs(x), weights, spec.rotation, len(spec.wires),
                                       spec.encoding, *self._layer)
                self._fresh = False
                if self._single is not None:  # (B, m): no circuit axis to drop
                    return out.squeeze(0) if x.ndim == 1 else out
            else:
                out = PauliReadout.apply(self._inputs(x), self._pauli_readout(),
                                         self.n_circuits, spec.encoding, self.path)
            return self._shape(out, x)
        n, wires = spec.n_qubits, spec.wires
        if self.method == "gates" and self._kernel:
            out = StateBlock.apply(self._inputs(x), self._stacked, spec.encoding, spec.rotation,
                                   self._perm, measured_wires(wires))
            return self._shape(out, x)
        if self.method == "unitary" and spec.measurement == "z" and shots is None:
            signs = z_signs(n, wires, self.dtype)
            out = EncodedExpvalZ.apply(self._inputs(x), self._unitary(), signs, spec.encoding)
            return self._shape(out, x)
        states = self._states(x)  # (B, C, dim)
        if shots is None and spec.measurement == "z":
            out = state_expval_z(states, wires, n)
        elif shots is None:
            out = marginal(probabilities(states), wires, n)
        else:
            probs = probabilities(states)
            flat = probs.reshape(-1, probs.shape[-1])
            sampler = sampled_expval_z if spec.measurement == "z" else sampled_probs
            out = sampler(flat, wires, n, shots, generator).reshape(*probs.shape[:2], -1)
        return self._shape(out, x)

    def _shape(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """Drop the circuit axis for a single weight tensor and the batch axis if unbatched."""
        if not self.multi:
            out = out.squeeze(1)
        if x.ndim == 1 and self.batch is None:
            out = out.squeeze(0)
        return out


def fused_layer(spec: BlockSpec, weights, method: str, path: str):
    """The CNOT layer ``(image, sign)`` (``(None, None)`` without one) when ``weights`` are one
    shared tensor of ``spec.weight_shape`` whose block runs the compiled two-layer Pauli
    build with its first call (:class:`~qrnn.sim.pauli_nodes.PauliBlock`, whose kernel checks
    the weights' values), else None: the block is set up in full."""
    if (not isinstance(weights, torch.Tensor) or weights.dtype not in (torch.float32,
            torch.float64) or weights.shape != spec.weight_shape):
        return None
    layer = _fused_layer(spec, method, weights.dtype)
    return layer if layer is not None and pauli_compiled(weights, path) else None


@lru_cache(maxsize=256)
def _fused_layer(spec: BlockSpec, method: str, dtype: torch.dtype):
    """:func:`fused_layer` for a valid tensor of ``dtype``, before the kernels' availability
    (also the fused-build test of a block set up in full, with ``method="pauli"``)."""
    if (method not in ("auto", "pauli") or choose_method(spec, method, False) != "pauli"
            or not two_layer(spec.n_layers, spec.wires, spec.measurement == "probs")):
        return None
    pairs = entangler_pairs(spec)
    return clifford_action(pairs, spec.n_qubits, dtype) if pairs else (None, None)


@lru_cache(maxsize=256)
def entangler_pairs(spec: BlockSpec) -> tuple[tuple[int, int], ...]:
    """:meth:`BlockSpec.entangler_pairs`, cached per description (built once per block)."""
    return spec.entangler_pairs()


@lru_cache(maxsize=64)
def measured_wires(wires: tuple[int, ...]) -> torch.Tensor:
    """``wires`` as an int64 tensor (cached: do not modify)."""
    return torch.tensor(wires, dtype=torch.int64)


def stack_weights(spec: BlockSpec, weights: Sequence) -> torch.Tensor:
    """Validate C weight tensors of one shape and stack them: ``(C, [batch,] *weight_shape)``."""
    if not weights:
        raise ValueError("weights is an empty sequence; give at least one weight tensor")
    tensors = [w if isinstance(w, torch.Tensor) else real_tensor("weights", w) for w in weights]
    if len({(w.shape, w.dtype) for w in tensors}) > 1:
        shapes = [(tuple(w.shape), w.dtype) for w in tensors]
        raise ValueError(f"weights in a sequence must share shape and dtype, got {shapes}")
    check_weights(spec, tensors[0])  # shape, dtype, finite
    if len(tensors) == 1:
        return tensors[0].unsqueeze(0)
    return real_tensor("weights", torch.stack(tensors))  # finiteness of all, one reduction


def check_shots(shots) -> None:
    """Raise unless ``shots`` is None or a positive int."""
    if shots is None:
        return
    if isinstance(shots, bool) or not isinstance(shots, int) or shots <= 0:
        raise ValueError(f"shots={shots!r} must be None (exact) or a positive int")


def run_block(
    spec: BlockSpec,
    x,
    weights,
    method: str = "auto",
    shots: int | None = None,
    generator: torch.Generator | None = None,
    path: str = "auto",
) -> torch.Tensor:
    """One-off :class:`CompiledBlock` call: ``CompiledBlock(spec, weights, method, ...)(x)``."""
    block = CompiledBlock(spec, weights, method, path=path, shots=shots, generator=generator)
    return block(x)
