"""Quantum reservoir (Chen et al. 2022): a QRNN, QGRU or QLSTM with random frozen circuits.

The circuit weights are drawn once from the run's seed (stream ``"reservoir"``) and never
trained (they are buffers, not parameters); only the task head the trainer adds on ``y`` (the
linear readout) learns. Because the readout does not feed back, the reservoir's features are
computed once per data set and the readout has a closed form: :meth:`QuantumReservoir.
fit_readout` (ridge regression, the regularisation chosen on the validation split), which
``experiments.train.fit`` calls when a body offers it (``readout="gd"`` opts out: the head is
then trained by gradient descent like any other model).

Distributions of the frozen angles: ``"uniform"`` U[0, scale) (default scale 2 pi: a random
circuit) or ``"normal"`` scale * N(0, 1) (scale 0.01 is QLSTM's init: an almost fixed circuit).
"""

from __future__ import annotations

import math

import torch
from torch import Tensor, nn

from kernels.contract import check_choice, generator
from qrnn.cells import Circuit, QuantumBody
from qrnn.qgru import QGRU, QRNN
from qrnn.qlstm import QLSTM

CELLS = {"qrnn": QRNN, "qgru": QGRU, "qlstm": QLSTM}
DISTRIBUTIONS = ("uniform", "normal")
READOUTS = ("ridge", "gd")
RIDGE_LAMBDAS = tuple(10.0**k for k in range(-10, 2))
"""Regularisations tried by the closed-form readout (the one with the lowest validation MSE
is kept)."""


class QuantumReservoir(QuantumBody):
    """A quantum recurrent cell with frozen random circuits; ``y`` is the cell's output.

    Args:
        input_size, hidden_size: as the cell's.
        cell: ``"qrnn"``, ``"qgru"`` or ``"qlstm"`` (its chen2020 construction).
        n_qubits, n_layers: as the cell's (defaults: ``input_size + hidden_size``, 2).
        distribution: ``"uniform"`` or ``"normal"``; scale: > 0, default 2 pi (uniform) or 1
            (normal).
        readout: ``"ridge"`` (closed form through :meth:`fit_readout`) or ``"gd"``.
        lambdas: ridge regularisations to choose from on the validation split.
        num_layers, backend, shots, noise, seed, path: see :class:`~qrnn.cells.QuantumBody`;
            ``seed`` also draws the frozen circuits.
    """

    def __init__(self, input_size: int, hidden_size: int, *, cell: str = "qlstm",
                 n_qubits: int | None = None, n_layers: int = 2, distribution: str = "uniform",
                 scale: float | None = None, readout: str = "ridge",
                 lambdas: tuple[float, ...] = RIDGE_LAMBDAS, num_layers: int = 1,
                 backend: str = "fast", shots: int | None = None, noise=None, seed: int = 0,
                 path: str = "auto") -> None:
        check_choice("cell", cell, tuple(CELLS))
        check_choice("distribution", distribution, DISTRIBUTIONS)
        check_choice("readout", readout, READOUTS)
        scale = (2 * math.pi if distribution == "uniform" else 1.0) if scale is None else scale
        if not (isinstance(scale, (int, float)) and math.isfinite(scale) and scale > 0):
            raise ValueError(f"scale={scale!r}: must be a finite number > 0")
        lambdas = tuple(lambdas)
        if not lambdas or not all(math.isfinite(v) and v >= 0 for v in lambdas):
            raise ValueError(f"lambdas={lambdas!r}: must be one or more finite numbers >= 0")
        super().__init__(input_size, hidden_size, num_layers=num_layers, backend=backend,
                         shots=shots, noise=noise, seed=seed, path=path)
        self.cell = CELLS[cell](input_size, hidden_size, n_qubits=n_qubits, n_layers=n_layers,
                                backend=backend, shots=shots, noise=noise, seed=seed, path=path)
        shape = self.cell.weights.shape
        gen = generator(seed, "reservoir")
        draw = torch.rand(shape, generator=gen) if distribution == "uniform" else torch.randn(
            shape, generator=gen)
        del self.cell.weights
        self.cell.register_buffer("weights", scale * draw)
        self.cell_name, self.distribution, self.scale = cell, distribution, float(scale)
        self.readout, self.lambdas = readout, lambdas
        self.output_size = self.cell.output_size

    @property
    def backend(self) -> str:
        """Where the circuits run (settable; passed on to the cell)."""
        return self._backend.name

    @backend.setter
    def backend(self, name: str) -> None:
        QuantumBody.backend.fset(self, name)
        if "cell" in self._modules:
            self.cell.backend = name

    def circuits(self) -> list[Circuit]:
        return self.cell.circuits()

    def forward(self, x: Tensor, state=None):
        return self.cell(x, state)

    @torch.no_grad()
    def features(self, x: Tensor, batch_size: int = 512) -> Tensor:
        """Last-step outputs ``(N, output_size)`` of the frozen cell (computed in the body's
        dtype, in batches), as float64."""
        parts = [self(x[lo : lo + batch_size])[0][:, -1]
                 for lo in range(0, x.shape[0], batch_size)]
        return torch.cat(parts).double()

    @torch.no_grad()
    def fit_readout(self, head: nn.Linear, train, val) -> dict | None:
        """The trainer's closed-form hook: fit ``head`` (``Linear(output_size, out)``) by ridge
        regression on the last-step features of ``train`` (``x (N, T, F)``, ``y (N, out)``),
        choosing the regularisation with the lowest MSE on ``val``.

        Returns ``{"lambda", "val_mse", "train_mse"}``, or None with ``readout="gd"`` (the
        trainer then runs gradient descent).
        """
        if self.readout != "ridge":
            return None
        f_train, f_val = self.features(train.x), self.features(val.x)
        y_train, y_val = train.y.double(), val.y.double()
        best = None
        for lam in self.lambdas:
            weight, bias = ridge(f_train, y_train, lam)
            val_mse = float((f_val @ weight.T + bias - y_val).square().mean())
            if best is None or val_mse < best[0]:
                best = (val_mse, lam, weight, bias)
        val_mse, lam, weight, bias = best
        head.weight.copy_(weight)
        head.bias.copy_(bias)
        train_mse = float((f_train @ weight.T + bias - y_train).square().mean())
        return {"lambda": lam, "val_mse": val_mse, "train_mse": train_mse}


def ridge(features: Tensor, y: Tensor, lam: float) -> tuple[Tensor, Tensor]:
    """Minimiser of ``||features @ W.T + b - y||^2 + lam ||W||^2`` (the bias not penalised).

    Args:
        features: ``(N, F)``; y: ``(N, out)``; lam: >= 0.

    Returns:
        ``(W (out, F), b (out,))``, solved on centred data in float64 (least squares, so a
        rank-deficient ``features`` with ``lam = 0`` gives the minimum-norm solution).
    """
    f, y = features.double(), y.double()
    f_mean, y_mean = f.mean(0), y.mean(0)
    fc, yc = f - f_mean, y - y_mean
    if lam > 0:
        n_feat = f.shape[1]
        fc = torch.cat([fc, math.sqrt(lam) * torch.eye(n_feat, dtype=f.dtype)])
        yc = torch.cat([yc, torch.zeros(n_feat, y.shape[1], dtype=y.dtype)])
    weight = torch.linalg.lstsq(fc, yc, driver="gelsd").solution.T
    return weight, y_mean - weight @ f_mean
