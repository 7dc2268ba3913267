"""The package-wide fast-path switch on the classical kernels, and C sources as package data."""

import pytest
import torch

from kernels import cpu_build, fused


@pytest.mark.parametrize("cell, gates", [("lstm", 4), ("gru", 3), ("elman", 1)])
def test_forcing_the_reference_gives_the_compiled_values(cell, gates):
    gen = torch.Generator().manual_seed(0)
    b, t, i, h = 3, 5, 4, 6
    x = torch.randn(b, t, i, generator=gen, dtype=torch.float64, requires_grad=True)
    h0 = torch.randn(b, h, generator=gen, dtype=torch.float64)
    w = [torch.randn(gates * h, n, generator=gen, dtype=torch.float64, requires_grad=True) * 0.3
         for n in (i, h)]
    bias = [torch.randn(gates * h, generator=gen, dtype=torch.float64) for _ in range(2)]
    c0 = torch.randn(b, h, generator=gen, dtype=torch.float64)
    states = (h0, c0) if cell == "lstm" else (h0,)
    layer = getattr(fused, f"{cell}_layer")
    outs = {}
    for path in ("reference", "cpu"):
        y, _ = layer(x, *states, *w, *bias, path=path)
        (gx,) = torch.autograd.grad(y.square().sum(), x)
        outs[path] = (y.detach(), gx)
    assert torch.allclose(outs["reference"][0], outs["cpu"][0], atol=1e-12, rtol=0)
    assert torch.allclose(outs["reference"][1], outs["cpu"][1], atol=1e-10, rtol=0)


def test_an_unknown_path_names_the_allowed_ones():
    x = torch.zeros(1, 1, 1)
    with pytest.raises(ValueError, match="path='fast' is unknown; allowed: auto, reference, cpu"):
        fused.elman_layer(x, torch.zeros(1, 2), torch.zeros(2, 1), torch.zeros(2, 2), path="fast")


def test_c_sources_expand_their_local_includes(tmp_path):
    (tmp_path / "body.h").write_text("int FN(one)(void) { return 1; }\n")
    (tmp_path / "main.c").write_text('#define FN(n) n##_a\n#include "body.h"\n#include <math.h>\n')
    text = cpu_build.source_file(tmp_path / "main.c")
    assert text == "#define FN(n) n##_a\nint FN(one)(void) { return 1; }\n\n#include <math.h>\n"
    cells = cpu_build.source_file(cpu_build.Path(fused.__file__).with_name("cells.c"))
    assert '#include "' not in cells and cells.count("FN(lstm_fwd)") == 2  # body twice


def test_large_lstm_inference_goes_to_onednn_and_agrees_with_the_reference():
    from kernels import reference

    gen = torch.Generator().manual_seed(1)
    b, h = fused.ONEDNN_MIN_BATCH, fused.ONEDNN_MIN_HIDDEN
    x = torch.randn(b, 3, h, generator=gen)
    states = [torch.randn(b, h, generator=gen) for _ in range(2)]
    w = [0.05 * torch.randn(4 * h, h, generator=gen) for _ in range(2)]
    bias = [torch.randn(4 * h, generator=gen) for _ in range(2)]
    assert fused.lstm_engine(x, h, 1, needs_grad=False) == "onednn"
    assert fused.lstm_engine(x, h, 1, needs_grad=True) == "cpu"           # training: the C loop
    assert fused.lstm_engine(x[:1], h, 1, needs_grad=False) == "cpu"      # small batch
    assert fused.lstm_engine(x.double(), h, 1, needs_grad=False) == "cpu"
    assert fused.lstm_engine(x, h, 1, needs_grad=False, path="cpu") == "cpu"
    assert fused.lstm_engine(x, h, 4, needs_grad=False) == "cpu"          # head-wise
    with torch.no_grad():
        y, (h_t, c_t) = fused.lstm_layer(x, *states, *w, *bias)
        y_ref, (h_ref, c_ref) = reference.lstm_layer(x, *states, *w, *bias)
    for a, r in ((y, y_ref), (h_t, h_ref), (c_t, c_ref)):
        assert torch.allclose(a, r, atol=1e-5, rtol=0)
