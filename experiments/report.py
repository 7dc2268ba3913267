"""Comparison tables and the Markdown report, built only from the results store."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field

from experiments.store import Run
from experiments.tasks import METRICS


@dataclass(frozen=True)
class Row:
    """Aggregate of one configuration (task, model, options, sizes, settings) over its stored
    seeds. ``label`` names the model and, where one task holds several configurations of it,
    what tells them apart (e.g. ``lstm h=5``); ``cost`` is the hardware cost of one run."""

    task: str
    model: str
    family: str
    backend: str
    size: str
    metric: str
    mean: float
    std: float
    seeds: int
    params: int
    epochs: float
    seconds_per_epoch: float
    label: str = ""
    cost: dict = field(default_factory=dict, compare=False)
    config: dict = field(default_factory=dict, compare=False)
    config_hash: str = ""
    metrics: dict = field(default_factory=dict, compare=False)
    """``{name: (mean, std)}`` over seeds of every metric all its runs stored (e.g. the
    ``float_accuracy`` and ``converted_accuracy`` of a float-then-hardware run)."""

    @property
    def cell(self) -> str:
        """``mean ± std``; one seed has no spread: ``value (1 seed)``."""
        if self.seeds == 1:
            return f"{fmt_number(self.mean)} (1 seed)"
        return f"{fmt_number(self.mean)} ± {fmt_number(self.std)}"


def fmt_number(v: float) -> str:
    """A float in 3 significant digits when tiny or large, else up to 4 decimals."""
    return f"{v:.3g}" if abs(v) < 1e-2 or abs(v) >= 1e3 else f"{v:.4f}".rstrip("0").rstrip(".")


def fixed_width(head: list[str], body: list[list[str]]) -> str:
    """Left-aligned columns as wide as their widest cell, a dashed rule under the head."""
    widths = [max(len(x) for x in col) for col in zip(head, *body, strict=True)]
    def line(cells):
        return "  ".join(c.ljust(w) for c, w in zip(cells, widths, strict=True))
    return "\n".join([line(head), line("-" * w for w in widths), *(line(b) for b in body)])


_LABEL_KEYS = {"hidden_size": "h", "backend": "", "num_layers": "layers"}


def _labels(groups: dict[tuple, list[Run]]) -> dict[tuple, str]:
    """The model name, plus what differs between configurations of one model on one task."""
    by_model: dict[tuple, list[tuple]] = {}
    for key, rs in groups.items():
        by_model.setdefault((rs[0].task, rs[0].model, rs[0].size), []).append(key)
    labels = {}
    for (_task, model, _size), keys in by_model.items():
        if len(keys) == 1:
            labels[keys[0]] = model
            continue
        flat = {k: _flatten(groups[k][0].config) for k in keys}
        differ = sorted({name for k in keys for name, v in flat[k].items()
                         if any(flat[o].get(name) != v for o in keys)})
        for k in keys:
            parts = [_label_part(name, flat[k].get(name)) for name in differ]
            labels[k] = " ".join([model, *parts])
    return labels


def _flatten(config: dict) -> dict:
    out = {}
    for name, value in config.items():
        if isinstance(value, dict):
            out.update({f"{name}.{k}": v for k, v in value.items()})
        else:
            out[name] = value
    return out


def _label_part(name: str, value) -> str:
    short = name.split(".")[-1]
    short = _LABEL_KEYS.get(short, short)
    return f"{value}" if short == "" else f"{short}={value}"


def aggregate(runs: list[Run]) -> list[Row]:
    """One row per (task, model, size, backend, config), best model first within a task."""
    groups: dict[tuple, list[Run]] = {}
    for r in runs:
        groups.setdefault((r.task, r.model, r.size, r.backend, r.config_hash), []).append(r)
    labels = _labels(groups)
    rows = []
    for key, rs in groups.items():
        task, model, size, backend, _h = key
        values = [r.value for r in rs]
        rows.append(Row(task, model, rs[0].family, backend, size, rs[0].metric,
                        statistics.fmean(values),
                        statistics.stdev(values) if len(values) > 1 else 0.0,
                        len(rs), rs[0].params, statistics.fmean(r.epochs for r in rs),
                        statistics.fmean(r.seconds_per_epoch for r in rs), labels[key],
                        rs[0].cost, rs[0].config, rs[0].config_hash, _metric_stats(rs)))
    rows.sort(key=lambda r: (r.task, -r.mean if METRICS[r.metric] else r.mean))
    return rows


def _metric_stats(runs: list[Run]) -> dict:
    names = set.intersection(*(set(r.metrics) for r in runs))
    out = {}
    for name in sorted(names):
        values = [r.metrics[name] for r in runs]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            out[name] = (statistics.fmean(values),
                         statistics.stdev(values) if len(values) > 1 else 0.0)
    return out


def cost_text(cost: dict) -> str:
    """The hardware cost in one short cell: energy, latency and area per inference (analog);
    transpiled depth and two-qubit gates per step and circuit executions per epoch (quantum)."""
    parts = []
    if "energy_pj" in cost:
        parts.append(f"{fmt_si(cost['energy_pj'] * 1e-12, 'J')}, "
                     f"{fmt_si(cost['latency_ns'] * 1e-9, 's')}, "
                     f"{fmt_number(cost['area_mm2'])} mm²")
    if "expected_repetitions" in cost:
        parts.append(f"{cost['qubits']:g} qubits, {cost['expected_repetitions']:.4g} RUS runs / "
                     f"{cost['neurons_per_sequence']:g} neurons per sequence")
    if "depth_per_step" in cost:
        parts.append(f"depth {cost['depth_per_step']:g}, 2q {cost['two_qubit_per_step']:g}/step")
    if "executions_per_epoch" in cost:
        shots = cost.get("shots")
        parts.append(f"{cost['executions_per_epoch']:.3g} circuits/epoch"
                     + (f" × {shots:g} shots" if shots else ""))
    return "; ".join(parts) or "–"


def fmt_si(value: float, unit: str) -> str:
    """``value`` (in ``unit``) in 3 significant digits with an SI prefix from f to none."""
    for scale, prefix in ((1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"),
                          (1.0, "")):
        if abs(value) < scale * 1000:
            return f"{value / scale:.3g} {prefix}{unit}"
    return f"{value:.3g} {unit}"


def text_table(rows: list[Row]) -> str:
    """A fixed-width table for the terminal."""
    head = ["task", "model", "backend", "metric", "mean ± std", "seeds", "params", "epochs",
            "s/epoch", "hardware cost"]
    body = [[r.task, r.label, r.backend, r.metric + ("↑" if METRICS[r.metric] else "↓"),
             r.cell, str(r.seeds), str(r.params), f"{r.epochs:g}",
             f"{r.seconds_per_epoch:.3f}", cost_text(r.cost)] for r in rows]
    return fixed_width(head, body)


def markdown_table(rows: list[Row]) -> str:
    """The comparison table in Markdown: metric mean ± std over seeds, seeds, parameters,
    epochs and seconds per epoch for every row."""
    lines = ["| task | model | family | backend | metric | mean ± std | seeds | params | epochs "
             "| s/epoch | hardware cost |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        arrow = "↑" if METRICS[r.metric] else "↓"
        lines.append(f"| {r.task} | {r.label} | {r.family} | {r.backend} | {r.metric} {arrow} "
                     f"| {r.cell} | {r.seeds} | {r.params} | {r.epochs:g} "
                     f"| {r.seconds_per_epoch:.3f} | {cost_text(r.cost)} |")
    return "\n".join(lines)


def write_report(runs: list[Run], out_dir: str, title: str = "qrnn comparison") -> str:
    """Write ``report.md`` (figures as PNG files beside it) and ``report.html`` (one
    self-contained page, figures embedded) into ``out_dir``; return the Markdown path."""
    from experiments import plots
    from experiments.html_report import write_html

    if not runs:
        raise ValueError("no stored runs match; run `qrnn compare` or `qrnn train` first")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"out={out_dir!r} cannot be created: {exc.strerror}") from None
    rows = aggregate(runs)
    sizes = sorted({r.size for r in rows})
    intro = (f"{len(runs)} runs from the results store; size {', '.join(sizes)}. Mean ± sample "
             "standard deviation over seeds (one seed: its value, no spread); params = "
             "trainable parameters; s/epoch = wall seconds per training epoch on the machine "
             "that ran it; hardware cost = energy, latency and area of one inference on the "
             "simulated crossbars (analog), transpiled depth and two-qubit gates per time step "
             "and circuit executions per training epoch (quantum). ↓ lower is better, "
             "↑ higher is better.")
    if any(r.task == "cartpole" for r in runs):
        intro += (" cartpole: a uniformly random policy scores 22.0 (mean return of 2000 "
                  "CartPole-v1 episodes, gymnasium 1.4); the maximum is 500.")
    figures = plots.report_figures(runs, rows, out_dir)
    parts = [f"# {title}", "", intro, "", markdown_table(rows), ""]
    for fig in figures:
        parts += [f"## {fig.title}", "", fig.caption, "", f"![{fig.title}]({fig.file})", ""]
    path = os.path.join(out_dir, "report.md")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts))
    write_html(os.path.join(out_dir, "report.html"), title, intro, rows, figures, out_dir)
    return path
