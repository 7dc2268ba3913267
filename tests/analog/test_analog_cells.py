"""Analog LSTM/GRU/Elman: ideal equals torch.nn, conversion from trained models, the two
activation styles, hardware-aware training, seeds, bad input."""

import dataclasses

import pytest
import torch
from torch import nn

from analog import CrossbarConfig
from analog.cells import AnalogElman, AnalogGRU, AnalogLSTM
from classical import GRU as ClassicalGRU
from classical import LSTM as ClassicalLSTM
from classical import Elman as ClassicalElman

IDEAL = CrossbarConfig.ideal()
REAL = dataclasses.replace(CrossbarConfig(), dac_range=4.0)  # 5-bit ramp ADC, 2% programming
PAIRS = [(nn.LSTM, AnalogLSTM), (nn.GRU, AnalogGRU), (nn.RNN, AnalogElman)]


def _x(batch=3, time=6, features=5, seed=0):
    return torch.randn(batch, time, features, generator=torch.Generator().manual_seed(seed))


@pytest.mark.parametrize(("torch_cls", "analog_cls"), PAIRS)
def test_ideal_config_equals_torch_nn_with_the_same_weights(torch_cls, analog_cls):
    torch.manual_seed(1)
    ref = torch_cls(5, 7, num_layers=2, batch_first=True)
    model = analog_cls.from_torch(ref, IDEAL).eval()
    x = _x()
    state = tuple(torch.randn(2, 3, 7) for _ in range(2 if torch_cls is nn.LSTM else 1))
    state = state if torch_cls is nn.LSTM else state[0]
    for s in (None, state):
        y_ref, s_ref = ref(x, s)
        y, s_out = model(x, s)
        assert torch.allclose(y, y_ref, atol=1e-5)
        for a, b in zip(torch.utils._pytree.tree_leaves(s_out),
                        torch.utils._pytree.tree_leaves(s_ref), strict=True):
            assert torch.allclose(a, b, atol=1e-5)


def test_conversion_from_a_trained_classical_model_keeps_its_outputs():
    for classical_cls, analog_cls in ((ClassicalLSTM, AnalogLSTM), (ClassicalGRU, AnalogGRU),
                                      (ClassicalElman, AnalogElman)):
        torch.manual_seed(2)
        trained = classical_cls(5, 6, num_layers=2)
        model = analog_cls.from_torch(trained.state_dict(), IDEAL)
        assert torch.allclose(model(_x())[0], trained(_x())[0], atol=1e-5)


def test_ideal_training_gradients_equal_torch_nn():
    torch.manual_seed(3)
    ref = nn.LSTM(5, 4, batch_first=True)
    model = AnalogLSTM.from_torch(ref, IDEAL).train()
    x = _x()
    ref(x)[0].square().sum().backward()
    model(x)[0].square().sum().backward()
    for name, p in ref.named_parameters():
        assert torch.allclose(getattr(model, name).grad, p.grad, atol=1e-5)


def test_nl_adc_cell_is_closer_to_float_than_linear_adc_at_the_same_bits():
    torch.manual_seed(4)
    ref = nn.LSTM(5, 16, batch_first=True)
    x = _x(8, 10)
    y = ref(x)[0]
    err = {}
    for style, kind in (("nl_adc", "nl_ramp"), ("digital", "ramp")):
        config = dataclasses.replace(REAL, adc_kind=kind, prog_noise_rel=0.0, read_noise_rel=0.0,
                                     stuck_on_rate=0.0, stuck_off_rate=0.0)
        model = AnalogLSTM.from_torch(ref, config, activation=style).eval()
        err[style] = float((model(x)[0] - y).detach().square().mean().sqrt())
    assert 0 < err["nl_adc"] < 0.5 * err["digital"]


def test_hardware_aware_training_reprograms_and_learns():
    config = dataclasses.replace(REAL, adc_kind="nl_ramp", read_noise_rel=0.0)
    model = AnalogLSTM(3, 8, config=config, seed=0).train()
    x = _x(16, 8, 3, seed=5)
    target = x.sum(dim=(1, 2)).sign().unsqueeze(1)
    with torch.no_grad():
        assert not torch.equal(model(x)[0], model(x)[0])  # fresh programming each pass
    head = nn.Linear(8, 1)
    opt = torch.optim.Adam([*model.parameters(), *head.parameters()], lr=0.05)
    losses = []
    for _ in range(20):
        opt.zero_grad()
        loss = (head(model(x)[0][:, -1]) - target).square().mean()
        loss.backward()
        assert all(torch.isfinite(p.grad).all() for p in model.parameters())
        opt.step()
        losses.append(loss.item())
    assert sum(losses[-5:]) / 5 < 0.5 * sum(losses[:5]) / 5


def test_same_seed_same_model_different_seed_different():
    config = dataclasses.replace(REAL, adc_kind="nl_ramp", adc_offset_lsb=0.3)
    x = _x()
    outs = [AnalogGRU(5, 6, config=config, seed=s).eval()(x)[0] for s in (7, 7, 8)]
    assert torch.equal(outs[0], outs[1]) and not torch.equal(outs[0], outs[2])


def test_bad_input_is_one_line():
    with pytest.raises(ValueError, match="activation='nl_adc' needs adc_kind 'nl_ramp' or "
                                         "'ideal', got 'ramp'"):
        AnalogLSTM(3, 4, config=REAL, activation="nl_adc")
    with pytest.raises(ValueError, match="activation='sparse' is unknown; allowed: nl_adc, "
                                         "digital"):
        AnalogLSTM(3, 4, config=REAL, activation="sparse")
    with pytest.raises(ValueError, match="a AnalogLSTM needs"):
        AnalogLSTM.from_torch(nn.GRU(3, 4), IDEAL)
    with pytest.raises(ValueError, match="holds no weight_ih_l0"):
        AnalogElman.from_torch({"weight": torch.zeros(2, 2)}, IDEAL)
    tall = dataclasses.replace(IDEAL, preact_summation="single_tile", tile_rows=8)
    with pytest.raises(ValueError, match="analog_lstm layer 0 has 9 rows"):
        AnalogLSTM(4, 4, config=tall)
    with pytest.raises(ValueError, match=r"x has shape \(2, 3\); expected \(batch, time, 3\)"):
        AnalogElman(3, 4, config=IDEAL)(torch.zeros(2, 3))


@pytest.mark.parametrize(("torch_cls", "analog_cls"), PAIRS)
def test_hardware_off_runs_torch_nn_exactly_and_on_again_the_crossbars(torch_cls, analog_cls):
    torch.manual_seed(2)
    ref = torch_cls(5, 7, num_layers=2, batch_first=True)
    model = analog_cls.from_torch(ref, REAL)
    x = _x()
    hardware = model(x)[0].detach()
    model.set_hardware(False)
    y, state = model(x)
    y_ref, state_ref = ref(x)
    assert torch.equal(y, y_ref)  # the same kernel on the same tensors: bit-identical
    for a, b in zip(torch.utils._pytree.tree_leaves(state),
                    torch.utils._pytree.tree_leaves(state_ref), strict=True):
        assert torch.equal(a, b)
    y.pow(2).sum().backward()
    y_ref.pow(2).sum().backward()
    for name, p in ref.named_parameters():
        torch.testing.assert_close(getattr(model, name).grad, p.grad, rtol=0, atol=1e-6)
    model.set_hardware(True)
    again = model(x)[0].detach()
    assert (again - y_ref).abs().max() > 1e-3 and (hardware - y_ref).abs().max() > 1e-3
    with pytest.raises(TypeError, match="set_hardware takes True or False, got 'no'"):
        model.set_hardware("no")
