"""Pre-activation mode of the tiled product: a column's whole pre-activation, before any
conversion, for converters that compute an activation (:mod:`analog.nl_adc`).

:func:`analog.tile.analog_mvm` digitizes every row tile's partial sum and adds the tiles
digitally; an activation computed inside the converter must instead see the complete
pre-activation ``z_j = sum_i W_ji x_i + b_j`` of column ``j``. Here:

- **Bias as conductances on an extra row.** :func:`with_bias_row` appends the bias as one
  more input column of the weight, driven by a constant input 1 (:func:`with_one`): it is
  programmed, scaled, noisy and faulty like every other weight.
- **Summation** (``config.preact_summation``): ``"analog"`` sums the column currents of all
  row tiles on one sense node before the single conversion (Kirchhoff's current law; the
  hardware needs the column lines of the row tiles wired to one integrator with the range of
  the whole column, and one weight scale per column across the tiles, which
  :func:`program_preactivation` enforces with ``shared_rows``); ``"single_tile"`` needs no
  extra wiring but refuses a layer (bias row included) taller than ``tile_rows``.
- **Weight scales and input scaling folded into the thresholds.** The column value ``m_j``
  (device equivalents) relates to the pre-activation by ``z_j = m_j * scale_j * s`` (``s``
  the input scaling of :func:`analog.tile.scale_inputs`). Comparing ``z_j`` with a
  threshold ``T_k`` is comparing ``m_j`` with ``T_k / (scale_j s)``: each column's ramp is
  its thresholds divided by its scale (per column, programmed once), and the per-vector
  ``1 / s`` is the read voltage the DAC applies to every row of that vector, the ramp row
  included (for a fixed ``dac_range`` it is a constant). The simulator therefore returns
  ``z`` and the converter compares in pre-activation units, which is the same decision.

Read noise is one Gaussian draw per column with the variance of all its rows (two devices
per weight, ``2 (read_noise_rel g_max / dG)^2 sum_i x_n,i^2``); comparator offset and noise
belong to the converter.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor

from analog.config import CrossbarConfig
from analog.converters import Dac
from analog.devices import ProgrammedLayer, program
from analog.tile import check_input, scale_inputs, standard_normal


def with_bias_row(weight: Tensor, bias: Tensor | None) -> Tensor:
    """``[W | b]`` ``(out, in + 1)``: the bias as the weights of one extra row (``W`` if
    ``bias`` is None)."""
    return weight if bias is None else torch.cat([weight, bias.unsqueeze(1)], dim=1)


def with_one(x: Tensor) -> Tensor:
    """``[x, 1]`` ``(batch, in + 1)``: the constant input that drives the bias row."""
    return torch.cat([x, x.new_ones(x.shape[0], 1)], dim=1)


def check_height(rows: int, config: CrossbarConfig, what: str = "layer") -> None:
    """A one-line error if ``rows`` inputs do not fit the summation mode."""
    if config.preact_summation == "single_tile" and rows > config.tile_rows:
        raise ValueError(f"{what} has {rows} rows (inputs plus bias row), too tall for "
                         f"preact_summation='single_tile' with tile_rows={config.tile_rows}: "
                         "use preact_summation='analog' or larger tiles")


def program_preactivation(weight: Tensor, config: CrossbarConfig,
                          generator: torch.Generator | None = None) -> ProgrammedLayer:
    """Program ``weight`` (out, in) (bias row included, see :func:`with_bias_row`) with one
    weight scale per column across its row tiles; checks the summation mode's height."""
    check_height(weight.shape[1], config)
    return program(weight, config, generator, shared_rows=True)


def preactivation(x: Tensor, layer: ProgrammedLayer, config: CrossbarConfig,
                  rng: np.random.Generator | None = None) -> Tensor:
    """The analog pre-activation ``x @ W.T`` of every column, summed over the row tiles
    before conversion, with the DAC, the programmed devices and read noise.

    Args:
        x: ``(batch, in_features)`` (an RNN cell passes ``[x_t, h_(t-1), 1]``).
        layer: from :func:`program_preactivation`.
        config: the configuration it was programmed with.
        rng: read-noise source (needed when ``read_noise_rel > 0``).

    Returns:
        ``(batch, out_features)`` in output units, unquantized (the converter follows).
    """
    check_input(x, layer.in_features)
    n_r, rows, width = layer.weights.shape
    read_sigma = config.read_noise_rel * config.g_max_us / config.window_us
    if read_sigma > 0 and rng is None:
        raise ValueError("rng=None is not allowed with read noise: expected a "
                         "numpy.random.Generator")
    exact = config.dac_bits is None and config.dac_range is None
    xn, s = (x, 1.0) if exact and read_sigma == 0 else scale_inputs(x, config)
    if config.dac_range is not None:
        xn = xn.clamp(-1.0, 1.0)
    if config.dac_bits is not None:
        xn = Dac(config.dac_bits, 1.0).quantize_(xn.clone())
    if n_r * rows != layer.in_features:
        xn = torch.nn.functional.pad(xn, (0, n_r * rows - layer.in_features))
    # analog summation: one product over all rows of all row tiles (scales are shared)
    m = xn @ layer.weights.to(x.dtype).reshape(n_r * rows, width)
    if read_sigma > 0:
        sigma = xn.square().sum(dim=1, keepdim=True).mul_(2 * read_sigma**2).sqrt_()
        m = m + standard_normal(tuple(m.shape), rng).to(m.dtype) * sigma
    z = m * layer.scale[0].to(x.dtype)
    z = z[:, : layer.out_features] if layer.out_features != width else z
    if not isinstance(s, float) or s != 1.0:
        z = z * s
    return z * layer.output_gain if layer.output_gain != 1.0 else z
