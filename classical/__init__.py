"""Classical recurrent baselines: LSTM, GRU, Elman, minGRU and minLSTM.

Every model takes ``x`` of shape ``(batch, time, input_size)`` and returns ``(y, state)``
with ``y`` of shape ``(batch, time, hidden_size)``; ``backend=`` picks the execution
(``"torch"``, ``"reference"``) without changing the parameter layout::

    from classical import LSTM
    model = LSTM(1, 32, backend="torch")
    y, (h, c) = model(torch.randn(8, 4, 1))
    model.backend = "reference"   # same weights, plain per-step loop
"""

from classical.minimal import MinGRU, MinLSTM
from classical.rnn import GRU, LSTM, Elman

__all__ = ["LSTM", "GRU", "Elman", "MinGRU", "MinLSTM"]
