"""The README's generated blocks: each suite's tables between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->`` markers, rewritten by ``qrnn report --readme README.md --suite S`` from
the stored runs of that suite only, so the README states what the store holds.

- ``quick`` -> ``results``: the comparison table of :func:`experiments.report.markdown_table`;
- ``paper`` -> ``quantum-paper``: the quantum reproduction (test MSE against the published
  QLSTM ranges, parameters, seconds per epoch), how long the whole table took from the first
  run's start to the last one's end, and how much faster the reservoir's readout fits than
  the QLSTM trains; and ``analog-paper``: the analog reproduction (float, converted and
  fine-tuned metrics per ADC design and bits, energy, latency, TOPS/W; its figures written to
  ``docs/analog-paper/`` beside the README).

A block whose runs are not in the store (e.g. only the quantum half of the paper suite has
run) is left as it is; a suite none of whose blocks has runs is refused.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable
from datetime import datetime

from experiments.report import aggregate, fmt_number, fmt_si, markdown_table
from experiments.store import Run
from experiments.tasks import METRICS

QLSTM_TARGETS = {"damped_shm": 6e-4, "bessel_j2": 1.3e-3, "narma5": 5e-4, "narma10": 4e-4,
                 "delayed_control": 6e-3}
"""Upper ends of the published QLSTM test-MSE ranges (window 4 -> next, 100 epochs)."""
QUANTUM_TABLE_MINUTES = 10.0
"""Target for the whole six-series quantum table on a 2-core machine."""


def _span_minutes(runs: list[Run]) -> float | None:
    """Wall minutes from the first run's start to the last run's end (None when a run has
    no readable time stamps)."""
    try:
        start = min(datetime.fromisoformat(r.started_at) for r in runs)
        end = max(datetime.fromisoformat(r.finished_at) for r in runs)
    except (TypeError, ValueError):
        return None
    return (end - start).total_seconds() / 60


def _target_cell(task: str, values: list[float]) -> str:
    target = QLSTM_TARGETS.get(task)
    if target is None:
        return ""
    met = sum(v <= target for v in values)
    if met == len(values):
        return f"≤ {target:.1e}: met (every seed)"
    mean = statistics.fmean(values)
    verdict = "met on the mean" if mean <= target else f"NOT met ({mean / target:.1f}× over)"
    return f"≤ {target:.1e}: {verdict}; {met} of {len(values)} seeds"


def quantum_paper_block(runs: list[Run]) -> str | None:
    """The quantum part of the paper suite (None without runs on its series): one row per
    (task, model), then the whole table's wall time and the reservoir-against-QLSTM
    training-time ratios."""
    from experiments.suites import PAPER_SERIES

    runs = [r for r in runs if r.task in PAPER_SERIES]
    if not runs:
        return None
    lines = ["| task | model | test MSE (mean ± std) | seeds | QLSTM target | params | epochs "
             "| s/epoch |", "|---|---|---|---|---|---|---|---|"]
    train_seconds: dict[tuple[str, str], float] = {}
    for row in aggregate(runs):
        mine = [r for r in runs if r.config_hash == row.config_hash]
        target = _target_cell(row.task, [r.value for r in mine]) if row.model == "qlstm" else ""
        lines.append(f"| {row.task} | {row.label} | {row.cell} | {row.seeds} | {target} "
                     f"| {row.params} | {row.epochs:g} | {row.seconds_per_epoch:.3f} |")
        train_seconds[row.task, row.model] = row.seconds_per_epoch * row.epochs
    minutes = _span_minutes(runs)
    ratios = {task: qlstm / train_seconds[task, "qreservoir"]
              for (task, model), qlstm in train_seconds.items()
              if model == "qlstm" and train_seconds.get((task, "qreservoir"))}
    text = [*lines, ""]
    if minutes is not None:
        verdict = "met" if minutes < QUANTUM_TABLE_MINUTES else "NOT met"
        text.append(f"{len(runs)} runs; the whole table took {minutes:.1f} minutes from the "
                    f"first run's start to the last one's end (target < "
                    f"{QUANTUM_TABLE_MINUTES:g} minutes: {verdict}).")
    if ratios:
        low, high = min(ratios.values()), max(ratios.values())
        text.append(f"The reservoir fits its readout {low:.0f}× to {high:.0f}× "
                    "faster than the QLSTM trains on the same task (mean training seconds; "
                    "target ≥ 10×).")
    return "\n".join(text)


def _mean_std(stat) -> str:
    return "–" if stat is None else f"{fmt_number(stat[0])} ± {fmt_number(stat[1])}"


def analog_paper_markdown(runs: list[Run], figure_dir: str, link_dir: str) -> str | None:
    """The analog reproduction (None when no analog run trained float first): per task whose
    analog runs trained float first
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
        return None
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
            cells += ([fmt_si(cost["energy_pj"] * 1e-12, "J"),
                       fmt_si(cost["latency_ns"] * 1e-9, "s"), f"{cost['tops_per_w']:.3g}"]
                      if "energy_pj" in cost else ["", "", ""])
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


def _analog_block(runs: list[Run], readme: str) -> str | None:
    folder = os.path.join(os.path.dirname(os.path.abspath(readme)), "docs", "analog-paper")
    return analog_paper_markdown(runs, folder, "docs/analog-paper")


BLOCKS: dict[str, tuple[tuple[str, Callable[[list[Run], str], str | None]], ...]] = {
    "quick": (("results", lambda runs, _readme: markdown_table(aggregate(runs))),),
    "paper": (("quantum-paper", lambda runs, _readme: quantum_paper_block(runs)),
              ("analog-paper", _analog_block)),
}
"""Per suite, the README blocks its runs generate: (marker name, text from the runs and the
README's path, or None when the runs hold nothing for the block)."""


def update_readme(readme: str, suite_name: str, runs: list[Run]) -> list[str]:
    """Rewrite the blocks of ``suite_name`` in the file ``readme`` from ``runs`` (the suite's
    stored runs); return the block names written. Refused with one line, before the README is
    rewritten: a suite without blocks, runs that hold nothing for any block of the suite, a
    README without the markers of a block the runs fill (a block's figures may already have
    been drawn then)."""
    if suite_name not in BLOCKS:
        raise ValueError(f"suite {suite_name!r} has no README block; suites with one: "
                         f"{', '.join(BLOCKS)}")
    with open(readme, encoding="utf-8") as fh:
        text = fh.read()
    bodies = {name: make(runs, readme) for name, make in BLOCKS[suite_name]}
    bodies = {name: body for name, body in bodies.items() if body is not None}
    if not bodies:
        raise ValueError(f"the runs hold nothing for the {suite_name} suite's README blocks "
                         f"({', '.join(n for n, _ in BLOCKS[suite_name])})")
    for name, body in bodies.items():
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start not in text or end not in text:
            raise ValueError(f"{readme!r} has no {start} ... {end} markers")
        head, rest = text.split(start, 1)
        _old, tail = rest.split(end, 1)
        text = f"{head}{start}\n{body}\n{end}{tail}"
    with open(readme, "w", encoding="utf-8") as fh:
        fh.write(text)
    return list(bodies)
