"""The compiled fast path of :class:`analog.cells.AnalogLSTM`: the whole time loop of a layer
(DAC, column product, read noise, per-column conversion, digital cell update) in C.

:func:`lstm_forward` runs the same model as the per-step torch code of
:class:`analog.cells.AnalogLSTM` (its reference): the same programmed arrays
(:func:`analog.preact.program_preactivation`, :meth:`~analog.cells.AnalogLSTM.programmed`),
the same converters (each column's thresholds and levels taken from its
:class:`~analog.nl_adc.NonlinearRampADC`, :class:`~analog.nl_adc.DigitalActivationADC` or
:class:`~analog.nl_adc.ExactActivation`) and the same read-noise stream: the model's numpy
SFC64 generator is advanced by the kernel exactly as :func:`analog.tile.standard_normal` would
advance it, so a compiled call and a reference call leave the model in the same state.
Without read noise the ADC codes are identical; with it they agree up to the float rounding
of one sum of squares per step (the noise sigma). The activations of the gates are the
converters' outputs either way; the digital ``tanh(c)`` and exact-activation gates use a
vectorised polynomial in float32 (within 3e-7 of torch's).

Training (gradients on): the forward saves the gate values and the activation derivatives at
the pre-activations, and the backward is BPTT in C with the straight-through estimator of
:mod:`analog.nl_adc` (gate gradient times ``f'(z)``) and the float product's gradient for the
array; the weight and input gradients are one matrix product each after the time loop. The
reference feeds its converters ``z_float + (z - z_float)``, which can differ from ``z`` in the
last bit, so in training mode a code exactly at a threshold may differ (float32: rarely;
float64: in practice never).

When it applies (:func:`unsupported`): CPU float32/float64 inputs, no comparator noise
(``adc_noise_lsb`` > 0 draws from a torch generator per conversion), sigmoid/tanh converters.
``AnalogLSTM(path="auto")`` takes it then and the reference otherwise (warning once if only
the C compiler is missing); ``path="reference"`` forces the torch loop, ``path="compiled"``
the kernel (a one-line error where it cannot run).
"""

from __future__ import annotations

import math
import weakref

import numpy as np
import torch
from torch import Tensor
from torch.autograd.function import once_differentiable

from analog import fused_cell_kernel as kernel
from analog.fused_cell_kernel import LayerArgs, Signal
from analog.nl_adc import DigitalActivationADC, ExactActivation, NonlinearRampADC
from analog.readout import normal_table
from kernels.contract import check_path
from kernels.cpu_build import warn_once

_TABLES: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()  # converter -> (key, tables)
_NOISE: dict[torch.dtype, Tensor] = {}  # noise tables times sqrt(2), per dtype


def unsupported(model, x: Tensor) -> str | None:
    """Why the kernel cannot run ``model`` (an AnalogLSTM) on ``x``, or None if it can."""
    if not x.is_cpu or x.dtype not in (torch.float32, torch.float64):
        return f"the fused analog LSTM needs float32/float64 CPU tensors, got {x.dtype} on " \
               f"{x.device}"
    if model.config.adc_noise_lsb > 0:
        return "the fused analog LSTM has no comparator noise (adc_noise_lsb > 0)"
    for conv in model.converters[0].values():
        if conv.activation.name not in ("sigmoid", "tanh"):
            return f"the fused analog LSTM supports sigmoid/tanh converters, got " \
                   f"{conv.activation.name!r}"
    return kernel.unavailable_reason(x.dtype)


def use_compiled(model, x: Tensor) -> bool:
    """Whether ``model.path`` (checked) and what the kernel supports send this call to C."""
    path = check_path(model.path)
    if path == "reference":
        return False
    reason = unsupported(model, x)
    if reason is None:
        return True
    if path == "compiled":
        raise ValueError(f"path='compiled': {reason}")
    if not kernel.LIBRARY.available():
        warn_once("analog_cell", f"{reason}; running the torch reference instead")
    return False


def _column_thresholds(conv, columns: int) -> Tensor:
    """``(columns, K)`` float64 thresholds of every column of a converter, comparator offsets
    included where the converter adds them (as :meth:`NonlinearRampADC.codes` /
    :meth:`DigitalActivationADC.codes` and ``_codes`` build them: per-tile ramps, or offsets
    configured)."""
    thr = conv.thresholds
    if isinstance(conv, NonlinearRampADC) and conv.n_ramps > 1:
        thr = thr[torch.arange(columns) // conv.config.tile_cols]
    if thr.shape[0] > 1 or conv.config.adc_offset_lsb > 0:
        thr = thr + conv.offset
    return thr.expand(columns, -1).to(torch.float64)


def _rounded_up(thr: Tensor, dtype: torch.dtype) -> Tensor:
    """float64 thresholds as the smallest ``dtype`` values at or above them: for ``z`` of
    ``dtype``, ``t <= z`` exactly when ``rounded_up(t) <= z``, so comparing in ``dtype``
    gives the codes the reference finds comparing ``z.to(float64)`` with ``t``."""
    low = thr.to(dtype)
    return torch.where(low.to(torch.float64) < thr,
                       torch.nextafter(low, low.new_tensor(math.inf)), low)


def _guess(conv, thr: Tensor) -> tuple[int, float, float]:
    """How the kernel guesses the codes of ``conv`` (see :class:`LayerArgs`): from its
    activation for a nonlinear ramp, linear from the thresholds ``(K,)`` otherwise."""
    if isinstance(conv, NonlinearRampADC):
        return (0 if conv.activation.name == "sigmoid" else 1), 0.0, 0.0
    if thr.numel() < 2:
        return 2, 0.0, 0.0
    step = float(thr[-1] - thr[0]) / (thr.numel() - 1)
    return 2, float(thr[0]) - step, 1.0 / step


def _converter_tables(sig, tanh, hidden: int, dtype: torch.dtype) -> tuple:
    """``(thresholds, rows, levels, guess, guess_low, guess_inv)`` of :class:`LayerArgs` for
    the sigmoid and tanh converters of one layer, cached until their buffers change."""
    buffers = [b for conv in (sig, tanh) for b in conv.buffers()]
    key = (dtype, hidden, *((b._version, b.data_ptr()) for b in buffers))
    cached = _TABLES.get(sig)
    if cached is not None and cached[0] == key:
        return cached[1]
    ts, tt = _column_thresholds(sig, 3 * hidden), _column_thresholds(tanh, hidden)
    group = torch.zeros(4 * hidden, dtype=torch.int32)
    group[2 * hidden:3 * hidden] = 1
    if bool((ts == ts[0]).all()) and bool((tt == tt[0]).all()):
        thr, rows = torch.stack([ts[0], tt[0]]), group  # shared by every column of a group
    else:
        i, f, o = ts.split(hidden)
        thr, rows = torch.cat([i, f, tt, o]), torch.arange(4 * hidden, dtype=torch.int32)
    inf = torch.full((thr.shape[0], 1), math.inf, dtype=torch.float64)
    thr = _rounded_up(torch.cat([-inf, thr, inf], 1), dtype).contiguous()
    levels = torch.stack([sig.levels, tanh.levels]).to(dtype).contiguous()
    (ks, ls, vs), (kt, lt, vt) = _guess(sig, ts[0]), _guess(tanh, tt[0])
    tables = (thr, rows, levels, torch.tensor([ks, kt], dtype=torch.int32),
              torch.tensor([ls, lt], dtype=dtype), torch.tensor([vs, vt], dtype=dtype))
    _TABLES[sig] = (key, tables)
    return tables


def layer_args(model, layer: int, prog, dtype: torch.dtype) -> LayerArgs:
    """The kernel's view of one programmed layer and its converters."""
    weights = prog.weights.to(dtype).reshape(-1, prog.weights.shape[2]).contiguous()
    scale = prog.scale[0].to(dtype).reshape(-1).contiguous()
    conv = model.converters[layer]
    sig, tanh = conv["sigmoid"], conv["tanh"]
    if isinstance(sig, ExactActivation):
        return LayerArgs(weights, scale, prog.output_gain, None, None, None, None, None, None,
                         model.bias)
    if not isinstance(sig, (NonlinearRampADC, DigitalActivationADC)):
        raise TypeError(f"unexpected converter {type(sig).__name__}")
    return LayerArgs(weights, scale, prog.output_gain,
                     *_converter_tables(sig, tanh, model.hidden_size, dtype), model.bias)


def signal(config) -> Signal:
    """Input scaling, DAC and read-noise settings of ``config`` (as
    :func:`analog.preact.preactivation`)."""
    read_sigma = config.read_noise_rel * config.g_max_us / config.window_us
    exact = config.dac_bits is None and config.dac_range is None
    mode = 0 if exact and read_sigma == 0 else (1 if config.dac_range is None else 2)
    lsb = 0.0 if config.dac_bits is None else 1.0 / (2 ** (config.dac_bits - 1) - 1)
    return Signal(mode, config.dac_range or 0.0, lsb, 2 * read_sigma**2)


class _Layer(torch.autograd.Function):
    """One layer through the C kernel, with the straight-through BPTT backward."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, bias, h0, c0, args, sig, rng, table):
        y, c, gates, deriv = kernel.forward(x.detach().contiguous(), args, sig,
                                            h0.detach().contiguous(), c0.detach().contiguous(),
                                            rng, table, save=True)
        ctx.has_bias = bias is not None
        ctx.save_for_backward(x, w_ih, w_hh, h0, c0, y, c, gates, deriv)
        return y, y[-1].clone(), c[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh, dc):
        x, w_ih, w_hh, h0, c0, y, c, gates, deriv = ctx.saved_tensors
        da, dh0, dc0 = kernel.backward(w_hh.detach().contiguous(), c0.detach().contiguous(),
                                       c, gates, deriv, dy.contiguous(), dh.contiguous(),
                                       dc.contiguous())
        steps, batch, _ = x.shape
        flat = da.reshape(steps * batch, -1)
        h_prev = torch.cat([h0.detach()[None], y[:-1]]).reshape(steps * batch, -1)
        dx = (flat @ w_ih.detach()).reshape(steps, batch, -1)
        db = flat.sum(0) if ctx.has_bias else None
        return (dx, flat.t() @ x.reshape(steps * batch, -1), flat.t() @ h_prev, db, dh0, dc0,
                None, None, None, None)


def _rng_state(model) -> np.ndarray | None:
    """A copy of the four state words of the model's SFC64 read-noise generator."""
    state = model._read_rng.bit_generator.state
    if state["bit_generator"] != "SFC64":
        raise TypeError(f"the fused analog LSTM needs an SFC64 read-noise generator, got "
                        f"{state['bit_generator']}")
    return np.array(state["state"]["state"], dtype=np.uint64)


def _set_rng_state(model, words: np.ndarray) -> None:
    state = model._read_rng.bit_generator.state
    state["state"]["state"] = words
    model._read_rng.bit_generator.state = state


def lstm_forward(model, x: Tensor, state) -> tuple[Tensor, tuple[Tensor, Tensor]]:
    """``model(x, state)`` of an :class:`analog.cells.AnalogLSTM` through the kernel; the
    caller has checked ``x`` and that :func:`use_compiled` holds."""
    initial = model._initial(x, state)
    shape = (model.num_layers, x.shape[0], model.hidden_size)
    if len(initial) != 2 or any(not isinstance(s, Tensor) or tuple(s.shape) != shape
                                for s in initial):
        raise ValueError(f"state must be a pair (h0, c0) of tensors of shape {shape}")
    h0, c0 = initial
    sig = signal(model.config)
    rng = _rng_state(model) if sig.noise_a > 0 else None
    table = None
    if rng is not None:
        if x.dtype not in _NOISE:  # the quantiles of N(0, 1), as analog.tile.standard_normal
            _NOISE[x.dtype] = normal_table().mul(math.sqrt(2.0)).to(x.dtype)
        table = _NOISE[x.dtype]
    grad = torch.is_grad_enabled() and (x.requires_grad or any(
        p.requires_grad for p in model.parameters()))
    out = x.transpose(0, 1).contiguous()
    finals_h, finals_c = [], []
    try:
        for k in range(model.num_layers):
            args = layer_args(model, k, model.pass_programming(k), x.dtype)
            hk, ck = h0[k].to(x.dtype), c0[k].to(x.dtype)
            if grad:
                names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
                w_ih, w_hh, b_ih, b_hh = (getattr(model, f"{n}_l{k}", None) for n in names)
                bias = None if b_ih is None else b_ih + b_hh
                out, h, c = _Layer.apply(out, w_ih.to(x.dtype), w_hh.to(x.dtype),
                                         None if bias is None else bias.to(x.dtype), hk, ck,
                                         args, sig, rng, table)
            else:
                out, c_all, _, _ = kernel.forward(out, args, sig, hk.contiguous(),
                                                  ck.contiguous(), rng, table, save=False)
                h, c = out[-1], c_all[-1]
            finals_h.append(h)
            finals_c.append(c)
    finally:
        if rng is not None:
            _set_rng_state(model, rng)
    return out.transpose(0, 1), (torch.stack(finals_h), torch.stack(finals_c))
