"""Optimizers over one flat parameter buffer: RMSprop, Adam and SGD with the
arithmetic of ``torch.optim`` in a handful of tensor operations per step.

The package's models are small (a QLSTM has 149 parameters in a dozen tensors), so a
``torch.optim`` step is almost all per-tensor Python overhead: several hundred microseconds, as
much as the compiled forward and backward of a QLSTM batch. :class:`FlatOptimizer` moves every
trainable parameter into one contiguous buffer (each parameter becomes a view of it, so
``state_dict``/``load_state_dict`` and the models' compiled kernels see ordinary tensors), and
one step gathers the gradients into one vector, optionally clips their norm, updates the
buffer in place and bumps every parameter's version counter (as an in-place update of the
parameter itself would), so what is cached from a parameter's ``_version`` is refreshed.
Its updates equal ``torch.optim`` with the same settings (the tests hold them together over
many steps), which stays the reference: the trainer's ``make_optimizer(...,
path="reference")`` runs it.
"""

from __future__ import annotations

import math

import torch
from torch.autograd.graph import increment_version

KINDS = ("adam", "rmsprop", "sgd")
RMSPROP_ALPHA, RMSPROP_EPS = 0.99, 1e-8
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8


def flat_eligible(params: list[torch.Tensor]) -> bool:
    """True when ``params`` (the trainable ones) can share one buffer: at least one, all
    dense, of one floating dtype and one device."""
    return (bool(params) and all(p.layout == torch.strided for p in params)
            and len({(p.dtype, p.device) for p in params}) == 1
            and params[0].is_floating_point())


class FlatOptimizer:
    """``kind`` (rmsprop | adam | sgd) over the trainable tensors of ``params``, moved into one
    flat buffer. RMSprop: alpha 0.99, eps 1e-8 (the QLSTM paper's settings); Adam: betas
    (0.9, 0.999), eps 1e-8; SGD without momentum; ``weight_decay`` added to the gradient, as
    torch.optim does. Parameters without ``requires_grad`` are left alone.

    A step where some trainable tensor has no gradient updates only the others, each with its
    own step count, exactly like torch.optim; the usual step (every gradient present) is a
    handful of operations on the whole buffer."""

    def __init__(self, params, kind: str, lr: float, weight_decay: float = 0.0):
        if kind not in KINDS:
            raise ValueError(f"optimizer {kind!r}; allowed: {', '.join(KINDS)}")
        self.params = [p for p in params if p.requires_grad]
        if not flat_eligible(self.params):
            raise ValueError("FlatOptimizer needs at least one trainable dense floating-point "
                             "tensor, all of one dtype and device; use torch.optim instead")
        self.kind, self.lr, self.weight_decay = kind, float(lr), float(weight_decay)
        self.sizes = [p.numel() for p in self.params]
        self.flat = torch.cat([p.detach().reshape(-1) for p in self.params])
        for p, view in zip(self.params, self.flat.split(self.sizes), strict=True):
            p.data = view.view_as(p)
        buffers = {"rmsprop": ("square_avg",), "adam": ("exp_avg", "exp_avg_sq"),
                   "sgd": ()}[kind]
        self.state = {name: torch.zeros_like(self.flat) for name in buffers}
        self.steps = [0] * len(self.params)

    def zero_grad(self, set_to_none: bool = True) -> None:
        for p in self.params:
            if set_to_none:
                p.grad = None
            elif p.grad is not None:
                p.grad.zero_()

    def step(self, max_grad_norm: float = 0.0) -> None:
        """One update from the parameters' ``.grad``; ``max_grad_norm > 0`` first scales the
        gradients to at most that total 2-norm (``torch.nn.utils.clip_grad_norm_``)."""
        with torch.no_grad():
            grads = [p.grad for p in self.params]
            present = [g is not None for g in grads]
            if not any(present):
                return
            if all(present) and len(set(self.steps)) == 1:
                grad = torch.cat([g.reshape(-1) for g in grads])
                if max_grad_norm > 0:
                    _clip(grad, max_grad_norm)
                self.steps = [s + 1 for s in self.steps]
                self._update(self.flat, grad, self.state, self.steps[0])
                # an in-place change of the buffer does not reach the parameters' own version
                # counters: bump them, so caches keyed on ``_version`` (programmed crossbars)
                # see every step
                increment_version(self.params)
                return
            if max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(self.params, max_grad_norm)
            views = {k: v.split(self.sizes) for k, v in self.state.items()}
            for i, (p, g) in enumerate(zip(self.params, grads, strict=True)):
                if g is None:
                    continue
                self.steps[i] += 1
                self._update(p, g, {k: v[i].view_as(p) for k, v in views.items()},
                             self.steps[i])

    def _update(self, param: torch.Tensor, grad: torch.Tensor, state: dict, step: int) -> None:
        """torch.optim's single-tensor arithmetic for ``param`` (in place)."""
        if self.weight_decay:
            grad = grad.add(param, alpha=self.weight_decay)
        if self.kind == "sgd":
            param.add_(grad, alpha=-self.lr)
        elif self.kind == "rmsprop":
            square_avg = state["square_avg"]
            square_avg.mul_(RMSPROP_ALPHA).addcmul_(grad, grad, value=1 - RMSPROP_ALPHA)
            param.addcdiv_(grad, square_avg.sqrt().add_(RMSPROP_EPS), value=-self.lr)
        else:
            beta1, beta2 = ADAM_BETAS
            exp_avg, exp_avg_sq = state["exp_avg"], state["exp_avg_sq"]
            exp_avg.lerp_(grad, 1 - beta1)
            exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
            step_size = self.lr / (1 - beta1 ** step)
            denom = (exp_avg_sq.sqrt() / math.sqrt(1 - beta2 ** step)).add_(ADAM_EPS)
            param.addcdiv_(exp_avg, denom, value=-step_size)


def _clip(grad: torch.Tensor, max_norm: float) -> None:
    """Scale ``grad`` in place to a 2-norm of at most ``max_norm`` (torch's clip_grad_norm_
    formula: factor ``max_norm / (norm + 1e-6)`` clamped at 1)."""
    factor = (max_norm / (grad.norm() + 1e-6)).clamp(max=1.0)
    grad.mul_(factor)
