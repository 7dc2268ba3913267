"""`FusedAnalogLSTM`: an LSTM on crossbars with nonlinear ramp ADCs, time loop in compiled C.

Each layer is one array of ``I + H + 1`` rows (inputs, recurrent state, a bias row driven at
1) and ``4H`` columns (gates i, f, g, o as in ``torch.nn.LSTM``), programmed once as
differential conductance pairs with the config's quantization, programming noise, faults and
drift (:func:`analog.devices.program`, the whole column on one array so each column's
current is the gate's complete pre-activation). Each column is converted by a nonlinear ramp
ADC whose ``2^bits - 1`` thresholds sit at the inverse of the gate's activation (sigmoid:
``logit(k / 2^N)``; tanh: ``artanh(2k / 2^N - 1)``), divided by the column's weight scale,
plus the comparator offset; the code's output value is the activation's level
(``(k + 1/2) / 2^N``, resp. ``2 (k + 1/2) / 2^N - 1``), so no digital activation runs. The
cell update (``c = f c + i g``, ``h = o tanh(c)``) is digital. The per-step signal chain
(input scaling, DAC, read and comparator noise) is in :mod:`analog.fused_cell_reference`.

Fast path (``path``): ``"auto"`` runs the C kernel (:mod:`analog.fused_cell_kernel`) on CPU
float32/float64 tensors and the torch reference otherwise (warning once if only the compiler
is missing); ``"reference"`` forces the per-step torch loop; ``"compiled"`` forces the
kernel. Both draw the same read noise (a counter-based stream seeded once per call) and,
without noise, produce the same ADC codes.

Modes: ``eval()`` programs the weights once (seeded; reprogrammed when they change) and draws
fresh read noise every call; ``train()`` programs the current weights afresh every forward
(new programming noise) and trains hardware-aware: the straight-through estimator passes the
converter with the derivative of the gate's activation at the analog pre-activation, and the
array with the gradient of the float layer.
"""

from __future__ import annotations

import dataclasses
import math

import torch
from torch import Tensor, nn
from torch.autograd.function import once_differentiable

from analog import fused_cell_kernel as kernel
from analog import fused_cell_reference as reference
from analog.config import CrossbarConfig
from analog.devices import program
from analog.fused_cell_reference import LayerProgram, Signal
from analog.readout import normal_table
from kernels.contract import check_path, check_sequence, check_sizes, generator
from kernels.cpu_build import warn_once

GATE_ACTIVATIONS = ("sigmoid", "sigmoid", "tanh", "sigmoid")  # i, f, g, o
MAX_BITS = 12


def nl_adc_table(activation: str, bits: int) -> tuple[Tensor, Tensor]:
    """Float64 thresholds ``(2^bits - 1,)`` at the inverse of ``activation`` ("sigmoid" or
    "tanh") of the level boundaries, and the ``2^bits`` output levels (bin centres in output
    space)."""
    n = 2**bits
    edges = torch.arange(1, n, dtype=torch.float64) / n
    centres = (torch.arange(n, dtype=torch.float64) + 0.5) / n
    if activation == "sigmoid":
        return torch.logit(edges), centres
    return torch.atanh(2 * edges - 1), 2 * centres - 1


def program_layer(w_ih: Tensor, w_hh: Tensor, bias: Tensor, config: CrossbarConfig,
                  bits: int | None, gen: torch.Generator) -> LayerProgram:
    """Program one layer's combined ``[W_ih | W_hh | bias]`` ``(4H, I + H + 1)`` on one array
    and build its converters (thresholds with the weight scales and offsets folded in)."""
    inputs, hidden = w_ih.shape[1], w_hh.shape[1]
    rows = inputs + hidden + 1
    combined = torch.cat([w_ih, w_hh, bias[:, None]], 1).detach()
    array = dataclasses.replace(config, tile_rows=rows, tile_cols=4 * hidden)
    state = program(combined, array, gen)
    weights = state.weights[0].to(w_ih.dtype)
    wxb = torch.cat([weights[:inputs], weights[-1:]]).contiguous()
    wh = weights[inputs:inputs + hidden].contiguous()
    ks = (state.scale[0, 0].to(torch.float64) * state.output_gain)
    thresholds = levels = None
    if bits is not None:
        tables = [nl_adc_table(a, bits) for a in GATE_ACTIVATIONS]
        thr = torch.cat([t[None].expand(hidden, -1) for t, _ in tables]) / ks[:, None]
        if config.adc_offset_lsb > 0:
            lsb = 2.0 * config.adc_range / 2**bits
            thr = thr + torch.randn(4 * hidden, 1, generator=gen,
                                    dtype=torch.float64) * (config.adc_offset_lsb * lsb)
        thresholds = thr.to(w_ih.dtype).contiguous()
        levels = torch.cat([lv[None].expand(hidden, -1) for _, lv in tables])
        levels = levels.to(w_ih.dtype).contiguous()
    return LayerProgram(wxb, wh, thresholds, levels, ks.to(w_ih.dtype).contiguous())


def signal_settings(config: CrossbarConfig, bits: int | None, seed: int | None) -> Signal:
    """The DAC and noise settings of ``config`` (``seed`` None or no noise configured: no
    noise). Read noise per device ``read_noise_rel * g_max`` on both devices of every pair;
    comparator noise ``adc_noise_lsb`` LSBs of a linear ADC of the same bits over
    ``adc_range``."""
    lsb = 0.0 if config.dac_bits is None else 1.0 / (2 ** (config.dac_bits - 1) - 1)
    read_sigma = config.read_noise_rel * config.g_max_us / config.window_us
    adc_lsb = 2.0 * config.adc_range / 2 ** (bits or config.adc_bits or 8)
    noise_a = 2 * read_sigma**2 * (lsb**2 if lsb else 1.0)
    noise_c = (config.adc_noise_lsb * adc_lsb) ** 2
    noisy = noise_a > 0 or noise_c > 0
    return Signal(config.dac_range, lsb, noise_a, noise_c, seed if noisy else None)


class _Layer(torch.autograd.Function):
    """One layer through the C kernel, with the straight-through BPTT backward."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, bias, h0, c0, prog, signal, word0):
        xt = x.detach().transpose(0, 1).contiguous()
        y, c, gates, deriv = kernel.forward(xt, prog, signal, h0.detach().contiguous(),
                                            c0.detach().contiguous(), word0, normal_table(),
                                            save=True)
        ctx.save_for_backward(xt, w_ih, w_hh, h0, c0, y, c, gates, deriv)
        return y.transpose(0, 1), y[-1].clone(), c[-1].clone()

    @staticmethod
    @once_differentiable
    def backward(ctx, dy, dh, dc):
        xt, w_ih, w_hh, h0, c0, y, c, gates, deriv = ctx.saved_tensors
        dy = dy.transpose(0, 1).contiguous()
        da, dh0, dc0 = kernel.backward(w_hh.detach().contiguous(), c0.detach().contiguous(),
                                       c, gates, deriv, dy, dh.contiguous(), dc.contiguous())
        steps, batch, _ = xt.shape
        flat = da.reshape(steps * batch, -1)
        h_prev = torch.cat([h0.detach()[None], y[:-1]]).reshape(steps * batch, -1)
        dx = (flat @ w_ih.detach()).reshape(steps, batch, -1).transpose(0, 1)
        return (dx, flat.t() @ xt.reshape(steps * batch, -1), flat.t() @ h_prev, flat.sum(0),
                dh0, dc0, None, None, None)


class FusedAnalogLSTM(nn.Module):
    """Multi-layer analog LSTM with nonlinear-ramp-ADC gates (see the module docstring).

    Args:
        input_size, hidden_size, num_layers: as ``torch.nn.LSTM`` (batch first).
        config: the crossbar (default :meth:`CrossbarConfig.rram_realistic`).
        bits: NL-ADC resolution (1..12), or None for exact activations (no converter).
        seed: seeds weight init, programming and read noise (integer >= 0).
        path: ``"auto"``, ``"reference"`` or ``"compiled"`` (see the module docstring).

    Parameters are named as in ``torch.nn.LSTM`` (``weight_ih_l0``, ``bias_hh_l0``, ...), so a
    trained ``nn.LSTM``'s state dict loads directly (:meth:`from_lstm`).
    Shapes: ``x (B, T, input_size)`` -> ``y (B, T, hidden_size)``, state ``(h, c)`` each
    ``(num_layers, B, hidden_size)``.
    """

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1, *,
                 config: CrossbarConfig | None = None, bits: int | None = 5, seed: int = 0,
                 path: str = "auto") -> None:
        super().__init__()
        check_sizes(input_size=input_size, hidden_size=hidden_size, num_layers=num_layers)
        config = CrossbarConfig.rram_realistic() if config is None else config
        if not isinstance(config, CrossbarConfig):
            raise TypeError(f"config must be a CrossbarConfig, got {type(config).__name__}")
        if bits is not None and (isinstance(bits, bool) or not isinstance(bits, int)
                                 or not 1 <= bits <= MAX_BITS):
            raise ValueError(f"bits={bits!r} is not allowed: expected an integer in "
                             f"[1, {MAX_BITS}] or None (exact activations)")
        self.path = check_path(path)
        self.input_size, self.hidden_size, self.num_layers = input_size, hidden_size, num_layers
        self.config, self.bits, self.seed = config, bits, seed
        init = generator(seed, "fused_lstm/init")
        bound = 1.0 / math.sqrt(hidden_size)
        for k in range(num_layers):
            n_in = input_size if k == 0 else hidden_size
            for name, shape in ((f"weight_ih_l{k}", (4 * hidden_size, n_in)),
                                (f"weight_hh_l{k}", (4 * hidden_size, hidden_size)),
                                (f"bias_ih_l{k}", (4 * hidden_size,)),
                                (f"bias_hh_l{k}", (4 * hidden_size,))):
                value = torch.rand(shape, generator=init) * (2 * bound) - bound
                self.register_parameter(name, nn.Parameter(value))
        self._train_gen = generator(seed, "fused_lstm/train_program")
        self._noise_gen = generator(seed, "fused_lstm/read_noise")
        self._programmed: list[LayerProgram] | None = None
        self._key: tuple | None = None

    @classmethod
    def from_lstm(cls, lstm: nn.LSTM, **kwargs) -> FusedAnalogLSTM:
        """An analog copy of a trained ``torch.nn.LSTM`` (unidirectional, with biases, no
        projection); ``kwargs`` as the constructor's after ``num_layers``."""
        if not isinstance(lstm, nn.LSTM):
            raise TypeError(f"lstm must be a torch.nn.LSTM, got {type(lstm).__name__}")
        if lstm.bidirectional or not lstm.bias or lstm.proj_size:
            raise ValueError("from_lstm needs a unidirectional nn.LSTM with biases and "
                             "proj_size=0")
        model = cls(lstm.input_size, lstm.hidden_size, lstm.num_layers, **kwargs)
        model = model.to(lstm.weight_ih_l0.dtype)
        model.load_state_dict(lstm.state_dict())
        return model

    def _weights(self, k: int) -> tuple[Tensor, Tensor, Tensor]:
        p = dict(self.named_parameters())
        return (p[f"weight_ih_l{k}"], p[f"weight_hh_l{k}"],
                p[f"bias_ih_l{k}"] + p[f"bias_hh_l{k}"])

    def _program(self, gen_for) -> list[LayerProgram]:
        with torch.no_grad():
            return [program_layer(*self._weights(k), self.config, self.bits, gen_for(k))
                    for k in range(self.num_layers)]

    def programmed(self) -> list[LayerProgram]:
        """The static (inference) programming of every layer, seeded by ``seed``; rebuilt
        when a weight or the dtype has changed since the last call."""
        key = tuple((p._version, p.data_ptr(), p.dtype) for p in self.parameters())
        if self._programmed is None or self._key != key:
            self._programmed = self._program(
                lambda k: generator(self.seed, f"fused_lstm/program/layer{k}"))
            self._key = key
        return self._programmed

    def _compiled(self, x: Tensor) -> bool:
        """Whether this call runs the C kernel (``path`` and what the kernel supports)."""
        if self.path == "reference":
            return False
        if not x.is_cpu or x.dtype not in (torch.float32, torch.float64):
            if self.path == "compiled":
                raise ValueError(f"path='compiled' needs float32/float64 CPU tensors, got "
                                 f"{x.dtype} on {x.device}")
            return False
        reason = kernel.unavailable_reason(x.dtype)
        if reason is None:
            return True
        if self.path == "compiled":
            raise RuntimeError(reason)
        warn_once("analog_cell", f"{reason}; running the torch reference instead")
        return False

    def _state(self, x: Tensor, state) -> tuple[Tensor, Tensor]:
        shape = (self.num_layers, x.shape[0], self.hidden_size)
        if state is None:
            zeros = x.new_zeros(shape)
            return zeros, zeros
        if (not isinstance(state, (tuple, list)) or len(state) != 2
                or any(not isinstance(s, Tensor) or tuple(s.shape) != shape for s in state)):
            raise ValueError(f"state must be a pair (h0, c0) of tensors of shape {shape}")
        return state[0].to(x.dtype), state[1].to(x.dtype)

    def forward(self, x: Tensor, state=None) -> tuple[Tensor, tuple[Tensor, Tensor]]:
        """``x (B, T, input_size)`` -> ``(y (B, T, H), (h, c))``, see the class docstring."""
        check_sequence(x, self.input_size)
        h0, c0 = self._state(x, state)
        if self.training:
            progs = self._program(lambda k: self._train_gen)
        else:
            progs = self.programmed()
        seed = int(torch.randint(0, 2**62, (1,), generator=self._noise_gen))
        signal = signal_settings(self.config, self.bits, seed)
        compiled = self._compiled(x)
        grad = torch.is_grad_enabled() and (x.requires_grad or any(
            p.requires_grad for p in self.parameters()))
        batch, steps, _ = x.shape
        hs, cs, out = [], [], x
        for k, prog in enumerate(progs):
            word0 = k * steps * batch * self.hidden_size
            weights = self._weights(k)
            if not compiled:
                out, h, c = reference.layer(out, prog, signal, h0[k], c0[k], word0,
                                            normal_table(), weights if grad else None)
            elif grad:
                out, h, c = _Layer.apply(out, *weights, h0[k], c0[k], prog, signal, word0)
            else:
                xt = out.transpose(0, 1).contiguous()
                y, c_all, _, _ = kernel.forward(xt, prog, signal, h0[k].contiguous(),
                                                c0[k].contiguous(), word0, normal_table(),
                                                save=False)
                out, h, c = y.transpose(0, 1), y[-1], c_all[-1]
            hs.append(h)
            cs.append(c)
        return out, (torch.stack(hs), torch.stack(cs))
