"""Device programming: weights -> target conductances -> programmed conductances.

All functions are pure (tensors in, tensors out) and take an explicit
``torch.Generator``. Conductances are in uS. Programming happens once per model
(static state); read noise is drawn per forward pass in :mod:`analog.tile`.

The pipeline of :func:`program`:

1. tile the transposed weight ``W.T`` (in, out) into ``(n_row_tiles, tile_rows,
   n_col_tiles * tile_cols)``, zero-padded (padding positions hold no device);
2. scale each column / tile / layer into [-1, 1] (scale = largest magnitude);
3. map to a differential pair: ``G+ = g_min + dG * max(w, 0)``,
   ``G- = g_min + dG * max(-w, 0)``;
4. quantize each device to ``levels`` equally spaced conductances in the window;
5. add programming error ``N(0, (prog_noise_rel * g_max)^2)``, clipped to [0, g_max];
6. stuck-at faults: each device independently stuck at g_max (rate ``stuck_on_rate``)
   or g_min (rate ``stuck_off_rate``);
7. drift of the non-stuck devices to ``drift_time_s``: ``G = G0 * (t / t0) ** -nu``
   with ``nu ~ N(drift_nu, drift_nu_std)`` clipped at 0, per device; with
   ``drift_compensation`` one global output gain per layer,
   ``sum |G0+ - G0-| / sum |G(t)+ - G(t)-|``;
8. the first-order IR-drop gain (:func:`analog.ir_drop.ir_drop_gain`) is folded into the
   effective normalized weights used by the tiled MVM.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor

from analog.config import CrossbarConfig
from analog.ir_drop import ir_drop_gain


@dataclass
class ProgrammedLayer:
    """Static state of one layer on the crossbar.

    Attributes:
        g_pos, g_neg: programmed conductances (uS), shape ``(R, tile_rows, C * tile_cols)``
            for ``R`` row tiles and ``C`` column tiles; padding positions are 0.
        weights: effective normalized weights ``(G+ * gain+ - G- * gain-) / dG``, same
            shape, dimensionless (IR-drop gains folded in).
        scale: weight units per device equivalent, shape ``(R, 1, C * tile_cols)``.
        output_gain: global digital output gain (drift compensation; 1.0 without).
        in_features, out_features: the layer's logical shape.
    """

    g_pos: Tensor
    g_neg: Tensor
    weights: Tensor
    scale: Tensor
    output_gain: float
    in_features: int
    out_features: int


def tile_grid(in_features: int, out_features: int, config: CrossbarConfig) -> tuple[int, int]:
    """Number of (row, column) tiles a layer ``in_features -> out_features`` occupies."""
    return -(-in_features // config.tile_rows), -(-out_features // config.tile_cols)


def check_weight(weight: Tensor) -> None:
    """Raise a one-line error unless ``weight`` is a finite 2-D floating tensor."""
    if not isinstance(weight, Tensor):
        raise TypeError(f"weight must be a torch.Tensor, got {type(weight).__name__}")
    if weight.ndim != 2 or weight.numel() == 0:
        raise ValueError(f"weight has shape {tuple(weight.shape)}: expected a non-empty "
                         "(out_features, in_features) matrix")
    if not weight.is_floating_point():
        raise TypeError(f"weight has dtype {weight.dtype}: expected a floating dtype")
    if not bool(torch.isfinite(weight).all()):
        bad = int((~torch.isfinite(weight)).sum())
        raise ValueError(f"weight contains {bad} NaN/inf values: expected finite numbers")


def to_tiles(weight: Tensor, config: CrossbarConfig) -> Tensor:
    """Transpose and zero-pad ``weight`` (out, in) to tiles ``(R, tile_rows, C * tile_cols)``."""
    out_f, in_f = weight.shape
    n_r, n_c = tile_grid(in_f, out_f, config)
    padded = weight.new_zeros(n_r * config.tile_rows, n_c * config.tile_cols)
    padded[:in_f, :out_f] = weight.t()
    return padded.reshape(n_r, config.tile_rows, n_c * config.tile_cols)


def weight_scales(tiles: Tensor, config: CrossbarConfig, shared_rows: bool = False) -> Tensor:
    """Largest weight magnitude per column / tile / layer (``config.weight_scaling``),
    shape ``(R, 1, C * tile_cols)``; all-zero groups get scale 1. ``shared_rows``: one
    scale for all row tiles of a column (what analog summation across row tiles needs)."""
    n_r, _, width = tiles.shape
    mag = tiles.abs().amax(dim=1, keepdim=True)
    if shared_rows:
        mag = mag.amax(dim=0, keepdim=True).expand(n_r, 1, width)
    if config.weight_scaling == "tile":
        mag = mag.reshape(n_r, 1, -1, config.tile_cols).amax(-1, keepdim=True)
        mag = mag.expand(-1, -1, -1, config.tile_cols).reshape(n_r, 1, width)
    elif config.weight_scaling == "layer":
        mag = mag.amax().expand(n_r, 1, width)
    return torch.where(mag > 0, mag, torch.ones_like(mag)).contiguous()


def target_conductances(w: Tensor, config: CrossbarConfig) -> tuple[Tensor, Tensor]:
    """Differential pair for normalized weights ``w`` in [-1, 1]: (G+, G-) in uS."""
    g_pos = config.g_min_us + config.window_us * w.clamp(min=0)
    g_neg = config.g_min_us + config.window_us * (-w).clamp(min=0)
    return g_pos, g_neg


def quantize_levels(g: Tensor, config: CrossbarConfig) -> Tensor:
    """Round conductances (uS) to ``config.levels`` equally spaced values in the window;
    ``levels=None`` returns ``g`` unchanged."""
    if config.levels is None:
        return g
    step = config.window_us / (config.levels - 1)
    k = torch.round((g - config.g_min_us) / step).clamp(0, config.levels - 1)
    return config.g_min_us + k * step


def add_programming_noise(g: Tensor, config: CrossbarConfig,
                          generator: torch.Generator | None) -> Tensor:
    """Add ``N(0, (prog_noise_rel * g_max)^2)`` per device and clip to [0, g_max] (uS)."""
    if config.prog_noise_rel == 0:
        return g
    noise = torch.randn(g.shape, generator=generator, dtype=g.dtype)
    return (g + noise * (config.prog_noise_rel * config.g_max_us)).clamp(0.0, config.g_max_us)


def fault_masks(shape: tuple[int, ...], config: CrossbarConfig,
                generator: torch.Generator | None) -> tuple[Tensor, Tensor]:
    """Boolean (stuck_on, stuck_off) masks, disjoint, with the configured rates."""
    u = torch.rand(shape, generator=generator, dtype=torch.float64)
    on = u < config.stuck_on_rate
    off = (u >= config.stuck_on_rate) & (u < config.stuck_on_rate + config.stuck_off_rate)
    return on, off


def drift(g0: Tensor, nu: Tensor, time_s: float, t0_s: float) -> Tensor:
    """Power-law drift ``G0 * (time_s / t0_s) ** -nu`` (uS), elementwise."""
    return g0 * torch.exp(-nu * torch.log(torch.tensor(time_s / t0_s, dtype=g0.dtype)))


def drift_exponents(shape: tuple[int, ...], config: CrossbarConfig,
                    generator: torch.Generator | None, dtype: torch.dtype) -> Tensor:
    """Per-device exponents ``nu ~ N(drift_nu, drift_nu_std)``, clipped at 0."""
    nu = torch.full(shape, config.drift_nu, dtype=dtype)
    if config.drift_nu_std > 0:
        nu = nu + config.drift_nu_std * torch.randn(shape, generator=generator, dtype=dtype)
    return nu.clamp(min=0.0)


def program(weight: Tensor, config: CrossbarConfig,
            generator: torch.Generator | None = None, shared_rows: bool = False
            ) -> ProgrammedLayer:
    """Program ``weight`` (out_features, in_features) onto crossbar tiles (see the module
    docstring for the steps). Deterministic given ``generator``'s state. ``shared_rows``:
    the row tiles of a column share its weight scale (:func:`weight_scales`)."""
    check_weight(weight)
    w = weight.detach()
    tiles = to_tiles(w, config)
    present = to_tiles(torch.ones_like(w), config) > 0
    scale = weight_scales(tiles, config, shared_rows)
    g_pos, g_neg = target_conductances(tiles / scale, config)
    g = torch.stack([g_pos, g_neg])
    g = add_programming_noise(quantize_levels(g, config), config, generator)
    stuck_on, stuck_off = fault_masks(tuple(g.shape), config, generator)
    stuck = stuck_on | stuck_off
    g0 = torch.where(stuck_on, config.g_max_us, torch.where(stuck_off, config.g_min_us, g))
    g0 = g0 * present
    output_gain = 1.0
    if config.drift_time_s > config.drift_t0_s:
        nu = drift_exponents(tuple(g.shape), config, generator, g.dtype)
        g = torch.where(stuck, g0, drift(g0, nu, config.drift_time_s, config.drift_t0_s))
        if config.drift_compensation:
            before = (g0[0] - g0[1]).abs().sum()
            after = (g[0] - g[1]).abs().sum()
            output_gain = float(before / after) if after > 0 else 1.0
    else:
        g = g0
    gain_pos, gain_neg = ir_drop_gain(g[0], g[1], config)
    weights = (g[0] * gain_pos - g[1] * gain_neg) / config.window_us
    return ProgrammedLayer(g_pos=g[0], g_neg=g[1], weights=weights, scale=scale,
                           output_gain=output_gain, in_features=w.shape[1],
                           out_features=w.shape[0])
