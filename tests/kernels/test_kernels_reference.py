"""The head-wise extension of the reference equals the dense reference with the
block-diagonal matrix built independently (``torch.block_diag``)."""

from __future__ import annotations

import pytest
import torch

from kernels import reference


def _dense(weight_hh: torch.Tensor, gates: int, num_heads: int) -> torch.Tensor:
    hidden = weight_hh.shape[0] // gates
    head = hidden // num_heads
    rows = []
    for g in range(gates):
        blocks = [weight_hh[g * hidden + k * head:g * hidden + (k + 1) * head]
                  for k in range(num_heads)]
        rows.append(torch.block_diag(*blocks))
    return torch.cat(rows)


@pytest.mark.parametrize("cell,gates", [("lstm", 4), ("gru", 3), ("elman", 1)])
def test_headwise_reference_is_block_diagonal(make_case, cell, gates):
    x, states, weights = make_case(cell, 3, 4, 2, 12, num_heads=3)
    fn = getattr(reference, f"{cell}_layer")
    y_heads, _ = fn(x, *states, *weights, num_heads=3)
    dense = [weights[0], _dense(weights[1], gates, 3), *weights[2:]]
    y_dense, _ = fn(x, *states, *dense)
    assert dense[1].shape == (gates * 12, 12)
    assert torch.allclose(y_heads, y_dense, atol=1e-12)
