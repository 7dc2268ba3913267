"""The trainer's float-then-hardware protocol (``TrainConfig.float_epochs``): a float network
trained in place, converted, scored, then fine-tuned hardware-aware in one run."""

import dataclasses
import subprocess
import sys

import pytest
import torch
from torch import nn

from analog import AnalogLSTM, CrossbarConfig
from experiments.heads import SequenceModel
from experiments.runner import RunSpec
from experiments.tasks.base import Split, TaskData
from experiments.train import TrainConfig, evaluate, fit

HIDDEN, FEATURES, CLASSES = 6, 3, 3


def _task() -> TaskData:
    """Three classes told apart by the sign pattern of a noisy mean input (learnable)."""
    gen = torch.Generator().manual_seed(5)

    def split(n):
        y = torch.randint(0, CLASSES, (n,), generator=gen)
        x = torch.randn(n, 7, FEATURES, generator=gen) * 0.5
        x[..., 0] += (y.float() - 1).unsqueeze(1)
        return Split(x, y)

    return TaskData("toy", "quick", "classification", "accuracy", "toy", FEATURES, CLASSES,
                    split(96), split(32), split(48))


class TorchLSTM(nn.Module):
    """The reference body: ``torch.nn.LSTM`` itself."""

    def __init__(self) -> None:
        super().__init__()
        self.lstm = nn.LSTM(FEATURES, HIDDEN, batch_first=True)

    def forward(self, x, state=None):
        return self.lstm(x, state)


def _pair(seed=0):
    """An analog LSTM model (5-bit NL-ADC, 2% programming noise, no read noise: inference is
    deterministic) and a torch.nn.LSTM model holding the same weights and head."""
    config = dataclasses.replace(CrossbarConfig.rram_realistic(), adc_kind="nl_ramp",
                                 prog_noise_rel=0.02, read_noise_rel=0.0)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)  # the head's initialisation
        analog = SequenceModel(AnalogLSTM(FEATURES, HIDDEN, config=config, seed=seed), HIDDEN,
                               CLASSES, "classification")
    ref = SequenceModel(TorchLSTM(), HIDDEN, CLASSES, "classification")
    ref.body.lstm.load_state_dict({k: v for k, v in analog.body.state_dict().items()
                                   if not k.startswith("converters.")})
    ref.head.load_state_dict(analog.head.state_dict())
    return analog, ref


def _lstm_weights(model):
    body = model.body.lstm if isinstance(model.body, TorchLSTM) else model.body
    return {n: getattr(body, n).detach().clone()
            for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0")}


def test_the_float_phase_trains_exactly_what_torch_nn_lstm_trains():
    task = _task()
    analog, ref = _pair()
    plain = TrainConfig(epochs=3, batch_size=16, lr=0.02)
    result = fit(analog, task, TrainConfig(epochs=3, batch_size=16, lr=0.02, float_epochs=3),
                 seed=4, quiet=True)
    expected = fit(ref, task, plain, seed=4, quiet=True)
    got, want = _lstm_weights(analog), _lstm_weights(ref)
    start = _lstm_weights(_pair()[0])
    for name in want:
        assert not torch.allclose(want[name], start[name])  # training moved the weights
        torch.testing.assert_close(got[name], want[name], rtol=0, atol=1e-6)
    torch.testing.assert_close(analog.head.weight, ref.head.weight, rtol=0, atol=1e-6)
    assert [h["phase"] for h in result.history] == ["float"] * 3
    assert [h["val_loss"] for h in result.history] == pytest.approx(
        [h["val_loss"] for h in expected.history], abs=1e-6)
    # the float metric is the torch.nn model's; the converted one is the hardware's, and with
    # no fine-tuning epoch left it is the run's result; the body is left on its hardware
    assert result.metrics["float_accuracy"] == pytest.approx(expected.metrics["accuracy"])
    assert result.metrics["float_cross_entropy"] == pytest.approx(
        expected.metrics["cross_entropy"], abs=1e-5)
    assert analog.body.hardware is True
    after = evaluate(analog, "classification", task.test)
    assert result.metrics["converted_cross_entropy"] == pytest.approx(after["cross_entropy"])
    assert result.metrics["cross_entropy"] == pytest.approx(after["cross_entropy"])
    assert after["cross_entropy"] != pytest.approx(expected.metrics["cross_entropy"], abs=1e-4)


def test_fine_tuning_runs_on_the_hardware_at_its_own_learning_rate():
    task = _task()
    analog, _ = _pair()
    float_only, _ = _pair()
    fit(float_only, task, TrainConfig(epochs=2, batch_size=16, lr=0.02, float_epochs=2),
        seed=1, quiet=True)
    seen = []
    forward = AnalogLSTM.forward

    def spy(self, x, state=None):
        seen.append(self.hardware)
        return forward(self, x, state)

    config = TrainConfig(epochs=4, batch_size=16, lr=0.02, float_epochs=2, finetune_lr=1e-9)
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(AnalogLSTM, "forward", spy)
        result = fit(analog, task, config, seed=1, quiet=True)
    assert [h["phase"] for h in result.history] == ["float", "float", "hardware", "hardware"]
    assert result.epochs_run == 4 and result.best_epoch in (3, 4)
    assert False in seen and True in seen and seen.index(True) > seen.index(False)
    # lr 1e-9 after conversion: the fine-tuned weights are the float phase's
    for name, w in _lstm_weights(float_only).items():
        torch.testing.assert_close(_lstm_weights(analog)[name], w, rtol=0, atol=1e-6)
    assert {"float_accuracy", "converted_accuracy", "accuracy"} <= set(result.metrics)


def test_bad_float_phase_settings_fail_with_one_line():
    for kwargs, words in (({"float_epochs": -1}, "float_epochs=-1"),
                          ({"epochs": 2, "float_epochs": 3}, "[0, epochs=2]"),
                          ({"float_epochs": 1.5}, "float_epochs=1.5"),
                          ({"finetune_lr": 0.001}, "needs float_epochs >= 1"),
                          ({"float_epochs": 1, "finetune_lr": 0.0}, "finetune_lr=0.0")):
        with pytest.raises(ValueError) as err:
            TrainConfig(**kwargs)
        assert words in str(err.value) and "\n" not in str(err.value)


def test_a_body_without_the_hook_is_refused_before_training():
    _, ref = _pair()
    before = _lstm_weights(ref)
    with pytest.raises(ValueError, match="set_hardware.*TorchLSTM has none"):
        fit(ref, _task(), TrainConfig(epochs=2, float_epochs=1), quiet=True)
    for name, w in _lstm_weights(ref).items():
        assert torch.equal(w, before[name])


def test_the_cli_refuses_float_epochs_for_a_float_model_in_one_line(tmp_path):
    cmd = [sys.executable, "-m", "experiments.cli", "train", "--model", "lstm", "--task",
           "digits_rows", "--epochs", "2", "--float-epochs", "1", "--store",
           str(tmp_path / "s.sqlite")]
    out = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert out.stderr.strip().count("\n") == 0 and "set_hardware" in out.stderr


def test_runs_without_the_setting_keep_their_configuration_hash():
    plain = RunSpec("analog_lstm", "digits_rows", train={"epochs": 2}).resolved()
    assert "float_epochs" not in plain.train and "finetune_lr" not in plain.train
    phased = RunSpec("analog_lstm", "digits_rows",
                     train={"epochs": 2, "float_epochs": 1}).resolved()
    assert phased.train["float_epochs"] == 1 and phased.key() != plain.key()
