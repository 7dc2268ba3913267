"""The peers' versions of the benchmark workloads, written as a new user of each would.

Every workload is the repository's QLSTM circuit (``BlockSpec(n, 2)``: per qubit H,
RY(arctan x), RZ(arctan x^2); two layers of CNOT(i, i+1 mod n), CNOT(i, i+2 mod n) and
Rot(phi, theta, omega) = RZ(omega) RY(theta) RZ(phi) on every qubit; <Z> of every qubit),
float64 / complex128 throughout.

* block: ``value_and_grad`` of the sum of all outputs over a batch, in the weights
  ``(2, n, 3)``;
* QLSTM step: Chen et al.'s six-circuit QLSTM cell over 4 steps, Linear(4 -> 1) head, MSE on
  the last step, gradients of all parameters and an RMSprop update (lr 0.01, alpha 0.99,
  eps 1e-8), the whole step under one ``jit``, its time loop a ``jax.lax.scan`` (or unrolled).

Each builder returns an un-jitted function; ``compare.py`` jits and times it.
"""

from __future__ import annotations

import jax
import jax.numpy as jnp
import pennylane as qml

jax.config.update("jax_enable_x64", True)

LAYERS = 2
LR, ALPHA, EPS = 0.01, 0.99, 1e-8


def pairs(n: int) -> list[tuple[int, int]]:
    """The ring2 entangler: CNOT(i, i+1 mod n) for all i, then CNOT(i, i+2 mod n)."""
    out = [(i, (i + 1) % n) for i in range(n)] + [(i, (i + 2) % n) for i in range(n)]
    return [(c, t) for c, t in out if c != t]


def pennylane_vqc(n: int, device: str = "default.qubit", diff_method: str = "backprop"):
    """A QNode ``(x (..., n), w (2, n, 3)) -> list of n <Z>`` (broadcasts over x's batch)."""
    dev = qml.device(device, wires=n)

    @qml.qnode(dev, interface="jax", diff_method=diff_method)
    def circuit(x, w):
        for q in range(n):
            qml.Hadamard(q)
            qml.RY(jnp.arctan(x[..., q]), q)
            qml.RZ(jnp.arctan(x[..., q] ** 2), q)
        for layer in range(LAYERS):
            for c, t in pairs(n):
                qml.CNOT([c, t])
            for q in range(n):
                qml.Rot(w[layer, q, 0], w[layer, q, 1], w[layer, q, 2], wires=q)
        return [qml.expval(qml.Z(q)) for q in range(n)]

    return circuit


def pennylane_batched(n: int, style: str):
    """``(x (B, n), w) -> (B, n)`` on default.qubit: ``"broadcast"`` (PennyLane parameter
    broadcasting) or ``"vmap"`` (jax.vmap over single-sample circuits)."""
    circuit = pennylane_vqc(n)
    if style == "broadcast":
        return lambda x, w: jnp.stack(circuit(x, w), -1)
    single = lambda x, w: jnp.stack(circuit(x, w))  # noqa: E731
    return jax.vmap(single, in_axes=(0, None))


def tensorcircuit_batched(n: int):
    """``(x (B, n), w) -> (B, n)`` with tensorcircuit-ng on its JAX backend (vmap)."""
    import tensorcircuit as tc

    backend = tc.set_backend("jax")
    tc.set_dtype("complex128")

    def single(x, w):
        c = tc.Circuit(n)
        for q in range(n):
            c.h(q)
            c.ry(q, theta=jnp.arctan(x[q]))
            c.rz(q, theta=jnp.arctan(x[q] ** 2))
        for layer in range(LAYERS):
            for a, b in pairs(n):
                c.cnot(a, b)
            for q in range(n):
                c.rz(q, theta=w[layer, q, 0])
                c.ry(q, theta=w[layer, q, 1])
                c.rz(q, theta=w[layer, q, 2])
        return backend.real(backend.stack([c.expectation_ps(z=[q]) for q in range(n)]))

    return backend.vmap(single, vectorized_argnums=0)


def block_value_and_grad(batched):
    """``(w, x) -> (sum of outputs, d sum / d w)`` for a ``(x, w) -> (B, n)`` function."""
    return jax.value_and_grad(lambda w, x: jnp.sum(batched(x, w)))


def block_peers(n: int) -> dict:
    """Name -> builder of the ``n``-qubit block's ``(w, x) -> (sum, grad)`` for every peer
    (jitted; compiled on its first call)."""
    return {
        "pennylane+jax broadcast": lambda: jax.jit(block_value_and_grad(
            pennylane_batched(n, "broadcast"))),
        "pennylane+jax vmap": lambda: jax.jit(block_value_and_grad(
            pennylane_batched(n, "vmap"))),
        "tensorcircuit-ng": lambda: jax.jit(block_value_and_grad(tensorcircuit_batched(n))),
        "catalyst qjit": lambda: catalyst_block(n),
    }


def catalyst_block(n: int):
    """The block under Catalyst's ``qjit`` on lightning.qubit (adjoint): ``(w, x) -> (sum,
    grad)``, compiled on first call. The QNode measures the sum of the <Z_k> (the block's
    summed output); ``catalyst.vmap`` of its ``value_and_grad`` over the batch, then sums
    (a vmap or for_loop inside the differentiated function crashed Catalyst 0.15's compiler)."""
    import catalyst

    dev = qml.device("lightning.qubit", wires=n)

    @qml.qnode(dev, diff_method="adjoint")
    def circuit(x, w):
        for q in range(n):
            qml.Hadamard(q)
            qml.RY(jnp.arctan(x[q]), q)
            qml.RZ(jnp.arctan(x[q] ** 2), q)
        for layer in range(LAYERS):
            for c, t in pairs(n):
                qml.CNOT([c, t])
            for q in range(n):
                qml.Rot(w[layer, q, 0], w[layer, q, 1], w[layer, q, 2], wires=q)
        return qml.expval(qml.sum(*(qml.Z(q) for q in range(n))))

    per_sample = catalyst.vmap(catalyst.value_and_grad(circuit, argnums=1), in_axes=(0, None))

    @qml.qjit
    def fn(w, x):
        values, grads = per_sample(x, w)
        return jnp.sum(values), jnp.sum(grads, 0)

    return fn


def qlstm_loss(batched, params, x, y, scan: bool = True):
    """MSE of the head on the last step of the six-circuit QLSTM over ``x (B, T, 1)``.

    ``params = (weights (6, 2, 4, 3), head_w (1, 4), head_b (1,))``; ``batched(v, w)`` runs
    one circuit on ``v (B, 4)``. ``scan``: the time loop as ``jax.lax.scan`` (one traced
    cell), else unrolled in Python (T traced cells: same values, a program T times larger;
    its jit compile took 6 min for PennyLane + JAX and had not finished after 43 min for
    tensorcircuit-ng, against under a minute with the scan)."""
    weights, head_w, head_b = params
    batch = x.shape[0]

    def cell(carry, x_t):
        h, c = carry
        v = jnp.concatenate([x_t, h], 1)
        f, i, g, o = (batched(v, weights[k]) for k in range(4))
        c = jax.nn.sigmoid(f) * c + jax.nn.sigmoid(i) * jnp.tanh(g)
        u = jax.nn.sigmoid(o) * jnp.tanh(c)
        return (batched(u, weights[4])[:, :3], c), batched(u, weights[5])

    carry = (jnp.zeros((batch, 3)), jnp.zeros((batch, 4)))
    if scan:
        _, outs = jax.lax.scan(cell, carry, jnp.swapaxes(x, 0, 1))
        out = outs[-1]
    else:
        for t in range(x.shape[1]):
            carry, out = cell(carry, x[:, t])
    pred = out @ head_w.T + head_b
    return jnp.mean((pred - y) ** 2)


def qlstm_train_step(batched, scan: bool = True):
    """``(params, square_avg, x, y) -> (loss, grads, new params, new square_avg)``: one
    training step with torch's RMSprop update rule (``scan``: see :func:`qlstm_loss`)."""

    def step(params, square_avg, x, y):
        loss, grads = jax.value_and_grad(lambda p: qlstm_loss(batched, p, x, y, scan))(params)
        avg = jax.tree_util.tree_map(lambda s, g: ALPHA * s + (1 - ALPHA) * g * g,
                                     square_avg, grads)
        new = jax.tree_util.tree_map(lambda p, g, s: p - LR * g / (jnp.sqrt(s) + EPS),
                                     params, grads, avg)
        return loss, grads, new, avg

    return step
