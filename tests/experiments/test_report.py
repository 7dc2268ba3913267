"""The comparison report: table rows and labels, figures as real images, the self-contained
HTML page, and that page rendered by a real headless browser."""

import base64
import dataclasses
import io
import re
import shutil
import subprocess
import warnings

import numpy as np
import pytest

from experiments.plots import pareto_front
from experiments.report import aggregate, write_report
from experiments.runner import RunSpec, execute
from tests.experiments.test_store import _run

EPOCHS = {"epochs": 2}


@pytest.fixture(scope="module")
def runs():
    specs = [RunSpec(m, t, seed=s, hidden_size=h, train=EPOCHS)
             for t in ("damped_shm", "digits_rows") for m, h in (("lstm", 4), ("mingru", 4))
             for s in (0, 1)]
    specs += [RunSpec("lstm", "damped_shm", seed=s, hidden_size=8, train=EPOCHS) for s in (0, 1)]
    return [execute(s) for s in specs]


@pytest.fixture(scope="module")
def report(runs, tmp_path_factory):
    out = tmp_path_factory.mktemp("report")
    write_report(runs, str(out))
    return out


def _image(data: bytes) -> np.ndarray:
    import matplotlib.image

    return matplotlib.image.imread(io.BytesIO(data), format="png")


def test_rows_tell_configurations_apart(runs):
    rows = aggregate(runs)
    labels = {(r.task, r.label): r for r in rows}
    assert set(labels) == {("damped_shm", "lstm h=4"), ("damped_shm", "lstm h=8"),
                           ("damped_shm", "mingru"), ("digits_rows", "lstm"),
                           ("digits_rows", "mingru")}
    assert all(r.seeds == 2 for r in rows)
    assert labels["damped_shm", "lstm h=8"].params > labels["damped_shm", "lstm h=4"].params


def test_figures_are_non_empty_images_and_the_page_holds_them(report):
    md = (report / "report.md").read_text()
    files = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", md)
    assert set(files) == {"damped_shm.png", "damped_shm-prediction.png", "digits_rows.png",
                          "pareto.png"}
    for name in files:
        pixels = _image((report / name).read_bytes())
        assert pixels.shape[0] > 200 and pixels.shape[1] > 400
        assert pixels[..., :3].std() > 0.05, f"{name} is blank"
    page = (report / "report.html").read_text()
    embedded = re.findall(r'src="data:image/png;base64,([^"]+)"', page)
    assert len(embedded) == len(files)
    for data in embedded:
        assert _image(base64.b64decode(data)).size > 0
    assert "lstm h=8" in page and "<table>" in page and "src=\"http" not in page


def _browser():
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if shutil.which(name):
            return shutil.which(name)
    return None


@pytest.mark.skipif(_browser() is None, reason="no headless browser installed "
                    "(apt-get install chromium)")
def test_a_real_browser_renders_the_page_with_every_figure(report, tmp_path):
    page = report / "report.html"
    n_figures = page.read_text().count("data:image/png;base64,")
    flags = ["--headless", "--no-sandbox", "--disable-gpu", "--allow-file-access-from-files",
             f"--user-data-dir={tmp_path / 'profile'}", "--virtual-time-budget=5000"]
    dom = subprocess.run([_browser(), *flags, "--dump-dom", page.as_uri()], capture_output=True,
                         text=True, timeout=120)
    assert f'data-figures-loaded="{n_figures}"' in dom.stdout, dom.stderr[-500:]
    shot = tmp_path / "shot.png"
    subprocess.run([_browser(), *flags, f"--screenshot={shot}", "--window-size=1200,2000",
                    page.as_uri()], capture_output=True, timeout=120)
    pixels = _image(shot.read_bytes())
    assert pixels[..., :3].std() > 0.05  # text, table and figures, not a blank page


def test_pareto_front_keeps_only_undominated_points():
    points = [(10, 0.5), (20, 0.4), (15, 0.6), (30, 0.1), (5, 0.9)]
    assert pareto_front(points, higher_better=False) == [(5, 0.9), (10, 0.5), (20, 0.4),
                                                         (30, 0.1)]
    assert pareto_front(points, higher_better=True) == [(5, 0.9)]


def test_report_rows_show_no_spread_for_one_seed():
    from experiments.report import markdown_table, text_table

    runs = [_run(seed=0, value=0.5), _run(seed=1, value=0.7), _run(seed=0, value=0.25, h="one")]
    rows = {r.mean: r for r in aggregate(runs)}
    assert rows[0.25].cell == "0.25 (1 seed)" and rows[0.25].seeds == 1
    assert rows[0.6].cell == "0.6 ± 0.1414" and rows[0.6].seeds == 2
    for table in (text_table(list(rows.values())), markdown_table(list(rows.values()))):
        assert not re.search(r"± 0(?![.\d])", table) and "0.25 (1 seed)" in table


def test_control_figure_plots_the_training_return_without_legend_warnings(tmp_path,
                                                                          monkeypatch):
    import matplotlib.pyplot as plt

    from experiments.plots import task_figure

    runs = [dataclasses.replace(_run(seed=s), task="cartpole", metric="mean_return",
                                history=[{"epoch": e, "train_return": 10.0 * e + s}
                                         for e in (1, 2, 3)]) for s in (0, 1)]
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "No artists with labels found" would fail here
        name = task_figure(runs, aggregate(runs), {}, str(tmp_path))
    curve_axes = figures[0].axes[1]
    assert list(curve_axes.lines[0].get_ydata()) == [10.5, 20.5, 30.5]
    assert curve_axes.get_ylabel() == "training return"
    assert (tmp_path / name).stat().st_size > 1000
    monkeypatch.undo()
    plt.close(figures[0])


def _analog(bits, seed, value, style="nl_adc"):
    return dataclasses.replace(
        _run(seed=seed, value=value, h=f"{style}{bits}"), model="analog_lstm", family="analog",
        config={"model": "analog_lstm", "options": {"adc_bits": bits, "activation": style}})


def test_the_bits_figure_needs_entries_that_vary_the_bits(tmp_path):
    from experiments.plots import bits_figure

    one = aggregate([_analog(5, s, 0.1 + s) for s in (0, 1)])
    assert bits_figure(one, str(tmp_path)) is None          # one bit width: nothing to plot
    many = aggregate([_analog(b, s, 1.0 / b + s / 100) for b in (3, 5, 8) for s in (0, 1)])
    name = bits_figure(many, str(tmp_path))
    pixels = _image((tmp_path / name).read_bytes())
    assert name == "adc-bits.png" and pixels[..., :3].std() > 0.05


def _costed(bits, style, seed, array_pj):
    cost = {"energy_array_pj": array_pj, "energy_dac_pj": 10.0, "energy_adc_pj": 2.0 ** bits,
            "energy_ramp_pj": 50.0 if style == "nl_adc" else 0.0,
            "energy_activation_pj": 5.0 if style == "nl_adc" else 40.0,
            "energy_digital_pj": 30.0, "tops_per_w": 80.0}
    return dataclasses.replace(_analog(bits, seed, 0.9 - 0.01 * seed, style), cost=cost,
                               metrics={"mse": 0.1, "converted_mse": 0.2 + seed})


def test_the_energy_figure_stacks_the_stored_components(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from experiments.plots import ENERGY_PARTS, energy_figure

    assert energy_figure(aggregate([_run()]), str(tmp_path)) is None   # no analog cost
    runs = [_costed(b, style, s, 1000.0 + b) for b in (3, 8) for style in ("nl_adc", "digital")
            for s in (0, 1)]
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    name = energy_figure(aggregate(runs), str(tmp_path))
    ax = figures[0].axes[0]
    bars = ax.patches
    assert len(bars) == len(ENERGY_PARTS) * 4
    labels = [t.get_text() for t in ax.get_xticklabels()]
    assert labels == ["lin.+LUT 3b", "lin.+LUT 8b", "NL-ADC 3b", "NL-ADC 8b"]
    # each bar's segments stack to the stored total (nJ); the ADC segment is 2^bits pJ
    tops = {}
    for bar in bars:
        tops[bar.get_x()] = max(tops.get(bar.get_x(), 0.0), bar.get_y() + bar.get_height())
    want = [1e-3 * (1000 + b + 10 + 2 ** b + (50 + 5 if st == "nl_adc" else 40) + 30)
            for st, b in (("digital", 3), ("digital", 8), ("nl_adc", 3), ("nl_adc", 8))]
    assert [tops[x] for x in sorted(tops)] == pytest.approx(want)
    assert [bars[4 * 2 + i].get_height() for i in range(4)] == pytest.approx(
        [2 ** 3 * 1e-3, 2 ** 8 * 1e-3, 2 ** 3 * 1e-3, 2 ** 8 * 1e-3])
    monkeypatch.undo()
    plt.close(figures[0])
    pixels = _image((tmp_path / name).read_bytes())
    assert name == "analog-energy.png" and pixels[..., :3].std() > 0.05


def test_the_report_lists_the_energy_figure_and_the_converted_curve(tmp_path, monkeypatch):
    import matplotlib.pyplot as plt

    from experiments.plots import bits_figure

    runs = [_costed(b, "nl_adc", s, 1000.0) for b in (3, 8) for s in (0, 1)]
    rows = aggregate(runs)
    assert rows[0].metrics["converted_mse"] == pytest.approx((0.7, 0.7071), abs=1e-4)
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    bits_figure(rows, str(tmp_path))
    dashed = [line for line in figures[0].axes[0].lines if line.get_linestyle() == "--"]
    assert [list(line.get_ydata()) for line in dashed] == [[0.7, 0.7]]
    monkeypatch.undo()
    plt.close(figures[0])
    write_report(runs, str(tmp_path / "r"))
    md = (tmp_path / "r" / "report.md").read_text()
    assert "(analog-energy.png)" in md and "(adc-bits.png)" in md
    assert md.count("data:image") == 0
    page = (tmp_path / "r" / "report.html").read_text()
    assert page.count("data:image/png;base64,") == md.count("![")


def _phased(bits, style, seed, task="spoken_digits"):
    """A stored analog run trained float first (its float and converted metrics)."""
    run = _costed(bits, style, seed, 1000.0)
    value = 0.80 + 0.01 * bits + 0.001 * seed
    return dataclasses.replace(
        run, task=task, metric="accuracy", value=value,
        metrics={"accuracy": value, "float_accuracy": 0.95, "converted_accuracy": value - 0.05},
        cost={**run.cost, "energy_pj": 2500.0, "latency_ns": 800.0},
        config={**run.config, "train": {"epochs": 4, "float_epochs": 3}}, epochs=4)


def test_the_readme_analog_block_is_generated_from_the_paper_runs(tmp_path):
    from experiments.readme_tables import update_readme

    runs = [_phased(b, st, s) for b in (3, 5) for st in ("nl_adc", "digital") for s in (0, 1)]
    runs += [dataclasses.replace(_run(seed=s, value=0.96, h="float"), task="spoken_digits",
                                 metric="accuracy", metrics={"accuracy": 0.96})
             for s in (0, 1)]
    runs.append(_run(seed=0, h="series"))  # a series of the suite: the quantum block's
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- analog-paper:start -->\nold\n<!-- analog-paper:end -->\nb\n"
                      "<!-- results:start -->\nkept\n<!-- results:end -->\n"
                      "<!-- quantum-paper:start -->\n<!-- quantum-paper:end -->\n")
    assert update_readme(str(readme), "paper", runs) == ["quantum-paper", "analog-paper"]
    text = readme.read_text()
    quantum = text.split("<!-- quantum-paper:start -->")[1]
    assert "| bessel_j2 |" in quantum
    text = text.split("<!-- quantum-paper:start -->")[0]
    assert "old" not in text and "kept" in text and text.startswith("a\n")
    lines = [line for line in text.splitlines() if line.startswith("| ")]
    assert lines[1].startswith("| float lstm | 32-bit float | 0.96 ± 0 |")
    nl3 = next(line for line in lines if line.startswith("| NL-ADC | 3 |"))
    assert "| 0.95 ± 0 | 0.7805 ± 0.000707 | 0.8305 ± 0.000707 | 2.5 nJ | 800 ns | 80 |" in nl3
    assert "| 80 | 2 | 10 | 3 + 1 |" in nl3 and "bessel_j2" not in text
    assert "| linear ADC + lookup | 5 |" in text and len(lines) == 1 + 1 + 4
    for name in ("adc-bits.png", "analog-energy.png"):
        assert f"](docs/analog-paper/{name})" in text
        pixels = _image((tmp_path / "docs" / "analog-paper" / name).read_bytes())
        assert pixels[..., :3].std() > 0.05
    before = readme.read_text()
    update_readme(str(readme), "paper", runs)
    assert readme.read_text() == before  # regenerating changes nothing
    with pytest.raises(ValueError, match="suite 'neuron' has no README block"):
        update_readme(str(readme), "neuron", runs)
    with pytest.raises(ValueError, match="nothing for the paper suite's README blocks"):
        update_readme(str(readme), "paper", runs[-3:-1])
