"""The compiled AnalogLSTM time loop (analog.fused_cell, C) against the per-step torch code of
analog.cells.AnalogLSTM: values, final state and read-noise stream, straight-through
gradients, the ideal crossbar against torch.nn.LSTM, path choice, fallback and bad input."""

import dataclasses

import pytest
import torch
from torch import nn

from analog import CrossbarConfig
from analog import fused_cell_kernel as kernel
from analog.cells import AnalogLSTM

REAL = CrossbarConfig.rram_realistic()
NL5 = dataclasses.replace(REAL, adc_kind="nl_ramp", adc_bits=5)
CASES = {
    "nl5-noisy": (NL5, None),
    "nl5-quiet-offsets": (dataclasses.replace(NL5, read_noise_rel=0.0, adc_offset_lsb=0.3), None),
    "nl3-fixed-dac-range": (dataclasses.replace(NL5, adc_bits=3, dac_range=2.5), None),
    "nl5-row-tiles-ramp-per-tile": (dataclasses.replace(NL5, tile_rows=8, tile_cols=16,
                                                        ramp_sharing="tile"), None),
    "digital5": (REAL, "digital"),
    "ideal": (CrossbarConfig.ideal(), None),
}
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}

compiled_only = pytest.mark.skipif(kernel.unavailable_reason(torch.float32) is not None,
                                   reason=f"no fused analog kernel: "
                                          f"{kernel.unavailable_reason(torch.float32)}")


def _x(batch=4, steps=9, inputs=5, dtype=torch.float32, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, steps, inputs, generator=gen) * 2).to(dtype)


def _both(model, x, state=None, loss=None):
    """Outputs (and gradients if ``loss``) of the reference and the compiled path from the
    same generator states, and the read-noise generator state each leaves behind."""
    read, train = model._read_rng.bit_generator.state, model._train_gen.get_state()
    out = {}
    for path in ("reference", "compiled"):
        model._read_rng.bit_generator.state = read
        model._train_gen.set_state(train)
        model.path = path
        model.zero_grad()
        leaves = [t for t in (x, *(state or ())) if t.requires_grad]
        for t in leaves:
            t.grad = None
        y, (h, c) = model(x, state)
        values = [y, h, c]
        if loss is not None:
            loss(y, h, c).backward()
            values += [t.grad for t in leaves] + [p.grad for p in model.parameters()]
        out[path] = ([v.detach() for v in values],
                     model._read_rng.bit_generator.state["state"]["state"].tolist())
    return out["reference"], out["compiled"]


@compiled_only
@pytest.mark.parametrize("hidden", [12, 16])  # 16: the 16-column in-register search (float32)
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64], ids=["f32", "f64"])
@pytest.mark.parametrize("case", sorted(CASES))
def test_compiled_equals_reference(case, dtype, hidden):
    config, activation = CASES[case]
    model = AnalogLSTM(5, hidden, num_layers=2, config=config, activation=activation, seed=4)
    model = model.to(dtype).eval()
    gen = torch.Generator().manual_seed(5)
    state = tuple((torch.rand(2, 4, hidden, generator=gen) * 2.4 - 1.2).to(dtype)
                  for _ in "hc")
    with torch.no_grad():
        (ref, ref_rng), (out, out_rng) = _both(model, _x(dtype=dtype), state)
    for a, b in zip(ref, out, strict=True):
        assert torch.allclose(a, b, rtol=0, atol=TOL[dtype])
    assert out_rng == ref_rng  # the kernel advanced the read-noise stream as the reference
    assert ref[0].unique().numel() > 100  # a real staircase, not a constant


@compiled_only
def test_codes_far_from_the_guess_are_still_exact():
    """Comparator offsets of several LSBs move each column's thresholds away from the coarse
    guess; the two-way search still finds the reference's codes."""
    config = dataclasses.replace(NL5, read_noise_rel=0.0, adc_offset_lsb=0.1)
    model = AnalogLSTM(5, 12, config=config, seed=2)
    model = model.double().eval()
    gen = torch.Generator().manual_seed(9)
    for conv in model.converters[0].values():
        conv.offset.copy_(torch.randn(conv.offset.shape, generator=gen, dtype=torch.float64)
                          * 4 * conv.lsb)
    with torch.no_grad():
        (ref, _), (out, _) = _both(model, _x(batch=16, dtype=torch.float64))
    assert torch.allclose(ref[0], out[0], rtol=0, atol=1e-12)


@compiled_only
@pytest.mark.parametrize("case", ["nl5-noisy", "digital5", "ideal"])
def test_training_gradients_of_compiled_equal_reference(case):
    config, activation = CASES[case]
    model = AnalogLSTM(5, 8, num_layers=2, config=config, activation=activation, seed=1)
    model = model.double().train()
    x = _x(dtype=torch.float64).requires_grad_()
    gen = torch.Generator().manual_seed(6)
    state = tuple(torch.randn(2, 4, 8, generator=gen, dtype=torch.float64).requires_grad_()
                  for _ in "hc")
    (ref, ref_rng), (out, out_rng) = _both(
        model, x, state, loss=lambda y, h, c: y.square().sum() + 0.3 * h.sum() + 0.7 * c.sum())
    assert len(ref) == 3 + 3 + 8
    for a, b in zip(ref, out, strict=True):
        assert torch.allclose(a, b, rtol=0, atol=1e-10)
        assert a.abs().max() > 0
    assert out_rng == ref_rng


@compiled_only
def test_without_bias_row_compiled_equals_reference():
    """No bias row: the input scaling is the abs-max of [x, h] alone (inputs below 1 here)."""
    model = AnalogLSTM(5, 16, num_layers=2, config=NL5, bias=False, seed=1).double().train()
    x = (_x(batch=3, steps=6, dtype=torch.float64) * 0.15).requires_grad_()
    (ref, _), (out, _) = _both(model, x, loss=lambda y, h, c: y.square().sum())
    assert len(ref) == 3 + 1 + 4
    for a, b in zip(ref, out, strict=True):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)


@compiled_only
def test_compiled_ideal_crossbar_equals_torch_lstm_values_and_gradients():
    lstm = nn.LSTM(5, 8, num_layers=2, batch_first=True).double()
    model = AnalogLSTM.from_torch(lstm, CrossbarConfig.ideal()).double()
    model.load_state_dict(lstm.state_dict(), strict=False)  # float64 weights, not rounded
    model.path = "compiled"
    x = _x(dtype=torch.float64)
    y, (h, c) = model(x)
    y_ref, (h_ref, c_ref) = lstm(x)
    for a, b in ((y, y_ref), (h, h_ref), (c, c_ref)):
        assert torch.allclose(a, b, rtol=0, atol=1e-12)
    y.square().sum().backward()
    y_ref.square().sum().backward()
    for (name, p), q in zip(model.named_parameters(), lstm.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, rtol=0, atol=1e-12), name


@compiled_only
def test_auto_takes_the_kernel_and_reference_forces_torch(monkeypatch):
    calls = []
    original = kernel.forward

    def counting(*args, **kwargs):
        calls.append(1)
        return original(*args, **kwargs)

    monkeypatch.setattr(kernel, "forward", counting)
    model = AnalogLSTM(5, 8, num_layers=2, config=NL5).eval()
    with torch.no_grad():
        model(_x())
        assert len(calls) == 2  # one call per layer
        model.path = "reference"
        model(_x())
        assert len(calls) == 2
        # comparator noise draws from a torch generator per conversion: auto runs torch
        noisy = AnalogLSTM(5, 8, config=dataclasses.replace(NL5, adc_noise_lsb=0.5)).eval()
        noisy(_x())
        assert len(calls) == 2
        noisy.path = "compiled"
        with pytest.raises(ValueError, match="no comparator noise"):
            noisy(_x())


def test_missing_compiler_falls_back_to_the_reference_once(forget_build):
    forget_build(kernel.LIBRARY, "no C compiler found (test)")
    model = AnalogLSTM(5, 8, config=dataclasses.replace(NL5, read_noise_rel=0.0)).eval()
    x = _x()
    with torch.no_grad():
        with pytest.warns(RuntimeWarning, match="fused analog LSTM kernel unavailable"):
            y = model(x)[0]
        model.path = "reference"
        assert torch.equal(y, model(x)[0])
        model.path = "compiled"
        with pytest.raises(ValueError, match="no C compiler found"):
            model(x)


def test_bad_path_and_dtype():
    with pytest.raises(ValueError, match="path='fast' is unknown"):
        AnalogLSTM(5, 8, path="fast")
    model = AnalogLSTM(5, 8, config=NL5, path="compiled")
    with pytest.raises(ValueError, match="float32/float64 CPU tensors, got torch.bfloat16"):
        model(torch.zeros(2, 3, 5, dtype=torch.bfloat16))
    bad = (torch.zeros(1, 3, 8), torch.zeros(1, 2, 8))  # h0 for batch 3, input batch 2
    with pytest.raises(ValueError, match=r"state must be a pair \(h0, c0\) of tensors of shape "
                                         r"\(1, 2, 8\)"):
        model(torch.zeros(2, 3, 5), bad)
