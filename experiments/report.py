"""Comparison tables and the Markdown report, built only from the results store."""

from __future__ import annotations

import os
import statistics
from dataclasses import dataclass

from experiments.store import Run
from experiments.tasks import METRICS

README_START = "<!-- results:start -->"
README_END = "<!-- results:end -->"


@dataclass(frozen=True)
class Row:
    """Aggregate of one (task, model, size, backend) over its stored seeds."""

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


def aggregate(runs: list[Run]) -> list[Row]:
    """One row per (task, model, size, backend, config), best model first within a task."""
    groups: dict[tuple, list[Run]] = {}
    for r in runs:
        groups.setdefault((r.task, r.model, r.size, r.backend, r.config_hash), []).append(r)
    rows = []
    for (task, model, size, backend, _h), rs in groups.items():
        values = [r.value for r in rs]
        rows.append(Row(task, model, rs[0].family, backend, size, rs[0].metric,
                        statistics.fmean(values),
                        statistics.stdev(values) if len(values) > 1 else 0.0,
                        len(rs), rs[0].params, statistics.fmean(r.epochs for r in rs),
                        statistics.fmean(r.seconds_per_epoch for r in rs)))
    rows.sort(key=lambda r: (r.task, -r.mean if METRICS[r.metric] else r.mean))
    return rows


def text_table(rows: list[Row]) -> str:
    """A fixed-width table for the terminal."""
    head = ["task", "model", "backend", "metric", "mean ± std", "seeds", "params", "epochs",
            "s/epoch"]
    body = [[r.task, r.model, r.backend, r.metric + ("↑" if METRICS[r.metric] else "↓"),
             r.cell, str(r.seeds), str(r.params), f"{r.epochs:g}",
             f"{r.seconds_per_epoch:.3f}"] for r in rows]
    return fixed_width(head, body)


def markdown_table(rows: list[Row]) -> str:
    """The comparison table in Markdown: metric mean ± std over seeds, seeds, parameters,
    epochs and seconds per epoch for every row."""
    lines = ["| task | model | family | backend | metric | mean ± std | seeds | params | epochs "
             "| s/epoch |", "|---|---|---|---|---|---|---|---|---|---|"]
    for r in rows:
        arrow = "↑" if METRICS[r.metric] else "↓"
        lines.append(f"| {r.task} | {r.model} | {r.family} | {r.backend} | {r.metric} {arrow} "
                     f"| {r.cell} | {r.seeds} | {r.params} | {r.epochs:g} "
                     f"| {r.seconds_per_epoch:.3f} |")
    return "\n".join(lines)


def write_report(runs: list[Run], out_dir: str, title: str = "qrnn comparison") -> str:
    """Write ``report.md`` and one figure per task into ``out_dir``; return the report path."""
    from experiments.plots import task_figure

    if not runs:
        raise ValueError("no stored runs match; run `qrnn compare` or `qrnn train` first")
    try:
        os.makedirs(out_dir, exist_ok=True)
    except OSError as exc:
        raise ValueError(f"out={out_dir!r} cannot be created: {exc.strerror}") from None
    rows = aggregate(runs)
    sizes = sorted({r.size for r in rows})
    parts = [f"# {title}", "",
             f"{len(runs)} runs from the results store; size {', '.join(sizes)}. Mean ± sample "
             "standard deviation over seeds (one seed: its value, no spread); params = "
             "trainable parameters; s/epoch = wall seconds per training epoch on the machine "
             "that ran it. ↓ lower is better, ↑ higher is better.", "", markdown_table(rows), ""]
    for task in sorted({r.task for r in runs}):
        task_runs = [r for r in runs if r.task == task]
        name = f"{task}.png"
        task_figure(task_runs, aggregate(task_runs), os.path.join(out_dir, name))
        parts += [f"## {task}", "", f"![{task}]({name})", ""]
    path = os.path.join(out_dir, "report.md")
    with open(path, "w", encoding="utf-8") as fh:
        fh.write("\n".join(parts))
    return path


def update_readme(readme: str, runs: list[Run]) -> None:
    """Replace the text between the results markers of ``readme`` by the current table."""
    with open(readme, encoding="utf-8") as fh:
        text = fh.read()
    if README_START not in text or README_END not in text:
        raise ValueError(f"{readme!r} has no {README_START} ... {README_END} markers")
    head, rest = text.split(README_START, 1)
    _old, tail = rest.split(README_END, 1)
    table = markdown_table(aggregate(runs))
    with open(readme, "w", encoding="utf-8") as fh:
        fh.write(f"{head}{README_START}\n{table}\n{README_END}{tail}")
