"""The quantum neuron: a repeat-until-success (RUS) rotation, as closed forms and as gates.

Cao, Guerreschi & Aspuru-Guzik (2017): an ancilla is rotated by the neuron's input angle
``theta`` (bias and inputs as plain rotations, the register's qubits as controlled
rotations, so ``theta = bias + sum_i w_i bit_i``), controls ``-iY`` on the output qubit and is
rotated back. Measuring the ancilla in ``|0>`` (success) leaves the output rotated by
``RY(2 q(theta))`` with

    q(theta) = arctan(tan(theta)^2)           success probability p = sin^4 + cos^4,

a sigmoid-like step around ``theta = pi/4``. Order ``k`` nests the gadget (the level-``l``
ancilla is prepared by the level ``l-1`` gadget and unprepared by its inverse), giving
``q^k = q o ... o q`` and, with every intermediate measurement postselected,

    q^k(theta) = arctan(tan(theta)^(2^k)),    P_k = cos(theta)^(2^(k+1)) + sin(theta)^(2^(k+1)).

On success the register is acted on by the real operator ``a I + b (-iY)`` on the output qubit,
blockwise for every basis state of the controlling qubits (``a = cos^(2^k)``,
``b = sin^(2^k)``). ``rounds`` of oblivious amplitude amplification (``-U R U^dag R`` with
``R`` the reflection about the ancilla's ``|0>``, a Z gate up to a global phase) around each
level multiply the success amplitude ``sin(beta)`` (``sin^2 beta`` = that level's success
probability) to ``sin((2 rounds + 1) beta)`` without changing the rotation.

Two executions of one description: :func:`neuron_ops` lists the gates (with ancillas and
postselections) that :mod:`qrnn.neuron_sim` and :mod:`qrnn.neuron_pl` run literally;
:func:`neuron_amplitudes` / :func:`apply_neuron` are the closed-form fast path on a batched real
state vector (every gate involved is real, so the register's state stays real).
Angles are in radians; qubit 0 is the most significant bit of a basis index.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import torch

MAX_ORDER = 6
"""Largest RUS order: P_k >= 2**(1 - 2**k) (about 1e-19 at order 6, still a normal float32)."""
MAX_ROUNDS = 3
"""Largest number of amplitude-amplification rounds per RUS level."""
UNDERFLOW_POLICIES = ("raise", "clamp")


def underflow_floor(dtype: torch.dtype) -> float:
    """Smallest success probability renormalised without loss: ``sqrt(finfo(dtype).tiny)``
    (the squared amplitudes of the state must stay normal floats)."""
    return torch.finfo(dtype).tiny ** 0.5


@dataclass(frozen=True)
class NeuronSpec:
    """How a quantum neuron is executed.

    Fields:
        order: RUS nesting depth ``k`` in ``[1, MAX_ORDER]``; uses ``k`` ancilla qubits.
        rounds: amplitude-amplification rounds per level, in ``[0, MAX_ROUNDS]``.
        on_underflow: what to do when a sample's success probability falls below
            :func:`underflow_floor` (renormalising would divide by ~0): ``"raise"`` a
            ValueError naming the sample, or ``"clamp"`` (divide by the floor instead and set
            the sample's ``clamped`` flag in the statistics).
    """

    order: int = 1
    rounds: int = 0
    on_underflow: str = "raise"

    def __post_init__(self) -> None:
        for field, high in (("order", MAX_ORDER), ("rounds", MAX_ROUNDS)):
            value = getattr(self, field)
            if not isinstance(value, int) or isinstance(value, bool):
                raise TypeError(f"NeuronSpec.{field} must be an int, got {value!r}")
            low = 1 if field == "order" else 0
            if not low <= value <= high:
                raise ValueError(f"NeuronSpec.{field}={value} must be in [{low}, {high}]")
        if self.on_underflow not in UNDERFLOW_POLICIES:
            raise ValueError(
                f"NeuronSpec.on_underflow={self.on_underflow!r} is not allowed; choose one of "
                f"{UNDERFLOW_POLICIES}"
            )


def _chebyshev_even(pt: torch.Tensor, rounds: int) -> torch.Tensor:
    """``sin((2r+1) beta) / sin(beta)`` as a polynomial in ``pt = sin^2 beta`` (no arcsin)."""
    prev, cur = torch.ones_like(pt), 3 - 4 * pt
    for _ in range(rounds - 1):
        prev, cur = cur, (2 - 4 * pt) * cur - prev
    return cur


def neuron_amplitudes(theta: torch.Tensor, order: int = 1, rounds: int = 0):
    """The success-branch operator ``a I + b (-iY)`` of the order-``order`` neuron.

    Args:
        theta: input angles, any shape (radians).

    Returns:
        ``(a, b)`` of ``theta``'s shape: the output qubit is rotated by ``atan2(b, a)`` (the
        iterated ``q``) and the success probability is ``a^2 + b^2``.
    """
    a, b = torch.cos(theta), torch.sin(theta)
    for _ in range(order):
        inner = a * a + b * b  # squared amplitude of this level's ancilla preparation
        a, b = a * a, b * b
        if rounds:
            pt = (a * a + b * b) / (inner * inner)  # this level's own success probability
            # (-1)**rounds: the global phase of the gate sequence Z U^dag Z U (= -Q per round)
            gain = (-1) ** rounds * _chebyshev_even(pt, rounds) * inner ** (2 * rounds)
            a, b = gain * a, gain * b
    return a, b


@lru_cache(maxsize=64)
def other_bits(n: int, target: int, dtype: torch.dtype) -> torch.Tensor:
    """``(2**(n-1), n)`` bits of every basis state of the qubits other than ``target``, in
    reduced-index order (the target's column is zero). Cached: do not modify."""
    idx = torch.arange(2 ** (n - 1))
    low = idx & ((1 << (n - 1 - target)) - 1)
    full = ((idx - low) << 1) | low  # target bit 0
    shifts = torch.arange(n - 1, -1, -1)
    return ((full.unsqueeze(-1) >> shifts) & 1).to(dtype)


def control_angles(n: int, target: int, weights: torch.Tensor) -> torch.Tensor:
    """``(2**(n-1),)`` controlled part of ``theta`` for every basis state of the qubits other
    than ``target`` (reduced-index order): ``sum_i weights[i] * bit_i``, ``weights`` ``(n,)``
    (the target's own entry is ignored)."""
    return other_bits(n, target, weights.dtype) @ weights


def apply_neuron(
    state: torch.Tensor,
    n: int,
    target: int,
    angle: torch.Tensor,
    control: torch.Tensor,
    spec: NeuronSpec,
):
    """One neuron on a batched real register state: project on success and renormalise.

    Args:
        state: ``(B, 2**n)`` real, normalised.
        target: the output qubit.
        angle: ``(B,)`` the input part of ``theta`` (bias + input terms), radians.
        control: ``(2**(n-1),)`` the controlled part, from :func:`control_angles`.
        spec: order, rounds and underflow policy.

    Returns:
        ``(state, p, clamped)``: the renormalised ``(B, 2**n)`` state, the success probability
        ``(B,)`` and a ``(B,)`` bool flag of samples clamped at the underflow floor.
    """
    batch = state.shape[0]
    view = state.reshape(batch, 2**target, 2, -1)
    half = view[:, :, 0].shape
    psi0, psi1 = view[:, :, 0].reshape(batch, -1), view[:, :, 1].reshape(batch, -1)
    a, b = neuron_amplitudes(angle[:, None] + control, spec.order, spec.rounds)
    new0, new1 = a * psi0 - b * psi1, b * psi0 + a * psi1
    p = (new0.square() + new1.square()).sum(-1)
    p, clamped = check_success(p, spec.on_underflow, f"neuron on qubit {target}")
    scale = p.rsqrt()[:, None]
    out = torch.stack([(new0 * scale).reshape(half), (new1 * scale).reshape(half)], 2)
    return out.reshape(batch, -1), p, clamped


def check_success(p: torch.Tensor, policy: str, where: str):
    """Apply the underflow policy to success probabilities ``p`` ``(B,)``.

    Returns ``(p, clamped)``; with ``"raise"`` a ValueError names the first sample below
    :func:`underflow_floor` and ``where`` (``p`` may have more axes, ``(..., B)``)."""
    floor = underflow_floor(p.dtype)
    low = p.detach() < floor
    if not bool(low.any()):
        return p, low
    if policy == "raise":
        sample = int(low.nonzero()[0, -1])
        raise ValueError(
            f"success probability {float(p[sample]):.3g} of the {where} (sample {sample}) is "
            f"below the {p.dtype} underflow floor {floor:.3g}; lower the order or the "
            "amplification rounds, or use on_underflow='clamp'"
        )
    return torch.where(low, torch.full_like(p, floor), p), low


@dataclass(frozen=True)
class Gate:
    """One operation of a neuron circuit.

    ``kind``: ``"ry"`` (``wires=(q,)``), ``"cry"`` (``wires=(control, target)``), ``"z"``
    (``wires=(q,)``, no angle) or ``"post"`` (measure ``wires=(q,)`` and keep outcome 0).
    ``angle``: radians, a float or a ``(B,)`` tensor (per sample); RY(x) = exp(-i x Y / 2).
    """

    kind: str
    wires: tuple[int, ...]
    angle: float | torch.Tensor | None = None

    def inverse(self) -> Gate:
        """The inverse of a rotation (angle negated)."""
        return Gate(self.kind, self.wires, -self.angle)


def neuron_ops(
    target: int,
    controls: dict[int, float | torch.Tensor],
    angle: float | torch.Tensor,
    ancillas: tuple[int, ...],
    rounds: int = 0,
) -> list[Gate]:
    """The neuron as gates: ``theta = angle + sum_i controls[i] * bit_i`` onto ``target``.

    Args:
        controls: control qubit -> weight ``w_i`` (radians).
        angle: the uncontrolled part of ``theta`` (float or ``(B,)`` tensor).
        ancillas: one ancilla per RUS level (``len(ancillas)`` is the order), all in ``|0>``.
        rounds: amplitude-amplification rounds around each level.

    Returns:
        The gate list; every ancilla is postselected to ``|0>`` where its level ends.
    """
    rotate = [Gate("ry", (ancillas[0],), 2 * angle)]
    rotate += [Gate("cry", (q, ancillas[0]), 2 * w) for q, w in controls.items()]
    unrotate = [g.inverse() for g in reversed(rotate)]

    def gadget(level: int, sign: int) -> list[Gate]:
        """Level ``level`` onto the next ancilla (or the target); ``sign=-1`` is the inverse
        gadget (``+iY``: the transposed success operator)."""
        anc = ancillas[level]
        out = ancillas[level + 1] if level + 1 < len(ancillas) else target
        prep = rotate if level == 0 else gadget(level - 1, 1)
        unprep = unrotate if level == 0 else gadget(level - 1, -1)
        forward = prep + [Gate("cry", (anc, out), sign * torch.pi)] + unprep
        backward = prep + [Gate("cry", (anc, out), -sign * torch.pi)] + unprep  # U^dag
        reflect = [Gate("z", (anc,))]
        ops = list(forward)
        for _ in range(rounds):
            ops += reflect + backward + reflect + forward
        return ops + [Gate("post", (anc,))]

    return gadget(len(ancillas) - 1, 1)


__all__ = [
    "MAX_ORDER",
    "MAX_ROUNDS",
    "Gate",
    "NeuronSpec",
    "apply_neuron",
    "check_success",
    "control_angles",
    "neuron_amplitudes",
    "neuron_ops",
    "other_bits",
    "underflow_floor",
]
