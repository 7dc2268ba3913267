"""Matplotlib figures for the report (non-interactive Agg backend, PNG files), built only from
stored runs: per task the metric and learning curves, prediction against truth for the time
series, and across tasks accuracy against ADC bits and the energy bill per component (analog),
speed against qubits (quantum) and the metric against cost per family (Pareto)."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass

from experiments.store import Run
from experiments.tasks import METRICS

FAMILY_COLORS = {"quantum": "tab:purple", "analog": "tab:orange", "classical": "tab:blue"}


@dataclass(frozen=True)
class Figure:
    """A written figure: section title, one-sentence caption, PNG file name in the report
    folder."""

    title: str
    caption: str
    file: str


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _color(family: str) -> str:
    return FAMILY_COLORS.get(family, "tab:gray")


def _save(fig, out_dir: str, name: str) -> str:
    from matplotlib.ticker import NullFormatter

    for ax in fig.axes:  # log axes spanning less than a decade: no crowded minor labels
        for axis in (ax.xaxis, ax.yaxis):
            if axis.get_scale() == "log":
                axis.set_minor_formatter(NullFormatter())
    fig.tight_layout()
    fig.savefig(os.path.join(out_dir, name), dpi=110)
    _pyplot().close(fig)
    return name


def report_figures(runs: list[Run], rows: list, out_dir: str) -> list[Figure]:
    """Write every figure the stored runs allow into ``out_dir``; return them in report order."""
    label = {r.config_hash: r.label for r in rows}
    figures = []
    for task in sorted({r.task for r in runs}):
        task_rows = [r for r in rows if r.task == task]
        task_runs = [r for r in runs if r.task == task]
        figures.append(Figure(
            f"{task}", f"{task}: test {task_rows[0].metric} per model (mean ± std over seeds) "
            "and the validation loss per epoch (mean over seeds).",
            task_figure(task_runs, task_rows, label, out_dir)))
        if any(r.outputs.get("pred") for r in task_runs):
            figures.append(Figure(
                f"{task}: prediction against truth", f"{task}: test-set predictions of the "
                "first seed of each model against the target series.",
                prediction_figure(task_runs, label, out_dir)))
    for title, caption, make in (
            ("Accuracy against ADC bits", "Analog models: the test metric against the bits of "
             "their converters, per activation style (mean ± std over seeds); dashed: the "
             "converted float network before hardware-aware fine-tuning (runs with "
             "float_epochs); grey line: the float LSTM.", bits_figure),
            ("Energy per inference", "Analog models: the energy of one inference (one "
             "sequence of the task's length, batch 1) from the stored hardware cost, split by "
             "component; TOPS/W above each bar.", energy_figure),
            ("Speed against qubits", "Quantum models: wall seconds per training epoch against "
             "qubits per circuit.", qubits_figure),
            ("Metric against cost", "Every configuration: the test metric against trainable "
             "parameters and seconds per epoch, one colour per family; the line joins the "
             "Pareto front.", pareto_figure)):
        name = make(rows, out_dir)
        if name:
            figures.append(Figure(title, caption, name))
    return figures


def task_figure(runs: list[Run], rows: list, label: dict, out_dir: str) -> str:
    """The headline metric per configuration (bars) beside the validation loss per epoch
    (control tasks: the training return per update), mean over seeds."""
    plt = _pyplot()
    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(10, 3.8))
    ax_bar.bar(range(len(rows)), [r.mean for r in rows], yerr=[r.std for r in rows],
               capsize=4, color=[_color(r.family) for r in rows])
    ax_bar.set_xticks(range(len(rows)), [r.label for r in rows], fontsize=7, rotation=30,
                      ha="right")
    metric = rows[0].metric
    ax_bar.set_ylabel(f"test {metric} ({'higher' if METRICS[metric] else 'lower'} is better)")
    if not METRICS[metric] and all(r.mean > 0 for r in rows):
        ax_bar.set_yscale("log")
    ax_bar.set_title(f"{runs[0].task}: test {metric}")
    by_config: dict[str, list[Run]] = {}
    for r in runs:
        by_config.setdefault(r.config_hash, []).append(r)
    # control tasks store no validation loss: their curve is the training return per update
    key, what = (("val_loss", "validation loss")
                 if any("val_loss" in e for r in runs for e in r.history[:1])
                 else ("train_return", "training return"))
    drawn = 0
    for config, rs in sorted(by_config.items(), key=lambda kv: label.get(kv[0], "")):
        length = min(len(r.history) for r in rs)
        if length == 0 or key not in rs[0].history[0]:
            continue
        curve = [statistics.fmean(r.history[e][key] for r in rs) for e in range(length)]
        ax_curve.plot(range(1, length + 1), curve, label=label.get(config, rs[0].model))
        drawn += 1
    ax_curve.set_xlabel("epoch")
    if drawn:
        ax_curve.set_ylabel(what)
        positive = all(h[key] > 0 for r in runs for h in r.history if key in h)
        ax_curve.set_yscale("log" if positive and key == "val_loss" else "linear")
        ax_curve.legend(fontsize=7)
        ax_curve.set_title(f"{what} (mean over seeds)")
    else:
        ax_curve.set_title("no per-epoch curve stored")
    return _save(fig, out_dir, f"{runs[0].task}.png")


def prediction_figure(runs: list[Run], label: dict, out_dir: str) -> str:
    """Test predictions of each configuration's lowest seed against the target series."""
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(10, 3.4))
    first: dict[str, Run] = {}
    for r in sorted(runs, key=lambda r: r.seed):
        if r.outputs.get("pred"):
            first.setdefault(r.config_hash, r)
    truth = next(iter(first.values())).outputs["true"]
    ax.plot(truth, color="black", linewidth=2.0, label="truth")
    for key, r in sorted(first.items(), key=lambda kv: label.get(kv[0], "")):
        ax.plot(r.outputs["pred"], linewidth=1.0, label=f"{label.get(key, r.model)} "
                f"(seed {r.seed})")
    ax.set_xlabel("test window")
    ax.set_ylabel("next value")
    ax.legend(fontsize=7, ncol=2)
    ax.set_title(f"{runs[0].task}: prediction against truth (test split)")
    return _save(fig, out_dir, f"{runs[0].task}-prediction.png")


def _option_rows(rows: list, option: str) -> list:
    """Rows whose numeric ``option`` takes at least two values (else nothing to plot against)."""
    chosen = [r for r in rows
              if isinstance(r.config.get("options", {}).get(option), int | float)]
    values = {r.config["options"][option] for r in chosen}
    return chosen if len(values) > 1 else []


def bits_figure(rows: list, out_dir: str) -> str | None:
    """Metric against ``adc_bits`` per task and activation style (dashed: the converted
    metric of runs with a float phase), the float ``lstm`` rows of the task as horizontal
    lines; None without rows that vary the bits."""
    chosen = _option_rows(rows, "adc_bits")
    if not chosen:
        return None
    plt = _pyplot()
    tasks = sorted({r.task for r in chosen})
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks), 3.4), squeeze=False)
    for ax, task in zip(axes[0], tasks, strict=True):
        series: dict[str, list] = {}
        for r in chosen:
            if r.task == task:
                style = r.config["options"].get("activation", r.model)
                series.setdefault(f"{r.model} {style}", []).append(r)
        for name, rs in sorted(series.items()):
            rs = sorted(rs, key=lambda r: r.config["options"]["adc_bits"])
            bits = [r.config["options"]["adc_bits"] for r in rs]
            line = ax.errorbar(bits, [r.mean for r in rs], yerr=[r.std for r in rs],
                               marker="o", capsize=3, label=name)
            converted = [r.metrics.get(f"converted_{r.metric}") for r in rs]
            if all(converted):
                ax.errorbar(bits, [c[0] for c in converted], yerr=[c[1] for c in converted],
                            marker="x", capsize=3, linestyle="--", alpha=0.7,
                            color=line[0].get_color(), label=f"{name} (converted)")
        for r in rows:
            if r.task == task and r.model == "lstm":
                ax.axhline(r.mean, color="tab:gray", linewidth=1.0, label=f"float {r.label}")
        ax.set_xlabel("ADC bits")
        ax.set_xticks(sorted({r.config["options"]["adc_bits"] for r in chosen}))
        ax.set_ylabel(f"test {rs[0].metric}")
        ax.set_title(task)
        ax.legend(fontsize=6)
    return _save(fig, out_dir, "adc-bits.png")


ENERGY_PARTS = (("energy_array_pj", "array"), ("energy_dac_pj", "DAC"), ("energy_adc_pj", "ADC"),
                ("energy_ramp_pj", "ramp devices"),
                ("energy_activation_pj", "lookups + digital activations"),
                ("energy_digital_pj", "digital update"))
"""The components of an analog run's stored ``cost`` (pJ), bottom to top in the bars."""


def _design(r) -> str:
    """Short bar label: activation style and bits, else the row's label."""
    opts = r.config.get("options", {})
    if "activation" not in opts or "adc_bits" not in opts:
        return r.label
    style = "NL-ADC" if opts["activation"] == "nl_adc" else "lin.+LUT"
    return f"{style} {opts['adc_bits']}b"


def energy_figure(rows: list, out_dir: str) -> str | None:
    """Per task, one stacked bar per analog configuration: the energy (nJ) of one inference
    split into :data:`ENERGY_PARTS`; None without rows that stored them."""
    chosen = [r for r in rows if r.family == "analog"
              and all(key in r.cost for key, _ in ENERGY_PARTS)]
    if not chosen:
        return None
    plt = _pyplot()
    tasks = sorted({r.task for r in chosen})
    fig, axes = plt.subplots(1, len(tasks), figsize=(4.5 * len(tasks) + 2.2, 3.8),
                             squeeze=False)
    colors = plt.get_cmap("tab10").colors
    for ax, task in zip(axes[0], tasks, strict=True):
        rs = sorted((r for r in chosen if r.task == task),
                    key=lambda r: (r.config.get("options", {}).get("activation", ""),
                                   r.config.get("options", {}).get("adc_bits", 0), r.label))
        bottom = [0.0] * len(rs)
        for i, (key, name) in enumerate(ENERGY_PARTS):
            heights = [r.cost[key] * 1e-3 for r in rs]
            ax.bar(range(len(rs)), heights, bottom=bottom, color=colors[i], label=name)
            bottom = [b + h for b, h in zip(bottom, heights, strict=True)]
        for x, (r, top) in enumerate(zip(rs, bottom, strict=True)):
            if "tops_per_w" in r.cost:
                ax.annotate(f"{r.cost['tops_per_w']:.3g}", (x, top), ha="center",
                            va="bottom", fontsize=6)
        ax.set_xticks(range(len(rs)), [_design(r) for r in rs], fontsize=7, rotation=30,
                      ha="right")
        ax.set_ylabel("energy per inference (nJ)")
        ax.set_ylim(0, max(bottom) * 1.12)
        ax.set_title(f"{task}: energy per inference (TOPS/W on top)", fontsize=9)
    axes[0][-1].legend(fontsize=7, loc="upper left", bbox_to_anchor=(1.01, 1.0))
    return _save(fig, out_dir, "analog-energy.png")


def qubits_figure(rows: list, out_dir: str) -> str | None:
    """Seconds per epoch against ``n_qubits`` per quantum model; None without such rows."""
    chosen = [r for r in _option_rows(rows, "n_qubits") if r.family == "quantum"]
    if not chosen:
        return None
    plt = _pyplot()
    fig, ax = plt.subplots(figsize=(6, 3.6))
    series: dict[str, list] = {}
    for r in chosen:
        series.setdefault(f"{r.model} ({r.backend}, {r.task})", []).append(r)
    for name, rs in sorted(series.items()):
        rs = sorted(rs, key=lambda r: r.config["options"]["n_qubits"])
        ax.plot([r.config["options"]["n_qubits"] for r in rs],
                [r.seconds_per_epoch for r in rs], marker="o", label=name)
    ax.set_xlabel("qubits per circuit")
    ax.set_ylabel("seconds per epoch")
    ax.set_yscale("log")
    ax.legend(fontsize=7)
    return _save(fig, out_dir, "qubits-speed.png")


def pareto_front(points: list[tuple[float, float]], higher_better: bool) -> list[tuple]:
    """The points not dominated by another one (lower cost and a better metric), by cost."""
    front, best = [], None
    for cost, metric in sorted(points, key=lambda p: (p[0], -p[1] if higher_better else p[1])):
        if best is None or (metric > best if higher_better else metric < best):
            front.append((cost, metric))
            best = metric
    return front


def pareto_figure(rows: list, out_dir: str) -> str | None:
    """Per task: metric against parameters and against seconds per epoch, per family."""
    tasks = sorted({r.task for r in rows})
    if not tasks:
        return None
    plt = _pyplot()
    fig, axes = plt.subplots(len(tasks), 2, figsize=(9, 3.0 * len(tasks)), squeeze=False)
    for (ax_p, ax_t), task in zip(axes, tasks, strict=True):
        task_rows = [r for r in rows if r.task == task]
        better = METRICS[task_rows[0].metric]
        for ax, cost_of, xlabel in ((ax_p, lambda r: r.params, "trainable parameters"),
                                    (ax_t, lambda r: r.seconds_per_epoch, "seconds per epoch")):
            for family in sorted({r.family for r in task_rows}):
                fam = [r for r in task_rows if r.family == family]
                ax.scatter([cost_of(r) for r in fam], [r.mean for r in fam], label=family,
                           color=_color(family))
            front = pareto_front([(cost_of(r), r.mean) for r in task_rows if cost_of(r) > 0],
                                 better)
            if len(front) > 1:
                ax.plot(*zip(*front, strict=True), color="black", linewidth=0.8)
            ax.set_xscale("log")
            ax.set_xlabel(xlabel)
            ax.set_ylabel(f"{task}: {task_rows[0].metric}")
            if not better and all(r.mean > 0 for r in task_rows):
                ax.set_yscale("log")
        ax_p.legend(fontsize=7)
    return _save(fig, out_dir, "pareto.png")
