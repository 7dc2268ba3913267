"""LSTM, GRU and Elman sequence models with interchangeable backends.

Each model keeps its parameters in one ``torch.nn.LSTM`` / ``GRU`` / ``RNN`` submodule
(attribute ``rnn``, batch first), so the state dict has one layout for every backend and
weights move between backends with ``load_state_dict`` (or by setting ``model.backend``).

Backends:

- ``"torch"``: ``torch.nn`` (oneDNN on the CPU for the LSTM, cuDNN on a GPU);
- ``"reference"``: the per-step PyTorch loop of :mod:`kernels.reference`, the readable
  definition every other backend is tested against;
- ``"fused"``: :mod:`kernels.fused`, the Triton kernels on CUDA tensors and the compiled CPU
  fast path on CPU tensors (float32/float64), with a BPTT backward.

Call shape (the package contract): ``x`` ``(B, T, input_size)`` float32/float64 ->
``(y, state)`` with ``y`` ``(B, T, hidden_size)``; ``state`` is ``h`` ``(num_layers, B, H)``
for GRU/Elman and ``(h, c)`` for the LSTM, as in ``torch.nn``.
"""

from __future__ import annotations

import torch
from torch import Tensor, nn

from kernels import fused, reference
from kernels.contract import BackendSwitch, check_sequence

BACKENDS = ("torch", "reference", "fused")


class _Recurrent(BackendSwitch, nn.Module):
    """Shared plumbing: parameter container and backend switch; subclasses define
    ``_forward_layers`` (the reference layer loop)."""

    torch_cls: type[nn.RNNBase]
    backends = BACKENDS

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 backend: str = "torch", bias: bool = True, **rnn_kwargs) -> None:
        super().__init__()
        self._set_sizes(input_size, hidden_size, num_layers, backend)
        self.rnn = self.torch_cls(input_size, hidden_size, num_layers=num_layers, bias=bias,
                                  batch_first=True, **rnn_kwargs)

    def layer_weights(self, layer: int) -> tuple[Tensor, Tensor, Tensor | None, Tensor | None]:
        """``(weight_ih, weight_hh, bias_ih, bias_hh)`` of one layer, torch.nn layout."""
        rnn = self.rnn
        bias = rnn.bias
        return (
            getattr(rnn, f"weight_ih_l{layer}"),
            getattr(rnn, f"weight_hh_l{layer}"),
            getattr(rnn, f"bias_ih_l{layer}") if bias else None,
            getattr(rnn, f"bias_hh_l{layer}") if bias else None,
        )

    @property
    def _layers(self):
        """The module whose ``*_layer`` functions run one layer: fused kernels or reference."""
        return fused if self.backend == "fused" else reference

    def _zeros(self, x: Tensor) -> Tensor:
        return x.new_zeros(self.num_layers, x.shape[0], self.hidden_size)

    def forward(self, x: Tensor, state=None):
        check_sequence(x, self.input_size)
        if self.backend == "torch":
            return self.rnn(x, state)
        return self._forward_layers(x, state)

    def extra_repr(self) -> str:
        return f"backend={self.backend!r}"


class LSTM(_Recurrent):
    """LSTM sequence model; ``state`` is ``(h, c)``, each ``(num_layers, B, H)``."""

    torch_cls = nn.LSTM

    def _forward_layers(self, x, state):
        h0, c0 = (self._zeros(x), self._zeros(x)) if state is None else state
        hs, cs = [], []
        for layer in range(self.num_layers):
            x, (h, c) = self._layers.lstm_layer(x, h0[layer], c0[layer],
                                                *self.layer_weights(layer))
            hs.append(h)
            cs.append(c)
        return x, (torch.stack(hs), torch.stack(cs))


class GRU(_Recurrent):
    """GRU sequence model (torch's gate convention); ``state`` is ``h`` ``(num_layers, B, H)``."""

    torch_cls = nn.GRU

    def _forward_layers(self, x, state):
        h0 = self._zeros(x) if state is None else state
        hs = []
        for layer in range(self.num_layers):
            x, h = self._layers.gru_layer(x, h0[layer], *self.layer_weights(layer))
            hs.append(h)
        return x, torch.stack(hs)


class Elman(_Recurrent):
    """Elman (vanilla tanh/relu) RNN; ``state`` is ``h`` ``(num_layers, B, H)``."""

    torch_cls = nn.RNN

    def __init__(self, input_size: int, hidden_size: int, *, num_layers: int = 1,
                 backend: str = "torch", bias: bool = True, nonlinearity: str = "tanh") -> None:
        if nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"nonlinearity={nonlinearity!r}: allowed 'tanh' or 'relu'")
        super().__init__(input_size, hidden_size, num_layers=num_layers, backend=backend,
                         bias=bias, nonlinearity=nonlinearity)
        self.nonlinearity = nonlinearity

    def _forward_layers(self, x, state):
        h0 = self._zeros(x) if state is None else state
        hs = []
        for layer in range(self.num_layers):
            x, h = self._layers.elman_layer(x, h0[layer], *self.layer_weights(layer),
                                         nonlinearity=self.nonlinearity)
            hs.append(h)
        return x, torch.stack(hs)
