"""FusedAnalogLSTM: the compiled time loop against the per-step torch reference (values, read
noise, straight-through gradients), the ideal analog LSTM against torch.nn.LSTM, the nonlinear
ramp thresholds against their closed forms, seeds, the fallback and bad input."""

import dataclasses
import math

import pytest
import torch
from torch import nn

from analog import CrossbarConfig
from analog import fused_cell_kernel as kernel
from analog.fused_cell import FusedAnalogLSTM, nl_adc_table

IDEAL = CrossbarConfig.ideal()
REAL = CrossbarConfig.rram_realistic()
# realistic without read noise, with comparator offsets so the per-column thresholds differ
QUIET = dataclasses.replace(REAL, read_noise_rel=0.0, adc_offset_lsb=0.3)
TOL = {torch.float32: 1e-5, torch.float64: 1e-12}

compiled_only = pytest.mark.skipif(kernel.unavailable_reason(torch.float32) is not None,
                                   reason=f"no fused analog kernel: "
                                          f"{kernel.unavailable_reason(torch.float32)}")


def _x(batch=4, steps=9, inputs=5, dtype=torch.float32, scale=2.0, seed=0):
    gen = torch.Generator().manual_seed(seed)
    return (torch.randn(batch, steps, inputs, generator=gen) * scale).to(dtype)


def _run(model, path, x, state=None, noise_seed=11, train_seed=12):
    """Output and final state of ``model`` on ``path``, its noise streams reset first."""
    model.path = path
    model._noise_gen.manual_seed(noise_seed)
    model._train_gen.manual_seed(train_seed)
    y, (h, c) = model(x, state)
    return y, h, c


def test_thresholds_sit_at_the_inverse_of_the_activation():
    thr, levels = nl_adc_table("sigmoid", 5)
    k = torch.arange(1, 32, dtype=torch.float64)
    assert thr.shape == (31,) and levels.shape == (32,)
    assert torch.allclose(1 / (1 + torch.exp(-thr)), k / 32, atol=1e-15)
    # the 5-bit sigmoid ramp spans +-ln(31) = +-3.434
    assert thr[-1].item() == pytest.approx(math.log(31), abs=1e-12)
    assert thr[0].item() == pytest.approx(-math.log(31), abs=1e-12)
    assert torch.allclose(levels, (torch.arange(32, dtype=torch.float64) + 0.5) / 32)
    thr_t, levels_t = nl_adc_table("tanh", 3)
    assert torch.allclose(torch.tanh(thr_t), 2 * torch.arange(1, 8, dtype=torch.float64) / 8 - 1,
                          atol=1e-15)
    assert levels_t[0].item() == -7 / 8 and levels_t[-1].item() == 7 / 8


@pytest.mark.parametrize("path", ["reference", pytest.param("compiled", marks=compiled_only)])
def test_ideal_crossbar_with_exact_activations_equals_torch_lstm(path):
    lstm = nn.LSTM(5, 12, num_layers=2, batch_first=True)
    model = FusedAnalogLSTM.from_lstm(lstm, config=IDEAL, bits=None, path=path).eval()
    x = _x()
    gen = torch.Generator().manual_seed(3)
    state = (torch.randn(2, 4, 12, generator=gen) * 0.5, torch.randn(2, 4, 12, generator=gen))
    y, (h, c) = model(x, state)
    y_ref, (h_ref, c_ref) = lstm(x, state)
    assert torch.allclose(y, y_ref, atol=1e-5) and torch.allclose(c, c_ref, atol=1e-5)
    assert torch.allclose(h, h_ref, atol=1e-5)


def test_one_step_gates_are_the_quantized_activations():
    """On an ideal crossbar, one step from zero state: h = o * tanh(i * g) with each gate the
    5-bit level (floor(32 f(a)) + 1/2) / 32 of the float pre-activation (codes that sit on a
    threshold within float rounding may differ: at most a few of them)."""
    lstm = nn.LSTM(5, 16, batch_first=True).double()
    model = FusedAnalogLSTM.from_lstm(lstm, config=IDEAL, bits=5, path="reference").eval()
    x = _x(batch=64, steps=1, dtype=torch.float64)
    a = x[:, 0] @ lstm.weight_ih_l0.T + lstm.bias_ih_l0 + lstm.bias_hh_l0
    ai, _, ag, ao = a.chunk(4, 1)

    def level(f):
        return ((f * 32).floor().clamp(0, 31) + 0.5) / 32

    i, o = level(torch.sigmoid(ai)), level(torch.sigmoid(ao))
    g = 2 * level((torch.tanh(ag) + 1) / 2) - 1
    expected = o * torch.tanh(i * g)
    y, _ = model(x)
    assert (y[:, 0] - expected).abs().gt(1e-12).sum() <= 3
    assert expected.unique().numel() > 50  # the staircase is exercised


@compiled_only
@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("config,bits", [(QUIET, 5), (REAL, 5), (REAL, 3), (REAL, None),
                                         (dataclasses.replace(REAL, dac_range=2.5), 4)],
                         ids=["quiet-5bit", "noisy-5bit", "noisy-3bit", "noisy-exact",
                              "fixed-dac-range"])
def test_compiled_equals_reference(dtype, config, bits):
    model = FusedAnalogLSTM(5, 16, num_layers=2, config=config, bits=bits, seed=4).to(dtype)
    model.eval()
    x = _x(dtype=dtype)
    gen = torch.Generator().manual_seed(5)
    state = tuple((torch.rand(2, 4, 16, generator=gen) * 2.4 - 1.2).to(dtype) for _ in "hc")
    ref = _run(model, "reference", x, state)
    out = _run(model, "compiled", x, state)
    for a, b in zip(ref, out, strict=True):
        assert torch.allclose(a, b, rtol=0, atol=TOL[dtype])
    # a real staircase, not a constant output
    assert ref[0].unique().numel() > 100


@compiled_only
def test_read_noise_is_fresh_per_call_and_absent_without_noise():
    x = _x()
    noisy = FusedAnalogLSTM(5, 8, config=REAL, seed=1).eval()
    y1, y2 = noisy(x)[0], noisy(x)[0]
    assert not torch.equal(y1, y2)
    quiet = FusedAnalogLSTM(5, 8, config=QUIET, seed=1).eval()
    assert torch.equal(quiet(x)[0], quiet(x)[0])


@pytest.mark.parametrize("path", ["reference", pytest.param("compiled", marks=compiled_only)])
def test_same_seed_same_model_different_seed_different(path):
    x = _x()
    a = FusedAnalogLSTM(5, 8, config=REAL, seed=7, path=path).eval()
    b = FusedAnalogLSTM(5, 8, config=REAL, seed=7, path=path).eval()
    c = FusedAnalogLSTM(5, 8, config=REAL, seed=8, path=path).eval()
    assert torch.equal(a(x)[0], b(x)[0])
    assert torch.equal(a.weight_hh_l0, b.weight_hh_l0)
    assert not torch.equal(a.weight_hh_l0, c.weight_hh_l0)
    # same weights, different seed: different programmed devices
    c.load_state_dict(a.state_dict())
    assert not torch.equal(a.programmed()[0].wh, c.programmed()[0].wh)


@compiled_only
@pytest.mark.parametrize("bits", [5, None])
def test_training_gradients_of_compiled_equal_reference(bits):
    dtype = torch.float64
    model = FusedAnalogLSTM(5, 8, num_layers=2, config=REAL, bits=bits, seed=2).to(dtype)
    model.train()
    x = _x(dtype=dtype).requires_grad_()
    gen = torch.Generator().manual_seed(6)
    h0, c0 = (torch.randn(2, 4, 8, generator=gen, dtype=dtype).requires_grad_() for _ in "hc")
    grads = {}
    for path in ("reference", "compiled"):
        model.zero_grad()
        x.grad = h0.grad = c0.grad = None
        y, h, c = _run(model, path, x, (h0, c0))
        (y.square().sum() + 0.3 * h.sum() + 0.7 * c.sum()).backward()
        grads[path] = [x.grad, h0.grad, c0.grad] + [p.grad for p in model.parameters()]
    for a, b in zip(grads["reference"], grads["compiled"], strict=True):
        assert torch.allclose(a, b, rtol=0, atol=1e-10)
        assert a.abs().max() > 0


@pytest.mark.parametrize("path", ["reference", pytest.param("compiled", marks=compiled_only)])
def test_ideal_training_gradients_equal_torch_lstm(path):
    """Ideal crossbar, exact activations: the straight-through gradients are the float
    LSTM's."""
    lstm = nn.LSTM(5, 8, batch_first=True).double()
    model = FusedAnalogLSTM.from_lstm(lstm, config=IDEAL, bits=None, path=path).train()
    x = _x(dtype=torch.float64)
    model(x)[0].square().sum().backward()
    lstm(x)[0].square().sum().backward()
    for (name, p), q in zip(model.named_parameters(), lstm.parameters(), strict=True):
        assert torch.allclose(p.grad, q.grad, atol=1e-10), name


@compiled_only
def test_training_reprograms_each_forward_eval_programs_once():
    x = _x()
    model = FusedAnalogLSTM(5, 8, config=QUIET, seed=3).eval()
    first = model.programmed()[0].wh
    model(x)
    assert model.programmed()[0].wh is first
    model.train()
    with torch.no_grad():
        y1, y2 = model(x)[0], model(x)[0]
    assert not torch.equal(y1, y2)  # new programming noise each training forward


def test_missing_compiler_falls_back_to_the_reference_once(forget_build):
    forget_build(kernel.LIBRARY, "no C compiler found (test)")
    model = FusedAnalogLSTM(5, 8, config=QUIET, seed=3).eval()
    x = _x()
    with pytest.warns(RuntimeWarning, match="fused analog LSTM kernel unavailable"):
        y = model(x)[0]
    model.path = "reference"
    assert torch.equal(y, model(x)[0])
    model.path = "compiled"
    with pytest.raises(RuntimeError, match="no C compiler found"):
        model(x)


@pytest.mark.parametrize("kwargs,error,match", [
    ({"bits": 0}, ValueError, "bits=0 is not allowed"),
    ({"bits": 13}, ValueError, r"\[1, 12\]"),
    ({"bits": 2.0}, ValueError, "bits=2.0"),
    ({"path": "fast"}, ValueError, "path='fast' is unknown"),
    ({"config": "rram"}, TypeError, "config must be a CrossbarConfig"),
    ({"hidden_size": 0}, ValueError, "hidden_size=0"),
])
def test_bad_arguments(kwargs, error, match):
    args = {"input_size": 5, "hidden_size": 8, **kwargs}
    with pytest.raises(error, match=match):
        FusedAnalogLSTM(**args)


def test_bad_input_and_state():
    model = FusedAnalogLSTM(5, 8)
    with pytest.raises(ValueError, match=r"expected \(batch, time, 5\)"):
        model(torch.zeros(2, 3, 4))
    with pytest.raises(ValueError, match=r"state must be a pair \(h0, c0\)"):
        model(torch.zeros(2, 3, 5), (torch.zeros(1, 2, 8),))
    with pytest.raises(ValueError, match="path='compiled' needs float32/float64"):
        FusedAnalogLSTM(5, 8, path="compiled")(torch.zeros(2, 3, 5, dtype=torch.bfloat16))
    with pytest.raises(ValueError, match="unidirectional"):
        FusedAnalogLSTM.from_lstm(nn.LSTM(5, 8, bidirectional=True))
