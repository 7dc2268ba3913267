"""minGRU and minLSTM (Feng et al. 2024, "Were RNNs all we needed?").

Gates depend on the input only, so the recurrence is the first-order linear recurrence
``h_t = a_t * h_{t-1} + b_t`` and trains with a parallel scan along time:

- minGRU: ``z = sigmoid(W_z x)``, ``h~ = g(W_h x)``, ``a = 1 - z``, ``b = z * h~``;
- minLSTM: ``f = sigmoid(W_f x)``, ``i = sigmoid(W_i x)``, ``h~ = g(W_h x)``, normalised
  ``f' = f / (f + i)``, ``i' = i / (f + i)``, ``a = f'``, ``b = i' * h~``;

with ``g(v) = v + 0.5`` for ``v >= 0`` and ``sigmoid(v)`` otherwise (positive, so the scan
runs in log space).

Backends: ``"torch"`` is the parallel log-space scan (:func:`kernels.scan.linear_recurrence_scan`);
``"reference"`` the sequential loop (:func:`kernels.reference.linear_recurrence`); ``"fused"``
the scan kernels of :func:`kernels.fused.linear_recurrence_scan` (Triton on CUDA, compiled C on
the CPU). All take the same parameters. ``x`` ``(B, T, input_size)`` -> ``(y, h)``, ``y``
``(B, T, H)``, ``h`` ``(num_layers, B, H)``.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from kernels import fused
from kernels.contract import BackendSwitch, check_sequence
from kernels.reference import linear_recurrence
from kernels.scan import linear_recurrence_scan

BACKENDS = ("torch", "reference", "fused")


def g(v: Tensor) -> Tensor:
    """The positive activation of minGRU/minLSTM candidates."""
    return torch.where(v >= 0, v + 0.5, torch.sigmoid(v))


def log_g(v: Tensor) -> Tensor:
    """``log g(v)``, computed without overflow."""
    return torch.where(v >= 0, torch.log(F.relu(v) + 0.5), -F.softplus(-v))


class _MinimalRNN(BackendSwitch, nn.Module):
    """Stack of minimal recurrent layers; subclasses give the number of gate projections
    and ``_coefficients`` (log a, log b) of one layer."""

    n_proj: int
    backends = BACKENDS

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 backend: str = "torch") -> None:
        super().__init__()
        self._set_sizes(input_size, hidden_size, num_layers, backend)
        self.layers = nn.ModuleList(
            nn.Linear(input_size if k == 0 else hidden_size, self.n_proj * hidden_size)
            for k in range(num_layers)
        )


    def forward(self, x: Tensor, state: Tensor | None = None) -> tuple[Tensor, Tensor]:
        check_sequence(x, self.input_size)
        hs = []
        for k, proj in enumerate(self.layers):
            log_a, log_b = self._coefficients(proj(x))
            h0 = None if state is None else state[k]
            if self.backend == "torch":
                x = linear_recurrence_scan(log_a, log_b, h0)
            elif self.backend == "fused":
                x = fused.linear_recurrence_scan(log_a, log_b, h0)
            else:
                x = linear_recurrence(torch.exp(log_a), torch.exp(log_b), h0)
            hs.append(x[:, -1])
        return x, torch.stack(hs)

    def extra_repr(self) -> str:
        return f"backend={self.backend!r}"


class MinGRU(_MinimalRNN):
    """minGRU: ``h_t = (1 - z_t) h_{t-1} + z_t g(W_h x_t)``."""

    n_proj = 2

    def _coefficients(self, proj: Tensor) -> tuple[Tensor, Tensor]:
        k, v = proj.chunk(2, dim=-1)
        return -F.softplus(k), -F.softplus(-k) + log_g(v)


class MinLSTM(_MinimalRNN):
    """minLSTM: ``h_t = f'_t h_{t-1} + i'_t g(W_h x_t)`` with normalised gates."""

    n_proj = 3

    def _coefficients(self, proj: Tensor) -> tuple[Tensor, Tensor]:
        kf, ki, v = proj.chunk(3, dim=-1)
        diff = F.softplus(-kf) - F.softplus(-ki)  # log(i / f)
        return -F.softplus(diff), -F.softplus(-diff) + log_g(v)
