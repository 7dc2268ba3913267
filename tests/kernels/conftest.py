"""Shared fixtures for the kernel tests.

``TRITON_INTERPRET=1`` is set here, before anything imports Triton: Triton reads it when a
kernel is decorated, and :mod:`kernels.triton_cells` (the only Triton importer) is imported
lazily on first use, so the CPU tests below run the Triton kernels in the interpreter.
Other test directories do not import Triton, so the setting does not reach them.
"""

from __future__ import annotations

import os

os.environ["TRITON_INTERPRET"] = "1"

import pytest  # noqa: E402
import torch  # noqa: E402

from kernels import fused, reference  # noqa: E402

GATES = {"lstm": 4, "gru": 3, "elman": 1}


def _case(cell: str, batch: int, steps: int, inputs: int, hidden: int, num_heads: int = 1,
          dtype: torch.dtype = torch.float64, bias: bool = True, seed: int = 0):
    """Random leaf tensors for one layer call: ``x``, states and the four weights."""
    gen = torch.Generator().manual_seed(seed)
    g = GATES[cell]

    def rand(*shape, scale=1.0):
        t = torch.randn(*shape, generator=gen, dtype=torch.float64) * scale
        return t.to(dtype).requires_grad_()

    head = hidden // num_heads
    weights = [rand(g * hidden, inputs, scale=0.5), rand(g * hidden, head, scale=0.6),
               rand(g * hidden, scale=0.2) if bias else None,
               rand(g * hidden, scale=0.2) if bias else None]
    states = [rand(batch, hidden)] + ([rand(batch, hidden)] if cell == "lstm" else [])
    return rand(batch, steps, inputs), states, weights


def _run(cell: str, fn, x, states, weights, **kwargs):
    """Forward through ``fn`` and the gradients of a loss touching every output."""
    y, final = fn(x, *states, *weights, **kwargs)
    finals = list(final) if cell == "lstm" else [final]
    loss = (y * torch.cos(y)).sum() + sum((0.3 + k) * f.pow(2).sum() for k, f in enumerate(finals))
    leaves = [x, *states, *[w for w in weights if w is not None]]
    return [y, *finals, *torch.autograd.grad(loss, leaves)]


def _agree(cell: str, batch: int, steps: int, inputs: int, hidden: int, *, num_heads: int = 1,
           dtype: torch.dtype = torch.float64, bias: bool = True, path: str = "auto",
           **kwargs) -> float:
    """Largest difference, relative to ``1 + |reference|``, between the fused layer and the
    reference loop over outputs, final states and all gradients."""
    x, states, weights = _case(cell, batch, steps, inputs, hidden, num_heads, dtype, bias)
    ref = _run(cell, getattr(reference, f"{cell}_layer"), x, states, weights,
               num_heads=num_heads, **kwargs)
    got = _run(cell, getattr(fused, f"{cell}_layer"), x, states, weights,
               num_heads=num_heads, path=path, **kwargs)
    assert len(ref) == len(got)
    for a, b in zip(got, ref, strict=True):
        assert a.shape == b.shape and a.dtype == b.dtype
    return max(((a - b).abs().max() / (1 + b.abs().max())).item()
               for a, b in zip(got, ref, strict=True))


def _scan_error(path: str, batch: int, steps: int, width: int, dtype: torch.dtype,
                with_h0: bool, seed: int) -> float:
    """Largest difference, relative to ``1 + |reference|``, between the fused linear-recurrence
    scan on ``path`` and the sequential reference, over outputs and all gradients."""
    gen = torch.Generator().manual_seed(seed)
    log_a = (-torch.rand(batch, steps, width, generator=gen, dtype=torch.float64)).to(dtype)
    log_b = (0.3 * torch.randn(batch, steps, width, generator=gen, dtype=torch.float64)).to(dtype)
    h0 = torch.randn(batch, width, generator=gen, dtype=torch.float64).to(dtype)
    leaves = [t.requires_grad_() for t in (log_a, log_b, h0)][: 3 if with_h0 else 2]
    h_init = h0 if with_h0 else None
    outs = []
    for fn in (lambda: reference.linear_recurrence(log_a.exp(), log_b.exp(), h_init),
               lambda: fused.linear_recurrence_scan(log_a, log_b, h_init, path=path)):
        y = fn()
        outs.append([y, *torch.autograd.grad((y * torch.cos(y)).sum(), leaves)])
    return max(((got - ref).abs().max() / (1 + ref.abs().max())).item()
               for got, ref in zip(outs[1], outs[0], strict=True))


@pytest.fixture
def make_case():
    return _case


@pytest.fixture
def agree():
    return _agree


@pytest.fixture
def scan_error():
    return _scan_error
