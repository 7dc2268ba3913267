"""`AnalogLinear` and `to_analog`: torch layers executed on simulated crossbars.

Inference (``eval()``): the weights are programmed once (static conductances, faults,
drift, comparator offsets) from the layer's seed, and every forward pass draws fresh read
and comparator noise. The programmed state is rebuilt automatically when the weights
change.

Hardware-aware training (``train()``): every forward pass programs the current weights
afresh (new programming noise, quantization, faults) and runs the full analog chain; the
output carries the analog value but the gradient of the float layer (straight-through
estimator): ``y = y_float + (y_analog - y_float).detach()``.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from analog.config import CrossbarConfig
from analog.converters import Adc, make_adc
from analog.devices import ProgrammedLayer, check_weight, program, tile_grid
from analog.tile import analog_mvm
from kernels.contract import check_path


def _derived_seeds(seed: int) -> tuple[int, ...]:
    """Independent (weight init, static programming, read noise, training programming)
    seeds derived from one seed."""
    if isinstance(seed, bool) or not isinstance(seed, int) or seed < 0:
        raise ValueError(f"seed={seed!r} is not allowed: expected an integer >= 0")
    return tuple(int(s) for s in np.random.SeedSequence(seed).generate_state(4, np.uint64))


class AnalogLinear(nn.Module):
    """Linear layer ``y = x W^T + b`` computed on crossbar tiles; the bias is digital.

    Args:
        in_features, out_features: layer shape.
        config: the crossbar configuration.
        bias: whether to learn an additive (digital) bias.
        seed: seeds device programming and read noise (integer >= 0).
        path: fast-path choice of the readout (:func:`analog.tile.analog_mvm`): ``"auto"``,
            ``"reference"`` (the torch path) or ``"compiled"``; a settable attribute.

    Shapes: input ``(..., in_features)``, output ``(..., out_features)``.
    """

    def __init__(self, in_features: int, out_features: int, config: CrossbarConfig,
                 bias: bool = True, seed: int = 0, path: str = "auto") -> None:
        super().__init__()
        self.path = check_path(path)
        for name, value in (("in_features", in_features), ("out_features", out_features)):
            if isinstance(value, bool) or not isinstance(value, int) or value < 1:
                raise ValueError(f"AnalogLinear {name}={value!r} is not allowed: expected "
                                 "an integer >= 1")
        if not isinstance(config, CrossbarConfig):
            raise TypeError(f"config must be a CrossbarConfig, got {type(config).__name__}")
        if config.adc_kind == "nl_ramp":
            make_adc(config, (1,))  # the one-line error: nl_ramp converts activations
        self.in_features, self.out_features = in_features, out_features
        self.config = config
        self.seed = seed
        init_seed, program_seed, read_seed, train_seed = _derived_seeds(seed)
        init = torch.Generator().manual_seed(init_seed)
        self.weight = nn.Parameter(torch.empty(out_features, in_features))
        nn.init.kaiming_uniform_(self.weight, a=math.sqrt(5), generator=init)
        if bias:
            bound = 1 / math.sqrt(in_features)
            b = torch.rand(out_features, generator=init) * (2 * bound) - bound
            self.bias = nn.Parameter(b)
        else:
            self.register_parameter("bias", None)
        self._program_seed = program_seed
        self._train_gen = torch.Generator().manual_seed(train_seed)
        self._read_rng = np.random.Generator(np.random.SFC64(read_seed))
        self._programmed: tuple[ProgrammedLayer, Adc] | None = None
        self._programmed_key: tuple | None = None

    @classmethod
    def from_linear(cls, linear: nn.Linear, config: CrossbarConfig,
                    seed: int = 0, path: str = "auto") -> AnalogLinear:
        """Copy the weights (and bias) of a trained ``nn.Linear``."""
        check_weight(linear.weight)
        layer = cls(linear.in_features, linear.out_features, config,
                    bias=linear.bias is not None, seed=seed, path=path)
        layer = layer.to(device=linear.weight.device, dtype=linear.weight.dtype)
        with torch.no_grad():
            layer.weight.copy_(linear.weight)
            if linear.bias is not None:
                layer.bias.copy_(linear.bias)
        return layer

    def extra_repr(self) -> str:
        n_r, n_c = tile_grid(self.in_features, self.out_features, self.config)
        return (f"in_features={self.in_features}, out_features={self.out_features}, "
                f"bias={self.bias is not None}, tiles={n_r}x{n_c}, seed={self.seed}")

    def _program_fresh(self, generator: torch.Generator) -> tuple[ProgrammedLayer, Adc]:
        state = program(self.weight.detach(), self.config, generator)
        adc = make_adc(self.config, (state.weights.shape[0], 1, state.weights.shape[2]),
                       generator)
        return state, adc

    def programmed(self) -> tuple[ProgrammedLayer, Adc]:
        """The static (inference) programming of the current weights, seeded by
        ``seed``; rebuilt when the weights or the config have changed since the last
        call."""
        key = (self.weight._version, self.weight.data_ptr(), self.weight.dtype,
               id(self.config))
        if self._programmed is None or self._programmed_key != key:
            generator = torch.Generator().manual_seed(self._program_seed)
            self._programmed = self._program_fresh(generator)
            self._programmed_key = key
        return self._programmed

    def mean_conductance_us(self) -> float:
        """Mean programmed conductance of the layer's devices (uS), both devices of every
        pair (for :func:`analog.cost.layer_cost`)."""
        state, _ = self.programmed()
        total = float(state.g_pos.sum() + state.g_neg.sum())
        return total / (2 * self.in_features * self.out_features)

    def forward(self, x: Tensor) -> Tensor:
        """``x`` (..., in_features) -> (..., out_features): the static programming and
        fresh read noise in eval mode; fresh programming and straight-through gradients
        in training mode."""
        if not isinstance(x, Tensor) or x.ndim < 1 or x.shape[-1] != self.in_features:
            shape = tuple(x.shape) if isinstance(x, Tensor) else type(x).__name__
            raise ValueError(f"AnalogLinear input has shape {shape}: expected "
                             f"(..., {self.in_features})")
        lead = x.shape[:-1]
        x2 = x.reshape(-1, self.in_features)
        if self.training:
            with torch.no_grad():
                state, adc = self._program_fresh(self._train_gen)
                y_analog = analog_mvm(x2.detach(), state, adc, self.config, self._read_rng,
                                      path=self.path)
            y_float = F.linear(x2, self.weight)
            y = y_float + (y_analog - y_float).detach()
            y = y if self.bias is None else y + self.bias
        else:
            state, adc = self.programmed()
            y = analog_mvm(x2, state, adc, self.config, self._read_rng, bias=self.bias,
                           path=self.path)
        return y.reshape(*lead, self.out_features)


def to_analog(model: nn.Module, config: CrossbarConfig, seed: int = 0) -> nn.Module:
    """Return a copy of ``model`` with every module of type exactly ``nn.Linear`` replaced
    by an :class:`AnalogLinear` holding the same weights; the original is unchanged.

    Layer ``k`` (in ``named_modules`` order) gets seed ``SeedSequence(seed).spawn()[k]``.
    Subclasses of ``nn.Linear`` (e.g. the ``out_proj`` of ``nn.MultiheadAttention``, whose
    parent reads its weight directly) are left in float.
    """
    if not isinstance(model, nn.Module):
        raise TypeError(f"model must be a torch.nn.Module, got {type(model).__name__}")
    if not isinstance(config, CrossbarConfig):
        raise TypeError(f"config must be a CrossbarConfig, got {type(config).__name__}")
    _derived_seeds(seed)
    converted = copy.deepcopy(model)
    names = [n for n, m in converted.named_modules() if type(m) is nn.Linear]
    children = np.random.SeedSequence(seed).spawn(len(names))
    for name, child_seq in zip(names, children, strict=True):
        layer_seed = int(child_seq.generate_state(1, dtype=np.uint32)[0])
        linear = converted.get_submodule(name)
        analog = AnalogLinear.from_linear(linear, config, seed=layer_seed)
        analog.train(linear.training)
        if name == "":
            return analog
        parent_name, _, attr = name.rpartition(".")
        setattr(converted.get_submodule(parent_name), attr, analog)
    return converted
