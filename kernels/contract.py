"""The sequence contract every model family shares, at the bottom of the package.

``qrnn``, ``analog`` and ``classical`` import this module and never each other:

- :class:`SequenceBody`: the call shape. ``x`` ``(batch, time, input_size)`` float32/float64
  -> ``(y, state)`` with ``y`` ``(batch, time, hidden_size)``; ``state`` is whatever the
  family carries between calls (``None`` starts from zeros).
- :func:`check_sequence`, :func:`check_sizes`: the one-line input errors of every family.
- :class:`BackendSwitch`: a settable, validated ``backend`` attribute (the parameters stay
  where they are when it changes, so weights move between executions).
- :func:`check_path`: the one fast-path convention. Every object that can run compiled code
  carries ``path="auto"`` (an argument or a config field): ``"auto"`` takes the compiled
  kernel where it applies and falls back to the torch reference (warning once) where it
  cannot; ``"reference"`` forces the plain torch code, which is how tests hold the two
  together; other names force one compiled path (e.g. ``"cpu"``, ``"triton"``).
- :func:`generator`: seeded random streams, so every stochastic part of a model (init,
  programmed devices, faults, frozen circuits, shots) draws from the run's seed and the
  streams of different parts are independent.
"""

from __future__ import annotations

import hashlib
from typing import Any, Protocol, runtime_checkable

import torch
from torch import Tensor

AUTO, REFERENCE = "auto", "reference"


@runtime_checkable
class SequenceBody(Protocol):
    """A recurrent body: ``forward(x (B, T, input_size), state=None) -> (y (B, T, H), state)``."""

    input_size: int
    hidden_size: int

    def __call__(self, x: Tensor, state: Any = None) -> tuple[Tensor, Any]: ...


def check_sequence(x: Tensor, input_size: int, name: str = "x") -> None:
    """Raise a one-line error unless ``x`` is a finite floating ``(B, T, input_size)`` tensor
    with ``B, T >= 1``."""
    if not isinstance(x, Tensor):
        raise TypeError(f"{name} must be a torch.Tensor of shape (batch, time, {input_size})")
    if x.dim() != 3 or x.shape[-1] != input_size:
        raise ValueError(
            f"{name} has shape {tuple(x.shape)}; expected (batch, time, {input_size})"
        )
    if not x.is_floating_point():
        raise TypeError(f"{name} has dtype {x.dtype}; expected float32 or float64")
    if x.shape[0] == 0 or x.shape[1] == 0:
        raise ValueError(f"{name} has shape {tuple(x.shape)}; batch and time must be >= 1")
    if not bool(torch.isfinite(x).all()):
        raise ValueError(f"{name} holds NaN or inf values; inputs must be finite")


def check_sizes(**sizes: int) -> None:
    """Raise a one-line error unless every keyword (``input_size=...``) is an int >= 1."""
    for field, value in sizes.items():
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"{field}={value!r}: must be an integer >= 1")


def check_choice(field: str, value: str, allowed: tuple[str, ...]) -> str:
    """``value`` if it is one of ``allowed``, else a one-line error naming them."""
    if value not in allowed:
        raise ValueError(f"{field}={value!r} is unknown; allowed: {', '.join(allowed)}")
    return value


def check_path(path: str, compiled: tuple[str, ...] = ("compiled",)) -> str:
    """Validate a fast-path choice: ``"auto"``, ``"reference"`` or one of ``compiled``."""
    return check_choice("path", path, (AUTO, REFERENCE, *compiled))


class BackendSwitch:
    """A settable ``backend`` attribute checked against the class's ``backends`` (the
    parameters stay where they are when it changes), and the sizes every body shares."""

    backends: tuple[str, ...] = ()

    @property
    def backend(self) -> str:
        """How ``forward`` executes (one of ``backends``); settable."""
        return self._backend

    @backend.setter
    def backend(self, value: str) -> None:
        self._backend = check_choice("backend", value, self.backends)

    def _set_sizes(self, input_size: int, hidden_size: int, num_layers: int,
                   backend: str) -> None:
        """Validate and keep the sizes every recurrent model shares, and its backend."""
        check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.backend = backend


def derive_seed(seed: int, stream: str) -> int:
    """A 63-bit seed for the named ``stream`` of ``seed``: independent of other streams, the
    same in every process (no Python ``hash`` randomisation)."""
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ValueError(f"seed={seed!r}: must be an integer >= 0")
    digest = hashlib.sha256(f"{seed}/{stream}".encode()).digest()
    return int.from_bytes(digest[:8], "little") >> 1


def generator(seed: int, stream: str) -> torch.Generator:
    """A CPU ``torch.Generator`` seeded with :func:`derive_seed` ``(seed, stream)``."""
    return torch.Generator().manual_seed(derive_seed(seed, stream))
