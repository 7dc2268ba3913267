"""The flat-buffer optimizers against torch.optim with the same settings."""

import copy

import pytest
import torch
from torch import nn

from experiments.train import optimizer_step
from kernels.optim import ADAM_BETAS, ADAM_EPS, RMSPROP_ALPHA, RMSPROP_EPS, FlatOptimizer

TORCH = {
    "rmsprop": lambda p, lr, wd: torch.optim.RMSprop(p, lr=lr, alpha=RMSPROP_ALPHA,
                                                     eps=RMSPROP_EPS, weight_decay=wd),
    "adam": lambda p, lr, wd: torch.optim.Adam(p, lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS,
                                               weight_decay=wd),
    "sgd": lambda p, lr, wd: torch.optim.SGD(p, lr=lr, weight_decay=wd),
}


class _Net(nn.Module):
    """Tensors of several shapes, one used only on some steps (its gradient is then None)."""

    def __init__(self):
        super().__init__()
        self.a = nn.Linear(3, 4)
        self.b = nn.Linear(4, 2)
        self.sometimes = nn.Parameter(torch.randn(2))
        self.frozen = nn.Parameter(torch.randn(2), requires_grad=False)

    def forward(self, x, use_sometimes: bool):
        y = self.b(torch.tanh(self.a(x))) + self.frozen
        return y * self.sometimes if use_sometimes else y


def _train(net, optimizer, steps, clip, skip_every):
    gen = torch.Generator().manual_seed(1)
    for step in range(steps):
        x = torch.randn(5, 3, generator=gen, dtype=torch.float64)
        loss = net(x, use_sometimes=(step + 1) % skip_every != 0).pow(2).sum()
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        optimizer_step(optimizer, list(net.parameters()), clip)


@pytest.mark.parametrize("kind", ["rmsprop", "adam", "sgd"])
@pytest.mark.parametrize("weight_decay", [0.0, 0.01])
@pytest.mark.parametrize("clip", [0.0, 0.5])
@pytest.mark.parametrize("skip_every", [1000, 3])
def test_flat_updates_equal_torch_optim(kind, weight_decay, clip, skip_every):
    torch.manual_seed(0)
    ref = _Net().double()
    flat = copy.deepcopy(ref)
    torch_opt = TORCH[kind](ref.parameters(), 0.05, weight_decay)
    flat_opt = FlatOptimizer(flat.parameters(), kind, lr=0.05, weight_decay=weight_decay)
    before = {k: v.clone() for k, v in ref.state_dict().items()}
    _train(ref, torch_opt, 25, clip, skip_every)
    _train(flat, flat_opt, 25, clip, skip_every)
    for name, value in ref.state_dict().items():
        torch.testing.assert_close(flat.state_dict()[name], value, rtol=1e-12, atol=1e-12)
        if name != "frozen":  # every trainable tensor moved, the frozen one did not
            assert not torch.equal(value, before[name]), name
    assert torch.equal(flat.frozen, before["frozen"])


def test_parameters_are_views_of_one_buffer_and_load_state_dict_reaches_it():
    net = _Net().double()
    opt = FlatOptimizer(net.parameters(), "sgd", lr=0.1)
    assert opt.flat.numel() == sum(p.numel() for p in net.parameters() if p.requires_grad)
    state = {k: torch.full_like(v, 0.25) for k, v in net.state_dict().items()}
    net.load_state_dict(state)
    trainable = sum(p.numel() for p in net.parameters() if p.requires_grad)
    assert torch.equal(opt.flat, torch.full((trainable,), 0.25, dtype=torch.float64))


@pytest.mark.parametrize("drop", [False, True])
def test_every_step_bumps_the_version_of_each_updated_parameter(drop):
    """Caches keyed on ``_version`` (programmed crossbars) must see every step, as with
    torch.optim's in-place updates; a parameter without a gradient is not updated."""
    net = _Net().double()
    opt = FlatOptimizer(net.parameters(), "rmsprop", lr=0.01)
    before = {name: p._version for name, p in net.named_parameters()}
    x = torch.randn(5, 3, dtype=torch.float64)
    net(x, use_sometimes=not drop).pow(2).sum().backward()
    opt.step()
    bumped = {name for name, p in net.named_parameters() if p._version > before[name]}
    expected = {"a.weight", "a.bias", "b.weight", "b.bias"} | (set() if drop else {"sometimes"})
    assert bumped == expected


def test_bad_input_is_refused():
    mixed = [nn.Parameter(torch.zeros(2)), nn.Parameter(torch.zeros(2, dtype=torch.float64))]
    with pytest.raises(ValueError, match="one dtype and device"):
        FlatOptimizer(mixed, "adam", lr=0.1)
    with pytest.raises(ValueError, match="allowed: adam, rmsprop, sgd"):
        FlatOptimizer([nn.Parameter(torch.zeros(2))], "lbfgs", lr=0.1)
