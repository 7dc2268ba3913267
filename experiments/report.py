"""Comparison tables and the Markdown report, built only from the results store."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass, field

from experiments.store import Run
from experiments.tasks import METRICS

README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


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
        parts.append(f"{_si(cost['energy_pj'] * 1e-12, 'J')}, {_si(cost['latency_ns'] * 1e-9, 's')}"
                     f", {fmt_number(cost['area_mm2'])} mm²")
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


def _si(value: float, unit: str) -> str:
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


README_BLOCKS = {"quick": "results", "paper": "analog-paper"}
"""The README block each suite's runs rewrite (``qrnn report --readme README.md --suite S``):
the quick suite's results table, the paper suite's analog reproduction."""


def update_readme(readme: str, runs: list[Run], suite: str = "quick") -> None:
    """Replace the text between the markers of ``suite``'s block of ``readme``
    (:data:`README_BLOCKS`) by what ``runs`` give: the quick suite's comparison table, or the
    paper suite's analog reproduction (:func:`analog_paper_markdown`, its figures written to
    ``docs/analog-paper/`` beside the README)."""
    if suite not in README_BLOCKS:
        raise ValueError(f"the README has no block for suite {suite!r}; blocks: "
                         + ", ".join(f"{k} ({v})" for k, v in README_BLOCKS.items()))
    start, end = f"<!-- {README_BLOCKS[suite]}:start -->", f"<!-- {README_BLOCKS[suite]}:end -->"
    with open(readme, encoding="utf-8") as fh:
        text = fh.read()
    if start not in text or end not in text:
        raise ValueError(f"{readme!r} has no {start} ... {end} markers")
    if suite == "quick":
        body = markdown_table(aggregate(runs))
    else:
        folder = os.path.join(os.path.dirname(os.path.abspath(readme)), "docs", "analog-paper")
        body = analog_paper_markdown(runs, folder, "docs/analog-paper")
    head, rest = text.split(start, 1)
    _old, tail = rest.split(end, 1)
    with open(readme, "w", encoding="utf-8") as fh:
        fh.write(f"{head}{start}\n{body}\n{end}{tail}")


def _mean_std(stat) -> str:
    return "–" if stat is None else f"{fmt_number(stat[0])} ± {fmt_number(stat[1])}"


def analog_paper_markdown(runs: list[Run], figure_dir: str, link_dir: str) -> str:
    """The analog reproduction: per task whose analog runs trained float first
    (``converted_*`` metrics), one table of the float LSTM and every analog design (float,
    converted and fine-tuned metric, energy, latency and TOPS/W of one inference), then the
    accuracy-against-bits and energy figures, written to ``figure_dir`` and linked as
    ``link_dir/<file>``."""
    from experiments import plots

    rows = aggregate(runs)
    tasks = [t for t in dict.fromkeys(r.task for r in rows)
             if any(r.family == "analog" and f"converted_{r.metric}" in r.metrics
                    for r in rows if r.task == t)]
    if not tasks:
        raise ValueError("no analog runs trained float first (float_epochs) among the runs: "
                         "run `qrnn compare --suite paper --tasks spoken_digits,char_lm`")
    rows = [r for r in rows if r.task in tasks and r.family in ("analog", "classical")]
    seeds = sorted({r.seed for r in runs if r.task in tasks})
    parts = [f"Generated by `qrnn report --readme README.md --suite paper` from "
             f"{sum(r.seeds for r in rows)} runs (seeds {', '.join(map(str, seeds))}); "
             "mean ± std over a row's seeds. float: the run's network after its float phase; "
             "converted: the same weights on the crossbars before fine-tuning; fine-tuned: "
             "after hardware-aware fine-tuning (the run's result). Energy, latency and TOPS/W: "
             "one inference (one padded sequence of the task, batch 1) at the default cost "
             "figures.", ""]
    for task in sorted(tasks, key=lambda t: (t != "spoken_digits", t)):
        trs = [r for r in rows if r.task == task]
        metric = trs[0].metric
        arrow = "↑" if METRICS[metric] else "↓"
        parts += [f"**{task}** (test {metric} {arrow})", "",
                  "| design | bits | float | converted | fine-tuned | energy / inference "
                  "| latency | TOPS/W | seeds | params | epochs (float + hw) | s/epoch |",
                  "|---|---|---|---|---|---|---|---|---|---|---|---|"]
        trs.sort(key=lambda r: (r.family != "classical",
                                r.config.get("options", {}).get("adc_bits", 0),
                                r.config.get("options", {}).get("activation") != "nl_adc"))
        for r in trs:
            opts, train = r.config.get("options", {}), r.config.get("train", {})
            if r.family == "classical":
                cells = [f"float {r.label}", "32-bit float", r.cell, "", ""]
            else:
                kind = opts.get("linear_adc")
                design = ("NL-ADC" if opts.get("activation") == "nl_adc"
                          else "linear " + (f"{kind} " if kind else "") + "ADC + lookup")
                cells = [design, str(opts.get("adc_bits", "")),
                         _mean_std(r.metrics.get(f"float_{metric}")),
                         _mean_std(r.metrics.get(f"converted_{metric}")), r.cell]
            cost = r.cost
            cells += ([_si(cost["energy_pj"] * 1e-12, "J"), _si(cost["latency_ns"] * 1e-9, "s"),
                       f"{cost['tops_per_w']:.3g}"] if "energy_pj" in cost else ["", "", ""])
            float_epochs = train.get("float_epochs", 0)
            epochs = (f"{float_epochs} + {r.epochs - float_epochs:g}" if float_epochs
                      else f"{r.epochs:g}")
            cells += [str(r.seeds), str(r.params), epochs, f"{r.seconds_per_epoch:.2f}"]
            parts.append("| " + " | ".join(cells) + " |")
        parts.append("")
    os.makedirs(figure_dir, exist_ok=True)
    for title, make in (("Accuracy against ADC bits", plots.bits_figure),
                        ("Energy per inference", plots.energy_figure)):
        name = make(rows, figure_dir)
        if name:
            parts += [f"![{title}]({link_dir}/{name})", ""]
    return "\n".join(parts).rstrip()
