"""Bad input to the fused layers: a one-line ValueError/TypeError naming the argument, before
any kernel runs."""

from __future__ import annotations

import pytest
import torch

from kernels import fused


def _raises(exc, match, fn, *args, **kwargs):
    with pytest.raises(exc, match=match) as info:
        fn(*args, **kwargs)
    assert "\n" not in str(info.value)


def test_mismatched_weight_shapes(make_case):
    x, (h0, c0), (w_ih, w_hh, b_ih, b_hh) = make_case("lstm", 2, 3, 2, 8)
    _raises(ValueError, r"weight_hh has shape \(32, 7\)", fused.lstm_layer, x, h0, c0, w_ih,
            w_hh[:, :7], b_ih, b_hh)
    _raises(ValueError, r"weight_hh has shape \(30, 8\).*4 \* hidden_size", fused.lstm_layer,
            x, h0, c0, w_ih, w_hh[:30], b_ih, b_hh)
    _raises(ValueError, r"weight_ih has shape \(32, 3\); expected \(32, 2\)", fused.lstm_layer,
            x, h0, c0, torch.zeros(32, 3, dtype=x.dtype), w_hh, b_ih, b_hh)
    _raises(ValueError, r"bias_hh has shape \(31,\)", fused.lstm_layer, x, h0, c0, w_ih, w_hh,
            b_ih, b_hh[:31])
    _raises(ValueError, r"c0 has shape \(3, 8\); expected \(2, 8\)", fused.lstm_layer, x, h0,
            torch.zeros(3, 8, dtype=x.dtype), w_ih, w_hh, b_ih, b_hh)


def test_head_counts(make_case):
    x, (h0,), (w_ih, w_hh, b_ih, b_hh) = make_case("gru", 2, 3, 2, 8)
    _raises(ValueError, "num_heads=3 does not divide hidden size 8", fused.gru_layer, x, h0,
            w_ih, w_hh, b_ih, b_hh, num_heads=3)
    _raises(ValueError, r"num_heads=0: must be an integer >= 1", fused.gru_layer, x, h0, w_ih,
            w_hh, b_ih, b_hh, num_heads=0)
    _raises(ValueError, r"expected \(24, 4\) for hidden size 8 and num_heads=2",
            fused.gru_layer, x, h0, w_ih, w_hh, b_ih, b_hh, num_heads=2)


@pytest.mark.parametrize("dtype", [torch.float16, torch.bfloat16])
def test_unsupported_cpu_dtypes(make_case, dtype):
    x, (h0,), weights = make_case("elman", 2, 3, 2, 4, dtype=dtype)
    _raises(TypeError, f"x has dtype {dtype}, unsupported on the CPU fused path; allowed: "
            "float32, float64", fused.elman_layer, x, h0, *weights)


def test_other_bad_arguments(make_case):
    x, (h0,), weights = make_case("elman", 2, 3, 2, 4)
    _raises(ValueError, r"weight_ih is torch.float32 on cpu; expected torch.float64",
            fused.elman_layer, x, h0, weights[0].float(), *weights[1:])
    _raises(TypeError, "x must be a torch.Tensor", fused.elman_layer, x.tolist(), h0, *weights)
    _raises(ValueError, r"x has shape \(2, 3\); expected 3 dimensions", fused.elman_layer,
            x[:, :, 0], h0, *weights)
    _raises(TypeError, "x has dtype torch.int64", fused.elman_layer, x.long(), h0, *weights)
    _raises(ValueError, "nonlinearity='gelu'", fused.elman_layer, x, h0, *weights, "gelu")
    _raises(ValueError, "path='gpu' is unknown", fused.elman_layer, x, h0, *weights, path="gpu")
    _raises(TypeError, "Triton interpreter on the CPU runs float32 only", fused.elman_layer, x,
            h0, *weights, path="triton")


def test_bad_scan_arguments():
    a = torch.zeros(2, 3, 4)
    _raises(ValueError, r"log_a has shape \(2, 3, 4\) and log_b \(2, 3, 5\)",
            fused.linear_recurrence_scan, a, torch.zeros(2, 3, 5))
    _raises(ValueError, r"h0 has shape \(2, 5\); expected \(2, 4\)",
            fused.linear_recurrence_scan, a, a, torch.zeros(2, 5))
