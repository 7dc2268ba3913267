"""Plain PyTorch definitions of the recurrent cells: the readable reference.

Every other execution of these cells (``torch.nn``, the CPU fast path, the Triton
kernels) is tested against the functions here. They are deliberately written as a
per-step Python loop over time with one matmul per step, in the parameter layout of
``torch.nn.LSTM`` / ``torch.nn.GRU`` / ``torch.nn.RNN`` for one layer and direction:

- ``weight_ih``: ``(G*H, I)``, ``weight_hh``: ``(G*H, H)``, ``bias_ih``/``bias_hh``:
  ``(G*H,)`` or ``None``, with ``G`` = 4 (LSTM, gate order i, f, g, o), 3 (GRU, gate
  order r, z, n) or 1 (Elman).

Shapes: ``x`` is ``(B, T, I)`` (batch first), states are ``(B, H)``, the output
sequence ``y`` is ``(B, T, H)``.

Head-wise recurrence (FlashRNN): with ``num_heads = NH > 1`` the hidden units split into
``NH`` heads of ``D = H / NH`` units and ``weight_hh`` is block diagonal, stored compactly as
``(G*H, D)``: row ``g*H + k*D + u`` (gate ``g``, head ``k``, unit ``u``) holds the ``D``
weights from head ``k``'s own units. With one head this is torch's ``(G*H, H)``.
"""

from __future__ import annotations

import torch
from torch import Tensor


def _affine(v: Tensor, weight: Tensor, bias: Tensor | None) -> Tensor:
    out = v @ weight.T
    return out if bias is None else out + bias


def _recurrent(h: Tensor, weight_hh: Tensor, bias_hh: Tensor | None, num_heads: int) -> Tensor:
    """``h @ W_hh^T + b_hh`` ``(B, G*H)`` for the compact head-wise ``weight_hh (G*H, D)``."""
    if num_heads == 1:
        return _affine(h, weight_hh, bias_hh)
    batch, hidden = h.shape
    d = hidden // num_heads
    w = weight_hh.view(-1, num_heads, d, d)  # (G, NH, D_out, D_in)
    out = torch.einsum("bkv,gkuv->bgku", h.view(batch, num_heads, d), w).reshape(batch, -1)
    return out if bias_hh is None else out + bias_hh


def lstm_layer(
    x: Tensor,
    h0: Tensor,
    c0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    *,
    num_heads: int = 1,
) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """One LSTM layer: ``i, f, g, o`` gates, ``c' = f*c + i*g``, ``h' = o*tanh(c')``.

    Returns ``y (B, T, H)`` and the final ``(h, c)``, each ``(B, H)``.
    """
    x_proj = _affine(x, weight_ih, bias_ih)  # (B, T, 4H), input projection outside the loop
    h, c = h0, c0
    ys = []
    for t in range(x.shape[1]):
        gates = x_proj[:, t] + _recurrent(h, weight_hh, bias_hh, num_heads)
        i, f, g, o = gates.chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        ys.append(h)
    return torch.stack(ys, dim=1), (h, c)


def gru_layer(
    x: Tensor,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    *,
    num_heads: int = 1,
) -> tuple[Tensor, Tensor]:
    """One GRU layer in torch's convention: ``n = tanh(W_in x + b_in + r*(W_hn h + b_hn))``,
    ``h' = (1 - z)*n + z*h``.

    Returns ``y (B, T, H)`` and the final ``h (B, H)``.
    """
    x_proj = _affine(x, weight_ih, bias_ih)  # (B, T, 3H)
    h = h0
    ys = []
    for t in range(x.shape[1]):
        xr, xz, xn = x_proj[:, t].chunk(3, dim=-1)
        hr, hz, hn = _recurrent(h, weight_hh, bias_hh, num_heads).chunk(3, dim=-1)
        r = torch.sigmoid(xr + hr)
        z = torch.sigmoid(xz + hz)
        n = torch.tanh(xn + r * hn)
        h = (1 - z) * n + z * h
        ys.append(h)
    return torch.stack(ys, dim=1), h


def elman_layer(
    x: Tensor,
    h0: Tensor,
    weight_ih: Tensor,
    weight_hh: Tensor,
    bias_ih: Tensor | None = None,
    bias_hh: Tensor | None = None,
    nonlinearity: str = "tanh",
    *,
    num_heads: int = 1,
) -> tuple[Tensor, Tensor]:
    """One Elman layer: ``h' = act(W_ih x + b_ih + W_hh h + b_hh)``, act ``tanh`` or ``relu``.

    Returns ``y (B, T, H)`` and the final ``h (B, H)``.
    """
    if nonlinearity not in ("tanh", "relu"):
        raise ValueError(f"nonlinearity={nonlinearity!r}: allowed 'tanh' or 'relu'")
    act = torch.tanh if nonlinearity == "tanh" else torch.relu
    x_proj = _affine(x, weight_ih, bias_ih)
    h = h0
    ys = []
    for t in range(x.shape[1]):
        h = act(x_proj[:, t] + _recurrent(h, weight_hh, bias_hh, num_heads))
        ys.append(h)
    return torch.stack(ys, dim=1), h


def linear_recurrence(a: Tensor, b: Tensor, h0: Tensor | None = None) -> Tensor:
    """Sequential ``h_t = a_t * h_{t-1} + b_t`` (elementwise), the minGRU/minLSTM recurrence.

    ``a``, ``b``: ``(B, T, H)``; ``h0``: ``(B, H)`` or ``None`` (zeros). Returns all
    ``h_t`` as ``(B, T, H)``.
    """
    h = torch.zeros_like(b[:, 0]) if h0 is None else h0
    ys = []
    for t in range(b.shape[1]):
        h = a[:, t] * h + b[:, t]
        ys.append(h)
    return torch.stack(ys, dim=1)
