"""The task heads (:class:`SequenceModel`) and the builders of the classical entries.

Kept apart from :mod:`experiments.models` so that listing the registry imports no torch.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from experiments.tasks.base import KINDS


class SequenceModel(nn.Module):
    """A recurrent body plus the head of a task kind (``W`` = ``body.output_size`` if the body
    has one, else ``hidden_size``).

    - ``regression``: ``Linear(W, out)`` on the last step -> ``(B, out)``;
    - ``classification``: ``Linear(W, classes)`` on the last valid step (``lengths``) ->
      ``(B, classes)`` logits;
    - ``language``: ``Linear(W, V)`` on every step -> ``(B, T, V)`` logits;
    - ``control``: policy logits ``(B, T, actions)`` and state values ``(B, T)``; ``forward``
      also returns the recurrent state so a policy can be run one step at a time. The value
      head is a linear baseline on the body's output that does not train the body (it reads
      the output detached): the body's features serve the policy alone (with a shared body
      the value loss also trains a 3-wide quantum hidden state to predict returns, and
      QLSTM learns CartPole far less; see the README's Control paragraph).
    """

    def __init__(self, body: nn.Module, hidden_size: int, output_size: int, kind: str) -> None:
        super().__init__()
        if kind not in KINDS:
            raise ValueError(f"kind={kind!r} is unknown; allowed: {', '.join(KINDS)}")
        width = getattr(body, "output_size", hidden_size)
        self.body = body
        self.kind = kind
        self.head = nn.Linear(width, output_size)
        self.value = nn.Linear(width, 1) if kind == "control" else None

    def forward(self, x: Tensor, lengths: Tensor | None = None, state=None):
        y, state = self.body(x, state)
        if self.kind == "regression":
            return self.head(y[:, -1])
        if self.kind == "classification":
            if lengths is not None:
                y = y[torch.arange(y.shape[0], device=y.device), lengths - 1]
            else:
                y = y[:, -1]
            return self.head(y)
        if self.kind == "language":
            return self.head(y)
        return self.head(y), self.value(y.detach()).squeeze(-1), state


def build_with_head(spec, input_size: int, output_size: int, kind: str, *, hidden_size: int,
                    backend: str, num_layers: int, seed: int, options: dict) -> SequenceModel:
    """The body of ``spec`` (a resolved :class:`experiments.models.ModelSpec` call) plus the
    head of ``kind``, initialised under ``torch.manual_seed(seed)`` (global RNG restored)."""
    build = spec.builder()
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        body = build(input_size, hidden_size, backend=backend, num_layers=num_layers,
                     seed=seed, **options)
        return SequenceModel(body, hidden_size, output_size, kind)


def _classical(cls_name: str):
    def build(input_size, hidden_size, *, backend="torch", num_layers=1, seed=0):
        import classical

        cls = getattr(classical, cls_name)
        return cls(input_size, hidden_size, num_layers=num_layers, backend=backend)
    build.__name__ = f"build_{cls_name.lower()}"
    return build


build_lstm = _classical("LSTM")
build_gru = _classical("GRU")
build_elman = _classical("Elman")
build_mingru = _classical("MinGRU")
build_minlstm = _classical("MinLSTM")
