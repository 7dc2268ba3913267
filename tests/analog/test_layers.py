"""AnalogLinear and to_analog: conversion, static programming, read noise per pass,
straight-through gradients for hardware-aware training."""

import copy
import dataclasses

import pytest
import torch
from torch import nn

from analog import AnalogLinear, CrossbarConfig, to_analog

IDEAL = CrossbarConfig.ideal()
REAL = CrossbarConfig.rram_realistic()


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(nn.Linear(6, 16), nn.Tanh(), nn.Sequential(nn.Linear(16, 8)))
        self.attn = nn.MultiheadAttention(8, 2, batch_first=True)
        self.head = nn.Linear(8, 3)

    def forward(self, x):
        h = self.body(x)
        h = h + self.attn(h, h, h, need_weights=False)[0]
        return self.head(h)


def _net(seed=0):
    torch.manual_seed(seed)
    return Net().eval()


def test_to_analog_converts_every_linear_and_keeps_original():
    net = _net()
    before = copy.deepcopy(net.state_dict())
    converted = to_analog(net, IDEAL, seed=1)
    analog = [m for m in converted.modules() if isinstance(m, AnalogLinear)]
    assert len(analog) == 3  # body x2 and head
    # MultiheadAttention keeps its out_proj (a Linear subclass read directly by its parent)
    assert type(converted.attn.out_proj) is not AnalogLinear
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())
    assert not any(isinstance(m, AnalogLinear) for m in net.modules())
    x = torch.randn(4, 5, 6)
    with torch.no_grad():
        assert torch.allclose(converted(x), net(x), atol=1e-5)


def test_layer_seeds_differ_and_conversion_is_reproducible():
    net = _net()
    a, b, c = to_analog(net, REAL, seed=3), to_analog(net, REAL, seed=3), to_analog(net, REAL, 4)
    seeds = [m.seed for m in a.modules() if isinstance(m, AnalogLinear)]
    assert len(set(seeds)) == len(seeds)
    x = torch.randn(2, 5, 6)
    with torch.no_grad():
        ya, yb, yc = a(x), b(x), c(x)
    assert torch.equal(ya, yb)
    assert not torch.allclose(ya, yc)


def test_whole_model_linear_and_float64():
    lin = nn.Linear(5, 4).double()
    converted = to_analog(lin, IDEAL)
    assert isinstance(converted, AnalogLinear) and converted.weight.dtype == torch.float64
    x = torch.randn(3, 5, dtype=torch.float64)
    with torch.no_grad():
        assert torch.allclose(converted.eval()(x), lin(x), atol=1e-12)


def test_eval_programming_is_static_and_read_noise_is_per_pass():
    lin = nn.Linear(20, 10)
    no_read = dataclasses.replace(REAL, read_noise_rel=0.0)
    layer = AnalogLinear.from_linear(lin, no_read, seed=5).eval()
    x = torch.randn(8, 20)
    with torch.no_grad():
        first, second = layer(x), layer(x)
        assert torch.equal(first, second)  # static devices, no read noise
        assert not torch.allclose(first, lin(x), atol=1e-3)  # but programmed with errors
        noisy = AnalogLinear.from_linear(lin, REAL, seed=5).eval()
        assert not torch.equal(noisy(x), noisy(x))


def test_reprograms_when_weights_change():
    lin = nn.Linear(7, 3)
    layer = AnalogLinear.from_linear(lin, IDEAL).eval()
    x = torch.randn(4, 7)
    with torch.no_grad():
        layer(x)
        layer.weight.mul_(-2.0)
        assert torch.allclose(layer(x), x @ layer.weight.t() + layer.bias, atol=1e-5)


def test_straight_through_gradients_equal_float_gradients():
    lin = nn.Linear(12, 6)
    layer = AnalogLinear.from_linear(lin, REAL, seed=2).train()
    x = torch.randn(9, 12, requires_grad=True)
    x_ref = x.detach().clone().requires_grad_(True)
    g = torch.randn(9, 6)
    y = layer(x)
    (y * g).sum().backward()
    (lin(x_ref) * g).sum().backward()
    assert not torch.allclose(y, lin(x_ref), atol=1e-3)  # the forward pass is analog
    assert torch.allclose(layer.weight.grad, lin.weight.grad, atol=1e-6)
    assert torch.allclose(layer.bias.grad, lin.bias.grad, atol=1e-6)
    assert torch.allclose(x.grad, x_ref.grad, atol=1e-6)
    with torch.no_grad():
        assert not torch.equal(layer(x), layer(x))  # fresh programming every training pass


def test_hardware_aware_training_reduces_loss():
    gen = torch.Generator().manual_seed(0)
    target = torch.randn(4, 10, generator=gen)
    x = torch.rand(64, 10, generator=gen) * 2 - 1
    y = x @ target.t()
    layer = AnalogLinear(10, 4, dataclasses.replace(REAL, adc_bits=8), seed=1).train()
    opt = torch.optim.Adam(layer.parameters(), lr=0.05)
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = (layer(x) - y).square().mean()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.2 * losses[0]


def test_state_dict_is_the_float_layers():
    layer = AnalogLinear(5, 2, IDEAL, seed=0)
    lin = nn.Linear(5, 2)
    lin.load_state_dict(layer.state_dict())
    assert torch.equal(lin.weight, layer.weight)
    clone = copy.deepcopy(layer).eval()
    x = torch.randn(3, 5)
    with torch.no_grad():
        assert torch.allclose(clone(x), lin(x), atol=1e-5)


def test_bad_input():
    layer = AnalogLinear(5, 2, IDEAL)
    with pytest.raises(ValueError, match=r"input has shape \(3, 4\): expected \(\.\.\., 5\)"):
        layer(torch.randn(3, 4))
    with pytest.raises(TypeError, match="config must be a CrossbarConfig"):
        AnalogLinear(5, 2, {"levels": 3})
    with pytest.raises(ValueError, match="in_features=0"):
        AnalogLinear(0, 2, IDEAL)
    with pytest.raises(ValueError, match="seed=-1"):
        to_analog(nn.Linear(2, 2), IDEAL, seed=-1)
    bad = nn.Linear(3, 3)
    with torch.no_grad():
        bad.weight[0, 0] = float("nan")
    with pytest.raises(ValueError, match="weight contains 1 NaN/inf"):
        to_analog(bad, IDEAL)
