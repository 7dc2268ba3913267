"""What the ``qrnn.fast`` device adds on top of :mod:`qrnn.sim.tape` (pure functions).

- a circuit that starts with a state preparation (``StatePrep``, ``BasisState``, any
  ``StatePrepBase``) starts from that state instead of ``|0...0>``;
- ``expval`` of a sum with wire-less terms (a molecular Hamiltonian's ``c * I()``): the
  constants are added exactly, the other terms measured as usual;
- ``expval`` of a ``SparseHamiltonian`` (analytic): ``<psi|H|psi>`` with a sparse product;
- backprop under the autograd interface: the torch simulation wrapped as autograd
  primitives whose derivatives (of any order) come from torch.

States are ``(B, 2**n)`` complex128, ``B = 1`` for an unbroadcast circuit, wire 0 the most
significant bit.
"""

from __future__ import annotations

import numpy as np
import pennylane as qml
import torch
from autograd.extend import defvjp_argnum, primitive
from autograd.tracer import isbox
from pennylane.measurements import ExpectationMP
from pennylane.operation import StatePrepBase

from qrnn.sim.encode import zero_state
from qrnn.sim.tape import apply_operations, is_torch
from qrnn.sim.tape import measure_analytic as _tape_analytic
from qrnn.sim.tape import measure_sampled as _tape_sampled


def initial_state(circuit: qml.tape.QuantumScript, n: int):
    """The state before the gates, and the gates still to apply.

    Args:
        circuit: a tape with wires ``0..n-1``.

    Returns:
        ``(state, ops)``: ``state (B, 2**n)`` complex128 (``B`` the circuit's batch size or 1)
        from a leading ``StatePrepBase`` (it may touch only some wires: the others are
        ``|0>``), else ``|0...0>``; ``ops`` the remaining operations.
    """
    batch = circuit.batch_size or 1
    ops = circuit.operations
    if not ops or not isinstance(ops[0], StatePrepBase):
        return zero_state(n, batch, torch.float64), ops
    vector = ops[0].state_vector(wire_order=range(n))
    vector = torch.as_tensor(vector) if not is_torch(vector) else vector
    vector = vector.to(torch.complex128).reshape(-1, 2**n)
    return vector.expand(batch, 2**n), ops[1:]


def _split_constant(obs):
    """``(rest, constant)`` for a Sum: rest (None if no term acts on a wire) and the sum of
    its wire-less terms' values (their 1x1 matrices times their coefficients)."""
    coeffs, terms = obs.terms()
    constant, kept = 0.0, []
    for coeff, term in zip(coeffs, terms, strict=True):
        if len(term.wires) == 0:
            constant = constant + coeff * qml.math.real(qml.matrix(term)[0, 0])
        else:
            kept.append(qml.s_prod(coeff, term))
    if not kept:
        return None, constant
    return (kept[0] if len(kept) == 1 else qml.sum(*kept)), constant


def _has_wireless_term(mp) -> bool:
    return (
        isinstance(mp, ExpectationMP)
        and isinstance(mp.obs, qml.ops.Sum)
        and any(len(t.wires) == 0 for t in mp.obs.terms()[1])
    )


def _constant_like(constant, batch: int | None):
    value = torch.as_tensor(constant, dtype=torch.float64)
    return value if batch is None else value.expand(batch)


def measure_analytic(mp, state: torch.Tensor, n: int, batched: bool):
    """Exact value of one measurement on a ``(B, 2**n)`` state (see the module docstring)."""
    batch = state.shape[0] if batched else None
    if isinstance(mp, ExpectationMP) and isinstance(mp.obs, qml.SparseHamiltonian):
        return sparse_expval(mp.obs, state, n, batched)
    if _has_wireless_term(mp):
        rest, constant = _split_constant(mp.obs)
        if rest is None:
            return _constant_like(constant, batch)
        return _tape_analytic(qml.expval(rest), state, n, batched) + constant
    return _tape_analytic(mp, state, n, batched)


def measure_sampled(mp, state, n: int, shots, batched: bool, generator: torch.Generator):
    """Finite-shot value(s) of one measurement (a tuple over bins for a shot vector);
    wire-less terms of a sum are exact constants, the rest is sampled."""
    if not _has_wireless_term(mp):
        return _tape_sampled(mp, state, n, shots, batched, generator)
    rest, constant = _split_constant(mp.obs)
    constant = float(constant)
    if rest is None:
        value = np.full(state.shape[0], constant) if batched else np.float64(constant)
        return tuple(value for _ in shots) if shots.has_partitioned_shots else value
    parts = _tape_sampled(qml.expval(rest), state, n, shots, batched, generator)
    if shots.has_partitioned_shots:
        return tuple(p + constant for p in parts)
    return parts + constant


def sparse_expval(obs, state: torch.Tensor, n: int, batched: bool) -> torch.Tensor:
    """``<psi|H|psi>`` for a ``SparseHamiltonian`` on wires within ``0..n-1``.

    Returns:
        ``(B,)`` real when ``batched``, else a scalar.
    """
    coo = obs.sparse_matrix(wire_order=range(n)).tocoo()
    indices = torch.as_tensor(np.vstack([coo.row, coo.col]), dtype=torch.int64)
    values = torch.as_tensor(coo.data).to(torch.complex128)
    hamiltonian = torch.sparse_coo_tensor(indices, values, (2**n, 2**n), check_invariants=False)
    h_psi = torch.sparse.mm(hamiltonian, state.transpose(0, 1)).transpose(0, 1)
    value = (state.conj() * h_psi).sum(-1).real
    return value if batched else value[0]


def simulate(circuit: qml.tape.QuantumScript, generator: torch.Generator, torch_results: bool):
    """Execute one tape: the result in PennyLane's layout (single value or tuple).

    Analytic results are torch tensors when ``torch_results`` is set or a parameter is a
    torch tensor, else numpy arrays; sampled results are numpy arrays.
    """
    circuit = circuit.map_to_standard_wires()
    n = max(circuit.num_wires, 1)
    batched = circuit.batch_size is not None
    state, ops = initial_state(circuit, n)
    state = apply_operations(state, ops, n)
    if circuit.shots:
        shots = circuit.shots
        results = tuple(
            measure_sampled(mp, state, n, shots, batched, generator) for mp in circuit.measurements
        )
        if shots.has_partitioned_shots:
            results = tuple(zip(*results, strict=True))
            return tuple(r[0] if len(r) == 1 else r for r in results)
    else:
        results = tuple(measure_analytic(mp, state, n, batched) for mp in circuit.measurements)
        use_torch = torch_results or any(
            is_torch(p) for p in circuit.get_parameters(trainable_only=False)
        )
        if not use_torch:
            results = tuple(r.detach().numpy() if is_torch(r) else r for r in results)
    return results[0] if len(results) == 1 else results


def simulate_autograd(circuit: qml.tape.QuantumScript, generator: torch.Generator):
    """:func:`simulate` for parameters that are autograd boxes (backprop, autograd interface).

    The circuit runs once in torch per call; each derivative is another torch run (any
    order: the derivative is itself an autograd primitive).
    """
    params = circuit.get_parameters(trainable_only=False)
    boxed = [i for i, p in enumerate(params) if isbox(p)]
    if not boxed:
        return simulate(circuit, generator, torch_results=False)

    def run(*values):
        tape = circuit.bind_new_parameters(list(values), boxed)
        out = simulate(tape, generator, torch_results=True)
        return out if isinstance(out, tuple) else (out,)

    outputs = _torch_primitive(run)(*[params[i] for i in boxed])
    if len(circuit.measurements) == 1:
        return outputs[0]
    return tuple(outputs[i] for i in range(len(circuit.measurements)))


def _torch_primitive(fn):
    """``fn`` (torch tensors -> tuple of torch tensors) as an autograd primitive on numpy.

    Autograd's vector-Jacobian product of a complex function is the conjugate of torch's
    applied to the conjugate cotangent; for real inputs the conjugations cancel out.
    """

    @primitive
    def call(*xs):
        return tuple(y.detach().numpy() for y in fn(*_as_torch(xs)))

    def vjp_maker(argnum, _ans, xs, _kwargs):
        n_in = len(xs)

        def backward(*xs_and_gs):
            inputs = [x.requires_grad_() for x in xs_and_gs[:n_in]]
            outputs = fn(*inputs)
            cotangents = [g.conj() for g in xs_and_gs[n_in:]]
            (grad,) = torch.autograd.grad(
                outputs, inputs[argnum], cotangents, create_graph=True, allow_unused=True
            )
            grad = torch.zeros_like(inputs[argnum]) if grad is None else grad
            return (grad.conj(),)

        return lambda g: _torch_primitive(backward)(*xs, *g)[0]

    defvjp_argnum(call, vjp_maker)
    return call


def _as_torch(values) -> list[torch.Tensor]:
    out = []
    for v in values:
        t = torch.as_tensor(np.asarray(v))
        out.append(t.to(torch.float64) if not t.is_complex() else t.to(torch.complex128))
    return out
