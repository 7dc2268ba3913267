"""Parallel (log-space) scan for the first-order linear recurrence of minGRU/minLSTM.

``h_t = a_t * h_{t-1} + b_t`` with ``a_t = exp(log_a_t) > 0`` and ``b_t = exp(log_b_t) > 0``
has the closed form ``h_t = A_t * h_0 + A_t * sum_{k<=t} b_k / A_k`` with
``A_t = prod_{k<=t} a_k``. In log space (Heinsen 2023, used by Feng et al. 2024 for
minGRU/minLSTM) the sum is one ``logcumsumexp``, so the whole sequence costs a handful of
parallel tensor operations instead of ``T`` sequential steps.
"""

from __future__ import annotations

import torch
from torch import Tensor


def linear_recurrence_scan(log_a: Tensor, log_b: Tensor, h0: Tensor | None = None) -> Tensor:
    """All ``h_t`` of ``h_t = exp(log_a_t) * h_{t-1} + exp(log_b_t)`` at once.

    ``log_a``, ``log_b``: ``(B, T, H)``; ``h0``: ``(B, H)`` of any sign, or ``None`` (zeros).
    Returns ``(B, T, H)``; equals :func:`kernels.reference.linear_recurrence` with
    ``a = exp(log_a)``, ``b = exp(log_b)``.
    """
    a_star = torch.cumsum(log_a, dim=1)  # log A_t
    h = torch.exp(a_star + torch.logcumsumexp(log_b - a_star, dim=1))
    if h0 is not None:
        h = h + torch.exp(a_star) * h0.unsqueeze(1)
    return h
