"""The report: table cells, figures."""

import dataclasses
import re
import warnings

from test_store import _run


def test_report_rows_show_no_spread_for_one_seed():
    from experiments.report import aggregate, markdown_table, text_table

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
    from experiments.report import aggregate

    runs = [dataclasses.replace(_run(seed=s), task="cartpole", metric="mean_return",
                                history=[{"epoch": e, "train_return": 10.0 * e + s}
                                         for e in (1, 2, 3)]) for s in (0, 1)]
    figures = []
    monkeypatch.setattr(plt, "close", figures.append)
    path = tmp_path / "cartpole.png"
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # "No artists with labels found" would fail here
        task_figure(runs, aggregate(runs), str(path))
    curve_axes = figures[0].axes[1]
    assert list(curve_axes.lines[0].get_ydata()) == [10.5, 20.5, 30.5]
    assert curve_axes.get_ylabel() == "training return"
    assert path.stat().st_size > 1000
    monkeypatch.undo()
    plt.close(figures[0])
