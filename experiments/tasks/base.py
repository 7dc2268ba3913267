"""Containers and helpers shared by every task: splits, windowing, scaling, checks."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import torch
from torch import Tensor

from experiments.tasks.catalog import KINDS, METRICS, SIZES, TaskUnavailable  # noqa: F401 (re-exported)


@dataclass(frozen=True)
class Split:
    """One data split.

    ``x``: ``(N, T, F)`` float32 inputs. ``y``: regression ``(N, out)`` float32, classification
    ``(N,)`` int64 class indices, language ``(N, T)`` int64 next-token indices. ``lengths``:
    ``(N,)`` int64 valid steps per sequence for padded variable-length data, else ``None``.
    """

    x: Tensor
    y: Tensor
    lengths: Tensor | None = None

    def __post_init__(self) -> None:
        if self.x.dim() != 3:
            raise ValueError(f"x has shape {tuple(self.x.shape)}; expected (N, T, F)")
        if self.y.shape[0] != self.x.shape[0]:
            raise ValueError(f"y has {self.y.shape[0]} rows but x has {self.x.shape[0]}")
        if not torch.isfinite(self.x).all():
            raise ValueError("x contains NaN or inf")
        if self.y.is_floating_point() and not torch.isfinite(self.y).all():
            raise ValueError("y contains NaN or inf")
        if self.lengths is not None and (
            self.lengths.shape != (self.x.shape[0],)
            or int(self.lengths.min()) < 1
            or int(self.lengths.max()) > self.x.shape[1]
        ):
            raise ValueError(f"lengths must be (N,) in [1, {self.x.shape[1]}]")

    def __len__(self) -> int:
        return self.x.shape[0]


@dataclass(frozen=True)
class TaskData:
    """What ``experiments.tasks.load`` returns.

    ``metric`` is the headline metric (see ``METRICS`` for its direction); ``output_size`` is
    the regression width, the number of classes or the vocabulary size. Control tasks carry
    ``make_env`` (a zero-argument factory of gymnasium environments) and empty splits.
    """

    name: str
    size: str
    kind: str
    metric: str
    description: str
    input_size: int
    output_size: int
    train: Split | None
    val: Split | None
    test: Split | None
    make_env: Callable[[], Any] | None = None
    info: dict = field(default_factory=dict)

    @property
    def higher_is_better(self) -> bool:
        return METRICS[self.metric]


def minmax_scale(series: np.ndarray, low: float = -1.0, high: float = 1.0) -> np.ndarray:
    """Scale a 1-D series linearly so its minimum is ``low`` and its maximum ``high``."""
    lo, hi = float(series.min()), float(series.max())
    if not math.isfinite(lo) or not math.isfinite(hi):
        raise ValueError("series contains NaN or inf")
    if hi == lo:
        raise ValueError("series is constant; cannot min-max scale")
    return low + (series - lo) * (high - low) / (hi - lo)


def windows(inputs: np.ndarray, targets: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """Sliding windows: ``x[k] = inputs[k:k+width]`` predicts ``targets[k+width]``.

    Returns ``x (N, width, 1)`` and ``y (N, 1)`` with ``N = len(inputs) - width``.
    """
    n = len(inputs) - width
    if n < 1:
        raise ValueError(f"series of length {len(inputs)} is too short for windows of {width}")
    idx = np.arange(n)[:, None] + np.arange(width)[None, :]
    return inputs[idx][..., None], targets[width:width + n, None]


def chronological_splits(x: np.ndarray, y: np.ndarray, train_frac: float = 0.67,
                         val_frac_of_train: float = 0.1) -> tuple[Split, Split, Split]:
    """First ``train_frac`` of the windows train (its last ``val_frac_of_train`` held out for
    validation / early stopping), the rest test; order is kept."""
    n = len(x)
    n_train = int(round(train_frac * n))
    n_val = max(1, int(round(val_frac_of_train * n_train)))
    if n_train - n_val < 1 or n - n_train < 1:
        raise ValueError(f"{n} windows are too few to split")
    xt = torch.as_tensor(x, dtype=torch.float32)
    yt = torch.as_tensor(y, dtype=torch.float32)
    cut = n_train - n_val
    return (Split(xt[:cut], yt[:cut]), Split(xt[cut:n_train], yt[cut:n_train]),
            Split(xt[n_train:], yt[n_train:]))


def stratified_splits(x: np.ndarray, y: np.ndarray, test_frac: float, seed: int,
                      val_frac_of_train: float = 0.1,
                      lengths: np.ndarray | None = None) -> tuple[Split, Split, Split]:
    """Stratified train/validation/test split of a classification set (scikit-learn)."""
    from sklearn.model_selection import train_test_split

    idx = np.arange(len(y))
    train_idx, test_idx = train_test_split(idx, test_size=test_frac, stratify=y,
                                           random_state=seed)
    train_idx, val_idx = train_test_split(train_idx, test_size=val_frac_of_train,
                                          stratify=y[train_idx], random_state=seed)

    def split(ix: np.ndarray) -> Split:
        return Split(torch.as_tensor(x[ix], dtype=torch.float32),
                     torch.as_tensor(y[ix], dtype=torch.int64),
                     None if lengths is None else torch.as_tensor(lengths[ix], dtype=torch.int64))

    return split(train_idx), split(val_idx), split(test_idx)
