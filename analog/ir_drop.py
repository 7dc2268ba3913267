"""First-order IR-drop (line-resistance) model of a crossbar tile.

Geometry of one tile (``tile_rows`` x ``tile_cols`` weight positions; each position holds
a G+ / G- pair that shares the row line and has its own column line):

- row ``i`` is driven at voltage ``V_i`` from the left; one wire segment of resistance
  ``r`` (``wire_resistance_ohm``) precedes every position along the row;
- every column line runs from row 0 down to a virtual-ground sense amplifier, with one
  segment of resistance ``r`` after every row.

With the ideal currents ``I_ij = G_ij V_i`` the segment currents are partial sums, so the
voltage lost on the row wire at position ``j`` is ``r V_i sum_{k<=j} sum_{l>=k} L_il``
(``L = G+ + G-``, the row load) and the voltage raised on column ``j`` at row ``i`` is
``r sum_{k>=i} sum_{m<=k} G_mj V_m``. Feeding these first-order voltage errors back into
the device currents, the column output stays linear in the inputs and every device keeps
an effective gain

    gain_ij = 1 - r * (S_row_ij + S_col_ij),
    S_row_ij = sum_{k<=j} sum_{l>=k} L_il,   S_col_ij = sum_{k>=i} sum_{m<=k} G_mj,

so ``y_j = sum_i V_i G_ij gain_ij``: the IR drop costs nothing at inference time. The
error against an exact nodal solution is second order in ``r * G``; the model holds while
``r * G * (tile_rows + tile_cols)^2`` is small, and it is refused when a gain turns
negative.
"""

from __future__ import annotations

import torch
from torch import Tensor

from analog.config import CrossbarConfig


def _reverse_cumsum(t: Tensor, dim: int) -> Tensor:
    return t.flip(dim).cumsum(dim).flip(dim)


def ir_drop_gain(g_pos: Tensor, g_neg: Tensor, config: CrossbarConfig) -> tuple[Tensor, Tensor]:
    """Per-device first-order IR-drop gains for tiles of conductances (uS).

    Args:
        g_pos, g_neg: conductances, shape ``(R, tile_rows, C * tile_cols)``.
        config: supplies ``wire_resistance_ohm`` and ``tile_cols``.

    Returns:
        ``(gain_pos, gain_neg)``, same shape, dimensionless; all ones when the wire
        resistance is 0.
    """
    r = config.wire_resistance_ohm * 1e-6  # Ohm * uS -> dimensionless
    if r == 0:
        ones = torch.ones((), dtype=g_pos.dtype)
        return ones, ones
    n_r, rows, width = g_pos.shape
    load = (g_pos + g_neg).reshape(n_r, rows, width // config.tile_cols, config.tile_cols)
    s_row = _reverse_cumsum(load, dim=-1).cumsum(dim=-1).reshape(n_r, rows, width)
    gains = []
    for g in (g_pos, g_neg):
        s_col = _reverse_cumsum(g.cumsum(dim=1), dim=1)
        gains.append(1.0 - r * (s_row + s_col))
    low = min(float(gains[0].min()), float(gains[1].min()))
    if low < 0:
        raise ValueError(
            f"CrossbarConfig.wire_resistance_ohm={config.wire_resistance_ohm!r} is too large "
            f"for the first-order IR-drop model (a device gain reaches {low:.3g}): expected "
            "r * G * (tile_rows + tile_cols)^2 << 1"
        )
    return gains[0], gains[1]
