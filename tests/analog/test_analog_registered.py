"""The registered analog models: options reach the cell, seeds reach the devices, bad options
are one line, the paper suite names both activation styles."""

import pytest
import torch

from experiments.models import build_model, model_spec
from experiments.suites import suite


def _build(seed=0, **options):
    return build_model("analog_lstm", 13, 10, "classification", hidden_size=8, seed=seed,
                       options=options)


def test_options_reach_the_cell():
    body = _build(activation="digital", adc_bits=4, linear_adc="sar", prog_noise=0.03,
                  dac_range=3.0).body
    c = body.config
    assert (body.activation, c.adc_kind, c.adc_bits, c.prog_noise_rel, c.dac_range) == \
        ("digital", "sar", 4, 0.03, 3.0)
    nl = build_model("analog_gru", 4, 2, "regression", hidden_size=3, options={}).body
    assert nl.activation == "nl_adc" and nl.config.adc_kind == "nl_ramp"
    ideal = build_model("analog_elman", 4, 2, "regression", hidden_size=3,
                        options={"preset": "ideal"}).body
    assert ideal.config.adc_kind == "ideal" and ideal.config.prog_noise_rel == 0


def test_same_seed_bit_identical_different_seed_different():
    x = torch.randn(4, 6, 13, generator=torch.Generator().manual_seed(0))
    with torch.no_grad():
        a, b, c = (_build(seed=s).eval()(x) for s in (5, 5, 6))
    assert torch.equal(a, b) and not torch.equal(a, c)


def test_bad_options_are_one_line():
    with pytest.raises(ValueError, match=r"option adc_bits=13 is not allowed; allowed: int in "
                                         r"\[1, 12\]"):
        model_spec("analog_lstm").resolve_options({"adc_bits": 13})
    with pytest.raises(ValueError, match="option activation='lut' is not allowed; allowed: one "
                                         "of nl_adc, digital"):
        model_spec("analog_gru").resolve_options({"activation": "lut"})


def test_paper_suite_compares_both_styles_at_the_published_bits():
    entries = suite("paper").entries_for("spoken_digits")
    analog = {(e.options["activation"], e.options["adc_bits"]) for e in entries
              if e.model == "analog_lstm"}
    assert analog == {(s, b) for s in ("nl_adc", "digital") for b in (3, 4, 5, 8)}
    assert any(e.model == "lstm" for e in entries)


def test_paper_suite_trains_float_converts_and_fine_tunes_beside_an_equal_float_lstm():
    for task in ("spoken_digits", "char_lm"):
        entries = suite("paper").entries_for(task)
        floats = [e for e in entries if e.model == "lstm"]
        analog = [e for e in entries if e.model == "analog_lstm"]
        assert len(floats) == 1 and len(analog) == 8
        for e in analog:
            assert 1 <= e.train["float_epochs"] < e.train["epochs"]
            assert e.train["finetune_lr"] < e.train.get("lr", 0.005)
            assert e.options["prog_noise"] == 0.02 and e.hidden_size == floats[0].hidden_size
            # the float LSTM trains as long as the analog runs' float phase, at its rate
            assert floats[0].train["epochs"] == e.train["float_epochs"]
            assert floats[0].train.get("lr") == e.train.get("lr")
