"""Character-level language modelling data (bits per character on the held-out tail)."""

from __future__ import annotations

import torch

from experiments.tasks.base import Split


def pydoc_topics_text() -> str:
    """The text of the standard library's ``pydoc_data.topics`` (always present), topics in
    sorted order, joined by blank lines."""
    from pydoc_data.topics import topics

    return "\n\n".join(topics[k] for k in sorted(topics))


def read_corpus(path: str) -> str:
    """Read a UTF-8 text file for ``char_lm --corpus``; one-line errors for bad files."""
    try:
        with open(path, encoding="utf-8") as fh:
            text = fh.read()
    except FileNotFoundError:
        raise ValueError(f"corpus={path!r}: no such file") from None
    except UnicodeDecodeError:
        raise ValueError(f"corpus={path!r}: not UTF-8 text") from None
    except OSError as exc:
        raise ValueError(f"corpus={path!r}: {exc.strerror}") from None
    if len(text) < 1000:
        raise ValueError(f"corpus={path!r} has {len(text)} characters; need at least 1000")
    return text


def char_splits(text: str, seq_len: int, val_frac: float = 0.05,
                test_frac: float = 0.1) -> tuple[Split, Split, Split, list[str]]:
    """Cut ``text`` into train / validation / test (the last ``test_frac``), each into
    non-overlapping sequences of ``seq_len`` characters.

    ``x``: one-hot ``(N, seq_len, V)`` float32; ``y``: next-character indices ``(N, seq_len)``.
    Returns the splits and the vocabulary (sorted characters of the whole text).
    """
    vocab = sorted(set(text))
    index = {ch: i for i, ch in enumerate(vocab)}
    ids = torch.tensor([index[ch] for ch in text], dtype=torch.int64)
    n = len(ids)
    n_test = int(n * test_frac)
    n_val = int(n * val_frac)
    bounds = [0, n - n_test - n_val, n - n_test, n]

    def split(lo: int, hi: int) -> Split:
        count = (hi - lo - 1) // seq_len
        if count < 1:
            raise ValueError(f"text too short for sequences of {seq_len} characters")
        chunk = ids[lo: lo + count * seq_len + 1]
        x_ids = chunk[:-1].view(count, seq_len)
        y_ids = chunk[1:].view(count, seq_len)
        return Split(torch.nn.functional.one_hot(x_ids, len(vocab)).float(), y_ids)

    return (split(bounds[0], bounds[1]), split(bounds[1], bounds[2]),
            split(bounds[2], bounds[3]), vocab)
