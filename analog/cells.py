"""Recurrent cells on crossbars: :class:`AnalogLSTM`, :class:`AnalogGRU`, :class:`AnalogElman`.

Every layer is one combined array: rows ``[x_t, h_(t-1), 1]`` (the last row holds the bias,
:func:`analog.preact.with_bias_row`), one column per gate pre-activation, read in
pre-activation mode (:mod:`analog.preact`: all row tiles summed before conversion). Per step:

1. gate pre-activations ``z = [x_t, h, 1] @ [W_ih | W_hh | b].T`` on the array (DAC,
   programmed devices, read noise);
2. conversion: ``activation="nl_adc"`` converts each gate column with a
   :class:`analog.nl_adc.NonlinearRampADC` of its activation (the code *is* the activation);
   ``activation="digital"`` uses a linear ADC and the exact activation of the code
   (:class:`analog.nl_adc.DigitalActivationADC`); with ``adc_kind="ideal"`` both apply the
   exact activation to the exact pre-activation;
3. the cell update in digital (products, sums; ``tanh(c)`` of the LSTM and the GRU's
   candidate are digital activations in both styles, since their arguments are digital).

Gate equations and order are torch.nn's (LSTM ``i, f, g, o``; GRU ``r, z, n``). The GRU's
candidate ``n = tanh(W_in x + b_in + r * (W_hn h + b_hn))`` multiplies part of its
pre-activation by ``r``, so its array has four column groups ``[r | z | n_x | n_h]`` (``n_x``
with zero ``h`` rows, ``n_h`` with zero ``x`` rows): ``r`` and ``z`` go through the sigmoid
converter, ``n_x`` and ``n_h`` through plain linear converters, and ``tanh`` is digital.

Parameters keep torch.nn's names and layout (``weight_ih_l0``, ``weight_hh_l0``,
``bias_ih_l0``, ``bias_hh_l0``, ...), so :meth:`from_torch` loads the state dict of a trained
``torch.nn`` module or of any model holding one (prefixes such as ``rnn.`` are stripped).

Inference (``eval()``): each layer is programmed once from the seed (rebuilt when the weights
change) and every step draws fresh read noise. Hardware-aware training (``train()``): every
forward pass programs the current weights afresh (programming noise, faults), the gradient
of the array is the float product's (straight-through) and the gradient of each converter is
the derivative of its activation. Converters (ramps, offsets) are programmed once per model.
Seeds: ``kernels.contract.generator(seed, "<cell>/<part>")`` streams for init, programming,
training programming, read noise and the converters of each layer.

Hardware off (:meth:`set_hardware`): ``set_hardware(False)`` makes ``forward`` run the exact
float network of the same parameters through torch's own LSTM/GRU/RNN kernel (what
``torch.nn.LSTM`` calls), so a float model can be trained in place and then converted by
``set_hardware(True)``: the trainer's ``float_epochs`` setting (:mod:`experiments.train`)
trains a float baseline, converts it and fine-tunes it hardware-aware inside one run.
"""

from __future__ import annotations

import math
import re

import numpy as np
import torch
from torch import _VF, Tensor, nn

from analog import fused_cell
from analog.activations import IDENTITY
from analog.config import CrossbarConfig
from analog.devices import ProgrammedLayer
from analog.nl_adc import DigitalActivationADC, ExactActivation, NonlinearRampADC
from analog.preact import (
    check_height,
    preactivation,
    program_preactivation,
    with_bias_row,
    with_one,
)
from kernels.contract import (
    BackendSwitch,
    check_choice,
    check_path,
    check_sequence,
    derive_seed,
    generator,
)

STYLES = ("nl_adc", "digital")
_KEY = re.compile(r"(?:^|\.)((?:weight|bias)_(?:ih|hh)_l(\d+))$")


def resolve_style(activation: str | None, config: CrossbarConfig) -> str:
    """The activation style: given, or ``"nl_adc"`` for ``adc_kind="nl_ramp"`` and
    ``"digital"`` otherwise; a one-line error when style and ADC kind contradict."""
    if activation is None:
        return "nl_adc" if config.adc_kind == "nl_ramp" else "digital"
    check_choice("activation", activation, STYLES)
    if activation == "nl_adc" and config.adc_kind in ("ramp", "sar"):
        raise ValueError(f"activation='nl_adc' needs adc_kind 'nl_ramp' or 'ideal', got "
                         f"{config.adc_kind!r}")
    if activation == "digital" and config.adc_kind == "nl_ramp":
        raise ValueError("activation='digital' needs a linear adc_kind ('ramp', 'sar') or "
                         "'ideal', got 'nl_ramp'")
    return activation


class _AnalogRecurrent(BackendSwitch, nn.Module):
    """Shared plumbing; subclasses set ``gates`` (torch.nn's gate count) and ``kind`` and
    define :meth:`column_groups`, ``_split`` (array columns -> converter groups) and ``_step``
    (the digital cell update from the converted groups)."""

    backends = ("torch",)
    gates: int
    kind: str
    torch_kernel: str
    """The function of ``torch._VF`` that ``torch.nn`` calls for this cell (hardware off)."""

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 config: CrossbarConfig | None = None, activation: str | None = None,
                 bias: bool = True, seed: int = 0, backend: str = "torch") -> None:
        super().__init__()
        self._set_sizes(input_size, hidden_size, num_layers, backend)
        config = CrossbarConfig() if config is None else config
        if not isinstance(config, CrossbarConfig):
            raise TypeError(f"config must be a CrossbarConfig, got {type(config).__name__}")
        self.config, self.activation, self.bias, self.seed = \
            config, resolve_style(activation, config), bias, seed
        bits = config.adc_bits
        init = generator(seed, f"{self.kind}/init")
        bound = 1 / math.sqrt(hidden_size)
        g, h = self.gates, hidden_size
        for k in range(num_layers):
            rows = (input_size if k == 0 else h) + h + int(bias)
            check_height(rows, config, f"{self.kind} layer {k}")
            shapes = {f"weight_ih_l{k}": (g * h, rows - h - int(bias)),
                      f"weight_hh_l{k}": (g * h, h)}
            if bias:
                shapes.update({f"bias_ih_l{k}": (g * h,), f"bias_hh_l{k}": (g * h,)})
            for name, shape in shapes.items():
                w = torch.rand(shape, generator=init) * (2 * bound) - bound
                self.register_parameter(name, nn.Parameter(w))
        self.converters = nn.ModuleList(
            nn.ModuleDict({fn: self._converter(fn, bits, n, derive_seed(seed, f"{self.kind}/"
                                                                         f"l{k}/{fn}"))
                           for fn, n in self.column_groups().items()})
            for k in range(num_layers))
        self._train_gen = generator(seed, f"{self.kind}/train")
        self._read_rng = np.random.Generator(np.random.SFC64(derive_seed(seed, f"{self.kind}/"
                                                                         "read")))
        self._programmed: dict[int, tuple[tuple, ProgrammedLayer]] = {}
        self.hardware = True

    def set_hardware(self, enabled: bool) -> None:
        """``False``: ``forward`` runs the exact float cell (``torch.nn``'s kernel) on the same
        parameters, no devices, converters or noise; ``True`` (the default): the crossbars.
        The parameters are shared, so switching back converts the float network as it is."""
        if not isinstance(enabled, bool):
            raise TypeError(f"set_hardware takes True or False, got {enabled!r}")
        self.hardware = enabled

    def float_forward(self, x: Tensor, state=None):
        """The float cell: ``torch.nn.LSTM/GRU/RNN(batch_first=True)`` on these parameters,
        ``x (B, T, input_size)`` -> ``(y (B, T, H), state)``."""
        weights = []
        for k in range(self.num_layers):
            weights += [getattr(self, f"{n}_l{k}") for n in ("weight_ih", "weight_hh")]
            if self.bias:
                weights += [getattr(self, f"{n}_l{k}") for n in ("bias_ih", "bias_hh")]
        h0 = self._initial(x, state)
        hx = h0 if len(h0) == 2 else h0[0]
        out = getattr(_VF, self.torch_kernel)(x, hx, weights, self.bias, self.num_layers, 0.0,
                                              self.training, False, True)
        return out[0], (tuple(out[1:]) if len(out) == 3 else out[1])

    def _converter(self, fn, bits: int | None, columns: int, seed: int) -> nn.Module:
        if self.config.adc_kind == "ideal":
            return ExactActivation(IDENTITY if fn == "identity" else fn)
        if self.activation == "nl_adc" and fn != "identity":
            return NonlinearRampADC(fn, bits, self.config, columns, seed)
        return DigitalActivationADC(IDENTITY if fn == "identity" else fn, bits, self.config,
                                    columns, seed)

    @classmethod
    def from_torch(cls, source, config: CrossbarConfig | None = None, *,
                   activation: str | None = None, seed: int = 0):
        """A cell holding the weights of a ``torch.nn`` LSTM/GRU/RNN (tanh) module, of a
        model containing one (its state dict's ``...weight_ih_l0`` keys), or of such a
        state dict; sizes are read from the tensors."""
        state = source.state_dict() if isinstance(source, nn.Module) else source
        if not isinstance(state, dict):
            raise TypeError(f"source must be a torch.nn module or a state dict, got "
                            f"{type(source).__name__}")
        found = {m.group(1): v for key, v in state.items() if (m := _KEY.search(key))}
        if "weight_ih_l0" not in found or "weight_hh_l0" not in found:
            raise ValueError("source holds no weight_ih_l0 / weight_hh_l0 tensors: expected "
                             "the state dict of a torch.nn LSTM, GRU or RNN")
        rows, hidden = found["weight_hh_l0"].shape
        if rows != cls.gates * hidden:
            raise ValueError(f"weight_hh_l0 has shape {(rows, hidden)}: a {cls.__name__} "
                             f"needs ({cls.gates} * hidden, hidden); wrong kind of RNN?")
        layers = 1 + max(int(_KEY.search(k).group(2)) for k in found)
        model = cls(found["weight_ih_l0"].shape[1], hidden, num_layers=layers, config=config,
                    activation=activation, bias="bias_ih_l0" in found, seed=seed)
        result = model.load_state_dict({k: v.detach().clone() for k, v in found.items()},
                                       strict=False)
        missing = [k for k in result.missing_keys if not k.startswith("converters.")]
        if missing or result.unexpected_keys:
            raise ValueError(f"source does not match a {cls.__name__}: missing "
                             f"{missing}, unexpected {result.unexpected_keys}")
        return model

    def combined(self, layer: int) -> Tensor:
        """The layer's array ``(columns, in + H (+ 1))``: ``[W_ih | W_hh | b]`` (torch.nn's
        bias pair summed), with autograd to the parameters."""
        p = {n: getattr(self, f"{n}_l{layer}", None) for n in
             ("weight_ih", "weight_hh", "bias_ih", "bias_hh")}
        bias = None if p["bias_ih"] is None else p["bias_ih"] + p["bias_hh"]
        return with_bias_row(torch.cat([p["weight_ih"], p["weight_hh"]], dim=1), bias)

    def programmed(self, layer: int) -> ProgrammedLayer:
        """The static programming of layer ``layer`` (rebuilt when its weights change)."""
        names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
        params = [getattr(self, f"{n}_l{layer}") for n in names if hasattr(self, f"{n}_l{layer}")]
        key = tuple((p._version, p.data_ptr(), p.dtype) for p in params)
        cached = self._programmed.get(layer)
        if cached is None or cached[0] != key:
            gen = generator(self.seed, f"{self.kind}/l{layer}/program")
            state = program_preactivation(self.combined(layer).detach(), self.config, gen)
            self._programmed[layer] = (key, state)
        return self._programmed[layer][1]

    def pass_programming(self, layer: int) -> ProgrammedLayer:
        """Layer ``layer``'s devices for this forward pass: in training (hardware-aware) a fresh
        programming with new programming noise, in inference the static one."""
        if not self.training:
            return self.programmed(layer)
        with torch.no_grad():
            return program_preactivation(self.combined(layer).detach(), self.config,
                                         self._train_gen)

    def _preactivations(self, u: Tensor, layer: int, state: ProgrammedLayer,
                        w: Tensor | None) -> Tensor:
        """Analog pre-activations of ``u = [x_t, h]``; straight-through to ``u @ w.T`` when
        ``w`` (the float array) is given."""
        u1 = with_one(u) if self.bias else u
        z = preactivation(u1.detach(), state, self.config, self._read_rng)
        if w is None:
            return z
        z_float = u1 @ w.t()
        return z_float + (z - z_float).detach()

    def _convert(self, layer: int, z: Tensor) -> list[Tensor]:
        """Converted column groups of ``z`` in :meth:`column_groups` order."""
        conv = self.converters[layer]
        parts = self._split(z)
        return [conv[fn](part) for fn, part in zip(self.column_groups(), parts, strict=True)]

    def forward(self, x: Tensor, state=None):
        """``x (B, T, input_size)`` -> ``(y (B, T, H), state)``; ``state`` as torch.nn's."""
        check_sequence(x, self.input_size)
        if not self.hardware:
            return self.float_forward(x, state)
        h0 = self._initial(x, state)
        grads = torch.is_grad_enabled()
        out, finals = x, []
        for k in range(self.num_layers):
            w = self.combined(k).to(x.dtype) if grads else None
            prog = self.pass_programming(k)
            carry = tuple(s[k] for s in h0)
            ys = []
            for t in range(out.shape[1]):
                u = torch.cat([out[:, t], carry[0]], dim=1)
                carry = self._step(self._convert(k, self._preactivations(u, k, prog, w)),
                                   carry)
                ys.append(carry[0])
            out = torch.stack(ys, dim=1)
            finals.append(carry)
        return out, self._final(finals)

    def hardware_cost(self, steps: int) -> dict:
        """Energy (pJ), latency (ns), area (mm^2), TOPS/W and the counts of one sequence of
        ``steps`` steps (batch 1): :func:`analog.cell_cost.sequence_cost` as a dict."""
        from analog.cell_cost import sequence_cost  # cell_cost imports this module

        return sequence_cost(self, 1, steps).as_dict()

    def _initial(self, x: Tensor, state) -> tuple[Tensor, ...]:
        zeros = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
        return (zeros,) if state is None else (state,)

    def _final(self, finals: list[tuple[Tensor, ...]]):
        return torch.stack([f[0] for f in finals])

    def extra_repr(self) -> str:
        return (f"{self.input_size}, {self.hidden_size}, num_layers={self.num_layers}, "
                f"activation={self.activation!r}, adc_kind={self.config.adc_kind!r}, "
                f"bits={self.config.adc_bits}, seed={self.seed}")


class AnalogLSTM(_AnalogRecurrent):
    """LSTM on crossbars (see the module docstring); ``state`` is ``(h, c)``, each
    ``(num_layers, B, H)``. Gates ``i, f, o`` through the sigmoid converter, ``g`` through
    the tanh converter; ``c = f c + i g`` and ``h = o tanh(c)`` in digital.

    ``path``: ``"auto"`` runs the compiled time loop of :mod:`analog.fused_cell` where it
    applies (CPU float32/float64, no comparator noise) and this per-step torch code otherwise;
    ``"reference"`` forces the torch code, ``"compiled"`` the kernel."""

    gates, kind, torch_kernel = 4, "analog_lstm", "lstm"

    def __init__(self, *args, path: str = "auto", **kwargs) -> None:
        path = check_path(path)  # a bad path fails before the arrays and converters are built
        super().__init__(*args, **kwargs)
        self.path = path

    def forward(self, x: Tensor, state=None):
        """``x (B, T, input_size)`` -> ``(y (B, T, H), (h, c))``."""
        check_sequence(x, self.input_size)
        if not self.hardware:
            return self.float_forward(x, state)
        if fused_cell.use_compiled(self, x):
            return fused_cell.lstm_forward(self, x, state)
        return super().forward(x, state)

    def column_groups(self) -> dict[str, int]:
        """Converter of each column group and its width, in array column order after
        :meth:`_split`."""
        return {"sigmoid": 3 * self.hidden_size, "tanh": self.hidden_size}

    def _split(self, z: Tensor) -> list[Tensor]:
        i, f, g, o = z.chunk(4, dim=1)
        return [torch.cat([i, f, o], dim=1), g]

    def _step(self, parts, carry):
        (sig, g), (_, c) = parts, carry
        i, f, o = sig.chunk(3, dim=1)
        c = f * c + i * g
        return o * torch.tanh(c), c

    def _initial(self, x, state):
        zeros = x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)
        return (zeros, zeros) if state is None else tuple(state)

    def _final(self, finals):
        return torch.stack([f[0] for f in finals]), torch.stack([f[1] for f in finals])


class AnalogGRU(_AnalogRecurrent):
    """GRU on crossbars with torch.nn's equations; ``state`` is ``h (num_layers, B, H)``.
    The array has columns ``[r | z | n_x | n_h]`` (see the module docstring)."""

    gates, kind, torch_kernel = 3, "analog_gru", "gru"

    def combined(self, layer: int) -> Tensor:
        w = super().combined(layer)
        h, n_in = self.hidden_size, w.shape[1] - self.hidden_size - int(self.bias)
        n = w[2 * h:]
        n_x = torch.cat([n[:, :n_in], torch.zeros_like(n[:, n_in:n_in + h]), n[:, n_in + h:]],
                        dim=1)
        n_h = torch.cat([torch.zeros_like(n[:, :n_in]), n[:, n_in:]], dim=1)
        if self.bias:  # torch.nn keeps b_in and b_hn apart: b_in on n_x, b_hn on n_h
            b_in = getattr(self, f"bias_ih_l{layer}")[2 * h:]
            b_hn = getattr(self, f"bias_hh_l{layer}")[2 * h:]
            n_x = torch.cat([n_x[:, :-1], b_in.unsqueeze(1)], dim=1)
            n_h = torch.cat([n_h[:, :-1], b_hn.unsqueeze(1)], dim=1)
        return torch.cat([w[: 2 * h], n_x, n_h])

    def column_groups(self) -> dict[str, int]:
        return {"sigmoid": 2 * self.hidden_size, "identity": 2 * self.hidden_size}

    def _split(self, z: Tensor) -> list[Tensor]:
        h = self.hidden_size
        return [z[:, : 2 * h], z[:, 2 * h:]]

    def _step(self, parts, carry):
        (rz, n_parts), (h,) = parts, carry
        r, z = rz.chunk(2, dim=1)
        n_x, n_h = n_parts.chunk(2, dim=1)
        n = torch.tanh(n_x + r * n_h)
        return ((1 - z) * n + z * h,)


class AnalogElman(_AnalogRecurrent):
    """Elman (torch.nn.RNN, tanh) on crossbars: ``h = tanh([x, h, 1] @ [W_ih|W_hh|b].T)``
    straight out of the tanh converter; ``state`` is ``h (num_layers, B, H)``."""

    gates, kind, torch_kernel = 1, "analog_elman", "rnn_tanh"

    def column_groups(self) -> dict[str, int]:
        return {"tanh": self.hidden_size}

    def _split(self, z: Tensor) -> list[Tensor]:
        return [z]

    def _step(self, parts, carry):
        return (parts[0],)
