"""Every Triton kernel, run by the Triton interpreter on the CPU (``TRITON_INTERPRET=1``, set
in conftest.py), equals the reference loop in float32 values and gradients; bf16 runs on a
GPU only. Shapes stay tiny: the interpreter is slow."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
import torch

pytest.importorskip("triton", reason="Triton is the optional [gpu]/[test] extra")

from kernels import fused, reference  # noqa: E402

SHAPES = [  # (batch, steps, inputs, hidden, num_heads)
    (3, 5, 2, 8, 1),
    (2, 4, 3, 8, 2),  # head-wise
    (1, 1, 1, 4, 4),  # T = 1
    (17, 3, 2, 20, 1),  # odd batch over one tile of 16, hidden not a power of two
    (5, 2, 3, 24, 3),  # head-wise, head size 8
    (33, 2, 1, 8, 2),  # two batch tiles of 32
]


@pytest.mark.parametrize("cell", ["lstm", "gru", "elman"])
@pytest.mark.parametrize("shape", SHAPES, ids=str)
def test_triton_equals_reference(agree, cell, shape):
    err = agree(cell, *shape[:4], num_heads=shape[4], dtype=torch.float32, path="triton")
    assert err < 1e-5


def test_triton_elman_relu_without_bias(agree):
    err = agree("elman", 3, 4, 2, 8, num_heads=2, dtype=torch.float32, bias=False,
                nonlinearity="relu", path="triton")
    assert err < 1e-5


@pytest.mark.parametrize("steps,with_h0", [(1, True), (70, True), (9, False)])
def test_triton_scan_equals_sequential_reference(scan_error, steps, with_h0):
    assert scan_error("triton", 2, steps, 5, torch.float32, with_h0, seed=3) < 1e-5


def test_head_too_large_for_chip_is_rejected(make_case):
    x, states, weights = make_case("lstm", 1, 1, 1, 128, dtype=torch.float32)
    with pytest.raises(ValueError, match="head size 128 is too large for the Triton kernel"):
        fused.lstm_layer(x, *states, *weights, path="triton")
    x, states, weights = make_case("lstm", 1, 1, 1, 128, num_heads=2, dtype=torch.float32)
    y, _ = fused.lstm_layer(x, *states, *weights, num_heads=2, path="triton")  # heads of 64 fit
    y_ref, _ = reference.lstm_layer(x, *states, *weights, num_heads=2)
    assert torch.allclose(y, y_ref, atol=1e-5)


_AOT_SCRIPT = """
import triton
from triton.backends.compiler import GPUTarget
from triton.compiler import ASTSource
from kernels import triton_cells as tc
kernels = [
    (tc._lstm_fwd, ["xp", "w", "h0", "c0", "y", "c", "acts"], {}),
    (tc._lstm_bwd, ["w", "c0", "c", "acts", "dy", "dc_t", "dg", "dh0", "dc0"], {}),
    (tc._gru_fwd, ["xp", "w", "bhh", "h0", "y", "acts"], {}),
    (tc._gru_bwd, ["w", "h0", "y", "acts", "dy", "dgx", "dgh", "dh0"], {}),
    (tc._elman_fwd, ["xp", "w", "h0", "y"], {"RELU": False}),
    (tc._elman_bwd, ["w", "y", "dy", "dg", "dh0"], {"RELU": True}),
]
for dtype in ("fp32", "bf16"):
    for fn, pointers, flags in kernels:
        consts = dict(flags, BLOCK_B=16, BLOCK_D=16)
        sig = {name: "*" + dtype for name in pointers}
        sig.update({name: "i32" for name in "TBHD"}, **{name: "constexpr" for name in consts})
        compiled = triton.compile(ASTSource(fn=fn, signature=sig, constexprs=consts),
                                  target=GPUTarget("cuda", 80, 32))
        assert compiled.asm["cubin"], fn
sig = {"a": "*fp32", "b": "*fp32", "h0": "*fp32", "y": "*fp32", "T": "i32", "H": "i32",
       "BLOCK_T": "constexpr", "BLOCK_H": "constexpr"}
triton.compile(ASTSource(fn=tc._scan, signature=sig, constexprs={"BLOCK_T": 64, "BLOCK_H": 128}),
               target=GPUTarget("cuda", 80, 32))
print("ok")
"""


def test_kernels_compile_for_a_gpu_without_one():
    """What the interpreter cannot check: every kernel lowers to an sm_80 cubin (fp32, bf16)."""
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    proc = subprocess.run([sys.executable, "-c", _AOT_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    if proc.returncode != 0 and "ptxas" in proc.stderr and "not found" in proc.stderr.lower():
        pytest.skip("Triton's bundled ptxas is unavailable on this platform")
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]


_GPU_SCRIPT = """
import torch
from kernels import fused, reference
torch.manual_seed(0)
for cell, g in (("lstm", 4), ("gru", 3), ("elman", 1)):
    for heads in (1, 4):
        x = torch.randn(5, 7, 3, device="cuda")
        w = [torch.randn(g * 64, 3, device="cuda") * 0.5,
             torch.randn(g * 64, 64 // heads, device="cuda") * 0.3,
             torch.randn(g * 64, device="cuda") * 0.1, torch.randn(g * 64, device="cuda") * 0.1]
        st = [torch.randn(5, 64, device="cuda") for _ in range(2 if cell == "lstm" else 1)]
        ref = getattr(reference, cell + "_layer")(x, *st, *w, num_heads=heads)[0]
        for dt, tol in ((torch.float32, 1e-4), (torch.bfloat16, 5e-2)):
            args = [t.to(dt).requires_grad_() for t in (x, *st, *w)]
            y = getattr(fused, cell + "_layer")(*args, num_heads=heads)[0]
            y.float().sum().backward()
            err = (y.float() - ref).abs().max().item()
            assert err < tol and all(a.grad is not None for a in args), (cell, heads, dt, err)
print("ok")
"""


@pytest.mark.skipif(not torch.cuda.is_available(), reason="bf16/fp32 Triton on a GPU needs CUDA")
def test_triton_on_gpu_fp32_and_bf16():
    env = {k: v for k, v in os.environ.items() if k != "TRITON_INTERPRET"}
    env["TRITON_DEFAULT_FP_FUSION"] = "1"
    proc = subprocess.run([sys.executable, "-c", _GPU_SCRIPT], env=env, capture_output=True,
                          text=True, timeout=600)
    assert proc.returncode == 0 and "ok" in proc.stdout, proc.stderr[-2000:]
