"""Quantum neurons as one compiled C call forward and one backward (``neuron_kernel.c``).

:func:`qrnn.neuron.apply_neuron` in torch is some twenty operations on ``(B, 2**(n-1))``
tensors per neuron, each keeping its result for autograd; a 12-qubit cell over 64 steps runs
704 neurons per sequence. :class:`NeuronSteps` runs all neurons of a time step in one call
(angles by the addition theorem from ``cos``/``sin`` of the input and control parts, the power
``cos^(2^k)`` by squaring), keeps only the state after each neuron for the backward pass and
recomputes the rest there. It covers ``rounds = 0`` (no amplitude amplification); the torch
closed form is its reference and its fallback.
"""

from __future__ import annotations

import ctypes
from pathlib import Path

import torch

from kernels import cpu_build
from qrnn.neuron import NeuronSpec, check_success, underflow_floor

_PTR, _I32 = ctypes.c_void_p, ctypes.c_int
_REAL = {torch.float32: ctypes.c_float, torch.float64: ctypes.c_double}


def _signatures() -> dict:
    out = {}
    for dtype, real in _REAL.items():
        suffix = cpu_build.PRECISIONS[dtype]
        head = [_I32, _I32, _I32, _PTR, _I32] + [_PTR] * 5 + [real]
        out[f"neuron_step_forward_{suffix}"] = (head + [_PTR] * 2, ctypes.c_int)
        out[f"neuron_step_backward_{suffix}"] = (head + [_PTR] * 8, ctypes.c_int)
    return out


LIBRARY = cpu_build.Library(
    "neuron", lambda: cpu_build.source_file(Path(__file__).with_name("neuron_kernel.c")),
    "quantum-neuron kernels", _signatures())
"""The compiled kernels (built on first use; ``LIBRARY.error`` says why if impossible)."""


def applies(spec: NeuronSpec, dtype: torch.dtype) -> bool:
    """Whether the compiled kernel computes this neuron (no amplification, float32/64)."""
    return spec.rounds == 0 and dtype in _REAL


def _ptr(t: torch.Tensor) -> int:
    return t.data_ptr()


class NeuronSteps(torch.autograd.Function):
    """``count`` neurons in a row: ``(psi (B, 2**n), u (count, B), c (count, 2**(n-1))) ->
    (out (B, 2**n), p (count, B))``, neuron ``i`` on qubit ``targets[i]``, each renormalised by
    ``max(p, floor)``; ``p`` holds the raw success probabilities. Keeps every intermediate
    state (``count x B x 2**n``) for the backward pass."""

    @staticmethod
    def forward(ctx, psi, u, c, n, targets, order, floor):
        psi = psi.contiguous()
        dtype, count, batch = psi.dtype, len(targets), psi.shape[0]
        cu, su = torch.cos(u).contiguous(), torch.sin(u).contiguous()
        cc, sc = torch.cos(c).contiguous(), torch.sin(c).contiguous()
        tgt = torch.tensor(targets, dtype=torch.int32)
        states = torch.empty(count, *psi.shape, dtype=dtype)
        p = torch.empty(count, batch, dtype=dtype)
        fn = LIBRARY.function("neuron_step_forward", dtype)
        fn(batch, n, count, _ptr(tgt), order, _ptr(psi), _ptr(cu), _ptr(su), _ptr(cc),
           _ptr(sc), floor, _ptr(states), _ptr(p))
        ctx.save_for_backward(psi, cu, su, cc, sc, states, p, tgt)
        ctx.consts = (n, order, floor)
        return states[-1], p

    @staticmethod
    def backward(ctx, g_out, g_p):
        psi, cu, su, cc, sc, states, p, tgt = ctx.saved_tensors
        n, order, floor = ctx.consts
        g_out = torch.zeros_like(psi) if g_out is None else g_out.contiguous()
        g_p = torch.zeros_like(p) if g_p is None else g_p.contiguous()
        g_psi, work = torch.empty_like(psi), torch.empty_like(psi)
        g_u, g_c = torch.empty_like(p), torch.empty_like(cc)
        fn = LIBRARY.function("neuron_step_backward", psi.dtype)
        fn(psi.shape[0], n, len(tgt), _ptr(tgt), order, _ptr(psi), _ptr(cu), _ptr(su),
           _ptr(cc), _ptr(sc), floor, _ptr(states), _ptr(p), _ptr(g_out), _ptr(g_p),
           _ptr(g_psi), _ptr(work), _ptr(g_u), _ptr(g_c))
        return g_psi, g_u, g_c, None, None, None, None


def fused_neurons(state, n: int, targets: tuple[int, ...], angles, controls, spec: NeuronSpec):
    """Neurons on ``targets`` in order, through the compiled kernel.

    Args:
        state: ``(B, 2**n)`` real, normalised.
        angles: ``(count, B)`` input parts of the angles.
        controls: ``(count, 2**(n-1))`` controlled parts (:func:`qrnn.neuron.control_angles`).
        spec: ``spec.rounds`` must be 0.

    Returns:
        ``(state, p (count, B), clamped (count, B))`` as :func:`qrnn.neuron.apply_neuron`
        per neuron.
    """
    if not applies(spec, state.dtype):
        raise ValueError(f"the compiled neuron kernel needs rounds=0 and float32/float64, got "
                         f"rounds={spec.rounds}, {state.dtype}")
    floor = underflow_floor(state.dtype)
    out, p = NeuronSteps.apply(state, angles, controls, n, tuple(targets), spec.order, floor)
    p, clamped = check_success(p, spec.on_underflow, f"neurons on qubits {tuple(targets)}")
    return out, p, clamped


__all__ = ["LIBRARY", "NeuronSteps", "applies", "fused_neurons"]
