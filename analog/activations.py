"""Monotone activation functions with their inverse and derivative, for converters that
compute an activation (:mod:`analog.nl_adc`).

An :class:`Activation` holds ``fn`` (strictly increasing), its ``inverse`` on the open
output range ``(low, high)``, its ``derivative`` (used by the straight-through estimator
through a converter's staircase) and the output range. The built-ins :data:`SIGMOID`
(range (0, 1)) and :data:`TANH` (range (-1, 1)) have closed forms; :meth:`Activation.custom`
takes any increasing torch function with its inverse, a tabulated inverse ``(x, fn(x))``, or
neither (then the inverse is tabulated from ``fn`` on ``domain``). Custom functions are
checked on a grid: strictly increasing on ``domain``, and ``fn(inverse(y)) == y`` within
1e-4 of the output range.

The quantized output of an N-bit converter of ``f`` is uniform in output space: code
``k`` (0..2^N - 1) stands for ``low + (k + 1/2) (high - low) / 2^N`` and the decision
thresholds are ``T_k = inverse(low + k (high - low) / 2^N)``, ``k = 1..2^N - 1``
(:meth:`Activation.thresholds`): for the sigmoid ``T_k = logit(k / 2^N)``, for tanh
``T_k = artanh(2k / 2^N - 1)``.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from torch import Tensor

GRID = 4097  # points of the monotonicity / inversion checks and of a tabulated inverse


@dataclass(frozen=True)
class Activation:
    """A strictly increasing activation with inverse, derivative and output range.

    Attributes:
        name: label for messages and reprs.
        fn: ``Tensor -> Tensor``, elementwise, strictly increasing.
        inverse: ``Tensor -> Tensor`` on ``(low, high)``.
        derivative: ``Tensor -> Tensor``, ``fn'`` elementwise.
        low, high: the output range (open at both ends for sigmoid and tanh).
    """

    name: str
    fn: Callable[[Tensor], Tensor]
    inverse: Callable[[Tensor], Tensor]
    derivative: Callable[[Tensor], Tensor]
    low: float
    high: float

    def thresholds(self, bits: int) -> Tensor:
        """Decision thresholds ``(2^bits - 1,)`` float64, increasing (see module docstring)."""
        k = torch.arange(1, 2**bits, dtype=torch.float64)
        t = self.inverse(self.low + k * ((self.high - self.low) / 2**bits))
        if t.numel() > 1 and not bool((t[1:] > t[:-1]).all()):
            raise ValueError(f"activation {self.name!r}: the thresholds of a {bits}-bit "
                             "converter are not strictly increasing (inverse too coarse)")
        return t

    def levels(self, bits: int) -> Tensor:
        """Output value of each code ``(2^bits,)`` float64: the centres of ``2^bits`` equal
        steps of ``(low, high)``."""
        k = torch.arange(2**bits, dtype=torch.float64)
        return self.low + (k + 0.5) * ((self.high - self.low) / 2**bits)

    @classmethod
    def custom(cls, fn: Callable[[Tensor], Tensor], *, inverse: Callable | None = None,
               table: tuple | None = None, domain: tuple[float, float] = (-8.0, 8.0),
               name: str = "custom") -> Activation:
        """An activation from any increasing torch function.

        Args:
            fn: elementwise ``Tensor -> Tensor``.
            inverse: its inverse on ``(fn(domain[0]), fn(domain[1]))``; or
            table: a tabulated inverse ``(x, fn(x))`` (1-D, x increasing), interpolated
                linearly; with neither, the inverse is tabulated from ``fn`` on ``domain``.
            domain: where ``fn`` is checked and where the output range is taken.
            name: label.
        """
        if not callable(fn):
            raise TypeError(f"fn must be callable, got {type(fn).__name__}")
        lo_x, hi_x = domain
        if not lo_x < hi_x:
            raise ValueError(f"domain={domain!r} is not allowed: expected (low, high), low < high")
        grid = torch.linspace(lo_x, hi_x, GRID, dtype=torch.float64)
        values = torch.as_tensor(fn(grid), dtype=torch.float64)
        if values.shape != grid.shape or not bool(torch.isfinite(values).all()):
            raise ValueError(f"fn of {name!r} must map a tensor elementwise to finite values")
        steps = values[1:] - values[:-1]
        if not bool((steps > 0).all()):
            at = float(grid[int(torch.nonzero(steps <= 0)[0])])
            raise ValueError(f"fn of {name!r} is not monotone increasing on {domain} (it does "
                             f"not increase at x={at:.4g}): a threshold converter needs a "
                             "strictly increasing activation")
        low, high = float(values[0]), float(values[-1])
        if inverse is None:
            xs, ys = (grid, values) if table is None else _table(table, name)
            inverse = _interpolated(xs, ys)
        elif not callable(inverse):
            raise TypeError(f"inverse must be callable, got {type(inverse).__name__}")
        y = low + (high - low) * torch.linspace(0.01, 0.99, GRID, dtype=torch.float64)
        err = (torch.as_tensor(fn(torch.as_tensor(inverse(y), dtype=torch.float64)),
                               dtype=torch.float64) - y).abs()
        if not bool((err <= 1e-4 * (high - low)).all()):
            worst = int(torch.nan_to_num(err, nan=float("inf")).argmax())
            raise ValueError(f"the inverse of {name!r} does not invert fn: fn(inverse(y)) - y "
                             f"= {float(err[worst]):.3g} at y={float(y[worst]):.4g} (allowed "
                             f"1e-4 of the output range [{low:.4g}, {high:.4g}])")
        return cls(name, fn, inverse, _autograd_derivative(fn), low, high)


def _table(table, name: str) -> tuple[Tensor, Tensor]:
    try:
        xs, ys = (torch.as_tensor(np.asarray(v, dtype=np.float64)) for v in table)
    except (TypeError, ValueError) as err:
        raise TypeError(f"table of {name!r} must be a pair (x, fn(x)) of 1-D number arrays: "
                        f"{err}") from None
    if xs.ndim != 1 or xs.shape != ys.shape or xs.numel() < 2:
        raise ValueError(f"table of {name!r} must be two 1-D arrays of one length >= 2, got "
                         f"shapes {tuple(xs.shape)} and {tuple(ys.shape)}")
    if not bool((ys[1:] > ys[:-1]).all()):
        raise ValueError(f"table of {name!r}: fn(x) must be strictly increasing")
    return xs, ys


def _interpolated(xs: Tensor, ys: Tensor) -> Callable[[Tensor], Tensor]:
    """Piecewise-linear inverse from the table ``ys = fn(xs)`` (clamped at the ends)."""
    def inverse(y: Tensor) -> Tensor:
        y = torch.as_tensor(y, dtype=torch.float64)
        i = torch.searchsorted(ys, y).clamp(1, ys.numel() - 1)
        y0, y1, x0, x1 = ys[i - 1], ys[i], xs[i - 1], xs[i]
        return x0 + (y - y0) * (x1 - x0) / (y1 - y0)
    return inverse


def _autograd_derivative(fn: Callable[[Tensor], Tensor]) -> Callable[[Tensor], Tensor]:
    def derivative(z: Tensor) -> Tensor:
        with torch.enable_grad():
            zz = z.detach().requires_grad_(True)
            (grad,) = torch.autograd.grad(fn(zz).sum(), zz)
        return grad
    return derivative


def _sigmoid_derivative(z: Tensor) -> Tensor:
    s = torch.sigmoid(z)
    return s * (1 - s)


def _tanh_derivative(z: Tensor) -> Tensor:
    return 1 - torch.tanh(z).square()


SIGMOID = Activation("sigmoid", torch.sigmoid, torch.logit, _sigmoid_derivative, 0.0, 1.0)
TANH = Activation("tanh", torch.tanh, torch.atanh, _tanh_derivative, -1.0, 1.0)
IDENTITY = Activation("identity", lambda z: z, lambda y: y, torch.ones_like, -1.0, 1.0)
"""The plain linear converter's transfer (a linear ADC with no activation after it)."""
BUILTIN = {"sigmoid": SIGMOID, "tanh": TANH}


def resolve(fn) -> Activation:
    """``"sigmoid"``, ``"tanh"`` or an :class:`Activation`; a plain callable is checked
    through :meth:`Activation.custom` (its inverse tabulated)."""
    if isinstance(fn, Activation):
        return fn
    if isinstance(fn, str):
        if fn not in BUILTIN:
            raise ValueError(f"fn={fn!r} is unknown; allowed: {', '.join(BUILTIN)}, an "
                             "Activation or a callable")
        return BUILTIN[fn]
    if callable(fn):
        return Activation.custom(fn)
    raise TypeError(f"fn must be 'sigmoid', 'tanh', an Activation or a callable, got "
                    f"{type(fn).__name__}")
