"""Registry of sequence models and the task heads that turn them into predictors.

A registered model is a recurrent body obeying the package contract (``x (B, T, F)`` ->
``(y (B, T, H), state)``); :class:`SequenceModel` adds the head a task needs. Families other
than ``classical`` register here as they land.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import torch
from torch import Tensor, nn

import classical


@dataclass(frozen=True)
class ModelSpec:
    """A registered model: ``build(input_size, hidden_size, backend=..., num_layers=...)``
    returns the recurrent body; ``backends`` lists what ``backend=`` accepts (first = default)."""

    name: str
    family: str
    description: str
    build: Callable[..., nn.Module]
    backends: tuple[str, ...]


def _classical(cls, name, description):
    def build(input_size, hidden_size, *, backend="torch", num_layers=1):
        return cls(input_size, hidden_size, num_layers=num_layers, backend=backend)
    return ModelSpec(name, "classical", description, build, tuple(cls.backends))


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        _classical(classical.LSTM, "lstm", "LSTM (Hochreiter & Schmidhuber 1997)"),
        _classical(classical.GRU, "gru", "GRU (Cho et al. 2014)"),
        _classical(classical.Elman, "elman", "Elman tanh RNN"),
        _classical(classical.MinGRU, "mingru", "minGRU, parallel scan (Feng et al. 2024)"),
        _classical(classical.MinLSTM, "minlstm", "minLSTM, parallel scan (Feng et al. 2024)"),
    )
}


def model_spec(name: str) -> ModelSpec:
    """The registered model ``name``; an unknown name lists the valid ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    return MODELS[name]


def check_model_backend(spec: ModelSpec, backend: str | None) -> str:
    backend = spec.backends[0] if backend is None else backend
    if backend not in spec.backends:
        raise ValueError(f"backend {backend!r} is not available for model {spec.name!r}; "
                         f"allowed: {', '.join(spec.backends)}")
    return backend


class SequenceModel(nn.Module):
    """A recurrent body plus the head of a task kind.

    - ``regression``: ``Linear(H, out)`` on the last step -> ``(B, out)``;
    - ``classification``: ``Linear(H, classes)`` on the last valid step (``lengths``) ->
      ``(B, classes)`` logits;
    - ``language``: ``Linear(H, V)`` on every step -> ``(B, T, V)`` logits;
    - ``control``: policy logits ``(B, T, actions)`` and state values ``(B, T)``; ``forward``
      also returns the recurrent state so a policy can be run one step at a time.
    """

    def __init__(self, body: nn.Module, hidden_size: int, output_size: int, kind: str) -> None:
        super().__init__()
        self.body = body
        self.kind = kind
        self.head = nn.Linear(hidden_size, output_size)
        self.value = nn.Linear(hidden_size, 1) if kind == "control" else None

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
        return self.head(y), self.value(y).squeeze(-1), state


def build_model(name: str, input_size: int, output_size: int, kind: str, *,
                hidden_size: int, backend: str | None = None, num_layers: int = 1,
                seed: int = 0) -> SequenceModel:
    """Build model ``name`` with the head for ``kind``; parameters are initialised from ``seed``
    (the global torch RNG is left as it was)."""
    spec = model_spec(name)
    backend = check_model_backend(spec, backend)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        body = spec.build(input_size, hidden_size, backend=backend, num_layers=num_layers)
        return SequenceModel(body, hidden_size, output_size, kind)


def count_parameters(model: nn.Module) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)
