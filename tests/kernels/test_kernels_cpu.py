"""The CPU fast path (compiled C loops, torch's BLAS for large dense heads) equals the
reference loop in values and gradients."""

from __future__ import annotations

import pytest
import torch

from kernels import cpu, cpu_build, fused, reference

SHAPES = [  # (batch, steps, inputs, hidden, num_heads)
    (3, 5, 2, 8, 1),
    (2, 4, 3, 8, 2),  # head-wise
    (1, 1, 1, 4, 4),  # T = 1, one unit per head
    (5, 7, 3, 12, 3),  # odd batch, head size 4
    (16, 4, 3, 64, 1),
]  # one head: torch's BLAS (packed MKL for float32); head-wise: the C loop


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-10), (torch.float32, 1e-5)])
def test_cpu_equals_reference(agree, cell, shape, dtype, tol):
    assert agree(cell, *shape[:4], num_heads=shape[4], dtype=dtype, path="cpu") < tol


@pytest.mark.parametrize("shape", [(3, 5, 2, 8, 2), (16, 3, 2, 64, 1)], ids=str)
def test_cpu_elman_relu_and_no_bias(agree, shape):
    assert agree("elman", *shape[:4], num_heads=shape[4], nonlinearity="relu", path="cpu") < 1e-10
    for cell in ("lstm", "gru", "elman"):
        assert agree(cell, *shape[:4], num_heads=shape[4], bias=False, path="cpu") < 1e-10


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
def test_blas_and_loop_agree(monkeypatch, agree, dtype):
    """With one head the BLAS path runs above; here the same shapes run through the C loop."""
    if cpu_build.blas(dtype) is None:
        pytest.skip("this torch build exports no BLAS; the C loop ran in every case above")
    monkeypatch.setattr(cpu_build, "_BLAS", {dtype: None})
    tol = 1e-5 if dtype == torch.float32 else 1e-10
    for cell in ("lstm", "gru", "elman"):
        assert agree(cell, 16, 4, 3, 64, dtype=dtype, path="cpu") < tol


@pytest.mark.parametrize("cls,cell", [(torch.nn.LSTM, "lstm"), (torch.nn.GRU, "gru"),
                                      (torch.nn.RNN, "elman")])
def test_cpu_equals_torch_nn(cls, cell):
    torch.manual_seed(1)
    net = cls(3, 64, batch_first=True)
    x = torch.randn(16, 9, 3)
    h0 = torch.randn(1, 16, 64)
    weights = [p.detach() for p in net.parameters()]
    with torch.no_grad():
        if cell == "lstm":
            c0 = torch.randn(1, 16, 64)
            y_nn, (h_nn, c_nn) = net(x, (h0, c0))
            y, (h, c) = fused.lstm_layer(x, h0[0], c0[0], *weights)
            assert torch.allclose(c, c_nn[0], atol=1e-5)
        else:
            y_nn, h_nn = net(x, h0)
            y, h = getattr(fused, f"{cell}_layer")(x, h0[0], *weights)
    assert torch.allclose(y, y_nn, atol=1e-5) and torch.allclose(h, h_nn[0], atol=1e-5)


@pytest.mark.parametrize("dtype,tol", [(torch.float64, 1e-12), (torch.float32, 1e-5)])
@pytest.mark.parametrize("with_h0", [True, False])
def test_cpu_scan_equals_sequential_reference(scan_error, dtype, tol, with_h0):
    assert scan_error("cpu", 3, 9, 5, dtype, with_h0, seed=2) < tol


def test_fallback_warns_and_uses_reference(make_case, forget_build):
    forget_build(cpu_build.CELLS, "no C compiler found (test)")
    x, states, weights = make_case("gru", 2, 3, 2, 4)
    with pytest.warns(RuntimeWarning, match="no C compiler found"):
        y, h = fused.gru_layer(x, *states, *weights)
    y_ref, _ = reference.gru_layer(x, *states, *weights)
    assert torch.equal(y, y_ref)


def test_failed_compile_is_reported(monkeypatch, tmp_path, forget_build):
    monkeypatch.setenv("QRNN_KERNEL_CACHE", str(tmp_path))
    monkeypatch.setenv("CC", "false")  # a "compiler" that always fails
    forget_build(cpu_build.CELLS)
    assert cpu_build.CELLS.load() is None
    assert "failed" in cpu_build.CELLS.error and not list(tmp_path.glob("*.so"))


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
@pytest.mark.parametrize("shape", [(3, 5, 2, 8, 2), (16, 3, 2, 64, 1)], ids=str)
def test_cpu_inference_without_saved_activations(make_case, cell, shape):
    """Under ``no_grad`` the forward keeps no per-step activations; outputs are unchanged."""
    x, states, weights = make_case(cell, *shape[:4], num_heads=shape[4])
    with torch.no_grad():
        y, _ = getattr(fused, f"{cell}_layer")(x, *states, *weights, num_heads=shape[4])
        y_ref, _ = getattr(reference, f"{cell}_layer")(x, *states, *weights,
                                                       num_heads=shape[4])
    assert not y.requires_grad
    assert (y - y_ref).abs().max() < 1e-12


def test_mkl_threading_around_small_steps(monkeypatch, agree):
    """Small steps run MKL serially and restore its per-thread setting; large ones do not
    touch it. Both give the reference's values."""
    if cpu._LOCAL_THREADS is None:
        pytest.skip("this torch build has no MKL: nothing to switch")
    # read the current per-thread setting (torch.set_num_threads also writes it)
    before = cpu._LOCAL_THREADS(0)
    cpu._LOCAL_THREADS(before)
    assert agree("gru", 16, 4, 3, 64, dtype=torch.float32, path="cpu") < 1e-5  # serial
    assert cpu._LOCAL_THREADS(before) == before  # restored to what it was
    monkeypatch.setattr(cpu, "SERIAL_FLOPS", 0)
    for cell in ("lstm", "gru", "elman"):
        assert agree(cell, 16, 4, 3, 64, dtype=torch.float32, path="cpu") < 1e-5
