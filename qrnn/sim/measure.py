"""Measurements on batched state vectors: probabilities, <Z_k>, and seeded sampling.

States are ``(..., 2**n)`` complex with qubit 0 the most significant bit.
"""

from __future__ import annotations

from functools import lru_cache

import torch


def probabilities(state: torch.Tensor) -> torch.Tensor:
    """|amplitude|^2: ``(..., 2**n)`` complex -> ``(..., 2**n)`` real."""
    return torch.view_as_real(state).square().sum(-1)


def marginal(probs: torch.Tensor, wires: tuple[int, ...], n: int) -> torch.Tensor:
    """Marginal probabilities of ``wires`` (in that order, first most significant).

    Args:
        probs: ``(..., 2**n)`` real.

    Returns:
        ``(..., 2**len(wires))``.
    """
    if wires == tuple(range(n)):
        return probs
    lead = probs.shape[:-1]
    view = probs.reshape(*lead, *(2,) * n)
    base = len(lead)
    others = [base + q for q in range(n) if q not in wires]
    if others:
        view = view.sum(dim=others)
    kept = sorted(wires)
    order = [base + kept.index(w) for w in wires]
    view = view.permute(*range(base), *order)
    return view.reshape(*lead, 2 ** len(wires))


@lru_cache(maxsize=64)
def z_signs(n: int, wires: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    """``(2**n, len(wires))`` matrix of Z eigenvalues (+1 for bit 0, -1 for bit 1)."""
    idx = torch.arange(2**n)
    bits = torch.stack([(idx >> (n - 1 - w)) & 1 for w in wires], -1)
    return (1 - 2 * bits).to(dtype)


@lru_cache(maxsize=64)
def _pair_signs(n: int, wires: tuple[int, ...], dtype: torch.dtype) -> torch.Tensor:
    return z_signs(n, wires, dtype).repeat_interleave(2, dim=0)


def state_expval_z(state: torch.Tensor, wires: tuple[int, ...], n: int) -> torch.Tensor:
    """<Z_w> straight from amplitudes: ``(..., 2**n)`` complex -> ``(..., len(wires))`` real.

    Squares the interleaved (re, im) parts and contracts them with repeated Z signs: one
    square and one matrix product.
    """
    parts = torch.view_as_real(state).square().flatten(-2)
    return parts @ _pair_signs(n, wires, parts.dtype)


def sample_indices(probs: torch.Tensor, shots: int, generator: torch.Generator) -> torch.Tensor:
    """Draw ``shots`` basis-state indices per row.

    Args:
        probs: ``(B, d)`` real probabilities (rows need not be exactly normalized).
        generator: the random source; the same seed gives the same samples.

    Returns:
        ``(B, shots)`` int64 indices in ``[0, d)``.
    """
    p = probs.detach().to(torch.float64).clamp_min(0)
    return torch.multinomial(p, shots, replacement=True, generator=generator)


def index_bits(indices: torch.Tensor, n: int) -> torch.Tensor:
    """Bits of basis indices, most significant first: ``(...)`` -> ``(..., n)`` int64."""
    shifts = torch.arange(n - 1, -1, -1)
    return (indices.unsqueeze(-1) >> shifts) & 1


def sampled_expval_z(
    probs: torch.Tensor, wires: tuple[int, ...], n: int, shots: int, generator: torch.Generator
) -> torch.Tensor:
    """Finite-shot estimate of <Z_w>: ``(B, 2**n)`` -> ``(B, len(wires))`` (no gradient)."""
    idx = sample_indices(probs, shots, generator)
    bits = index_bits(idx, n)[..., list(wires)]
    return (1 - 2 * bits).to(probs.dtype).mean(-2)


def sampled_probs(
    probs: torch.Tensor, wires: tuple[int, ...], n: int, shots: int, generator: torch.Generator
) -> torch.Tensor:
    """Finite-shot estimate of the ``wires`` marginal: ``(B, 2**n)`` -> ``(B, 2**len(wires))``."""
    marg = marginal(probs.detach(), wires, n)
    idx = sample_indices(marg, shots, generator)
    counts = torch.zeros_like(marg).scatter_add_(-1, idx, torch.ones_like(idx, dtype=marg.dtype))
    return counts / shots
