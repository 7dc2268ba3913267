"""Argument validation for :mod:`kernels.fused`: one-line errors before any kernel launch.

Every error names the argument, the value received and what is allowed.
"""

from __future__ import annotations

import torch
from torch import Tensor

CPU_DTYPES = (torch.float32, torch.float64)
CUDA_DTYPES = (torch.float32, torch.bfloat16)


def _tensor(name: str, value, ndim: int) -> Tensor:
    if not isinstance(value, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor with {ndim} dimensions, "
                        f"got {type(value).__name__}")
    if value.dim() != ndim:
        raise ValueError(f"{name} has shape {tuple(value.shape)}; expected {ndim} dimensions")
    return value


def _dtype(name: str, t: Tensor) -> None:
    allowed = CUDA_DTYPES if t.is_cuda else CPU_DTYPES
    if t.dtype not in allowed:
        where = "CUDA (Triton)" if t.is_cuda else "CPU"
        names = ", ".join(str(d).removeprefix("torch.") for d in allowed)
        raise TypeError(f"{name} has dtype {t.dtype}, unsupported on the {where} fused path; "
                        f"allowed: {names}")


def _same(name: str, t: Tensor, ref: Tensor) -> None:
    if t.dtype != ref.dtype or t.device != ref.device:
        raise ValueError(f"{name} is {t.dtype} on {t.device}; expected {ref.dtype} on "
                         f"{ref.device} like x")


def num_heads_of(num_heads, hidden: int) -> int:
    """Validate ``num_heads`` against the hidden size; return the head size ``D``."""
    if not isinstance(num_heads, int) or isinstance(num_heads, bool) or num_heads < 1:
        raise ValueError(f"num_heads={num_heads!r}: must be an integer >= 1")
    if hidden % num_heads:
        raise ValueError(f"num_heads={num_heads} does not divide hidden size {hidden}")
    return hidden // num_heads


def cell(x, states: dict, weight_ih, weight_hh, bias_ih, bias_hh, gates: int,
         num_heads) -> int:
    """Check a cell call (``gates`` = 4, 3 or 1) and return the hidden size ``H``.

    ``x (B, T, I)``, each state ``(B, H)``, ``weight_ih (G*H, I)``, ``weight_hh (G*H, H/NH)``,
    biases ``(G*H,)`` or ``None``; one dtype and device throughout.
    """
    x = _tensor("x", x, 3)
    _dtype("x", x)
    batch, steps, inputs = x.shape
    if batch == 0 or steps == 0 or inputs == 0:
        raise ValueError(f"x has shape {tuple(x.shape)}; batch, time and features must be >= 1")
    weight_hh = _tensor("weight_hh", weight_hh, 2)
    rows = weight_hh.shape[0]
    if rows == 0 or rows % gates:
        raise ValueError(f"weight_hh has shape {tuple(weight_hh.shape)}; its rows must be "
                         f"{gates} * hidden_size")
    hidden = rows // gates
    head = num_heads_of(num_heads, hidden)
    if weight_hh.shape[1] != head:
        raise ValueError(f"weight_hh has shape {tuple(weight_hh.shape)}; expected "
                         f"({rows}, {head}) for hidden size {hidden} and num_heads={num_heads}")
    expected = {"weight_ih": (rows, inputs), "bias_ih": (rows,), "bias_hh": (rows,)}
    for name, value in (("weight_ih", weight_ih), ("bias_ih", bias_ih), ("bias_hh", bias_hh)):
        if value is None and name != "weight_ih":
            continue
        value = _tensor(name, value, len(expected[name]))
        if tuple(value.shape) != expected[name]:
            raise ValueError(f"{name} has shape {tuple(value.shape)}; expected {expected[name]}")
        _same(name, value, x)
    _same("weight_hh", weight_hh, x)
    for name, value in states.items():
        value = _tensor(name, value, 2)
        if tuple(value.shape) != (batch, hidden):
            raise ValueError(f"{name} has shape {tuple(value.shape)}; expected ({batch}, {hidden})")
        _same(name, value, x)
    return hidden


def scan(log_a, log_b, h0) -> None:
    """Check ``log_a``, ``log_b`` ``(B, T, H)`` and ``h0`` ``(B, H)`` or ``None``."""
    log_a = _tensor("log_a", log_a, 3)
    log_b = _tensor("log_b", log_b, 3)
    _dtype("log_b", log_b)
    if log_a.shape != log_b.shape or log_b.numel() == 0:
        raise ValueError(f"log_a has shape {tuple(log_a.shape)} and log_b "
                         f"{tuple(log_b.shape)}; expected the same non-empty (B, T, H)")
    _same("log_a", log_a, log_b)
    if h0 is not None:
        h0 = _tensor("h0", h0, 2)
        expected = (log_b.shape[0], log_b.shape[2])
        if tuple(h0.shape) != expected:
            raise ValueError(f"h0 has shape {tuple(h0.shape)}; expected {expected}")
        _same("h0", h0, log_b)
