"""The README's generated blocks: each suite's tables between ``<!-- NAME:start -->`` and
``<!-- NAME:end -->`` markers, rewritten by ``qrnn report --readme README.md --suite S`` from
the stored runs of that suite only, so the README states what the store holds.

- ``quick`` -> ``results``: the comparison table of :func:`experiments.report.markdown_table`;
- ``paper`` -> ``quantum-paper``: the quantum reproduction (test MSE against the published
  QLSTM ranges, parameters, seconds per epoch), how long the whole table took from the first
  run's start to the last one's end, and how much faster the reservoir's readout fits than
  the QLSTM trains.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable
from datetime import datetime

from experiments.report import aggregate, fmt_number, markdown_table
from experiments.store import Run

QLSTM_TARGETS = {"damped_shm": 6e-4, "bessel_j2": 1.3e-3, "narma5": 5e-4, "narma10": 4e-4,
                 "delayed_control": 6e-3}
"""Upper ends of the published QLSTM test-MSE ranges (window 4 -> next, 100 epochs)."""
QUANTUM_TABLE_MINUTES = 10.0
"""Target for the whole six-series quantum table on a 2-core machine."""


def _span_minutes(runs: list[Run]) -> float:
    """Wall minutes from the first run's start to the last run's end."""
    start = min(datetime.fromisoformat(r.started_at) for r in runs)
    end = max(datetime.fromisoformat(r.finished_at) for r in runs)
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


def quantum_paper_block(runs: list[Run]) -> str:
    """The quantum part of the paper suite: one row per (task, model), then the whole
    table's wall time and the reservoir-against-QLSTM training-time ratios."""
    from experiments.suites import PAPER_SERIES

    runs = [r for r in runs if r.task in PAPER_SERIES]
    if not runs:
        raise ValueError("no runs of the paper suite's time series in the store")
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
    verdict = "met" if minutes < QUANTUM_TABLE_MINUTES else "NOT met"
    ratios = {task: qlstm / train_seconds[task, "qreservoir"]
              for (task, model), qlstm in train_seconds.items()
              if model == "qlstm" and train_seconds.get((task, "qreservoir"))}
    text = [*lines, "",
            f"{len(runs)} runs; the whole table took {minutes:.1f} minutes from the first run's "
            f"start to the last one's end (target < {QUANTUM_TABLE_MINUTES:g} minutes: "
            f"{verdict})."]
    if ratios:
        low, high = min(ratios.values()), max(ratios.values())
        text.append(f"The reservoir fits its readout {fmt_number(low)}× to {fmt_number(high)}× "
                    "faster than the QLSTM trains on the same task (mean training seconds; "
                    "target ≥ 10×).")
    return "\n".join(text)


BLOCKS: dict[str, tuple[tuple[str, Callable[[list[Run]], str]], ...]] = {
    "quick": (("results", lambda runs: markdown_table(aggregate(runs))),),
    "paper": (("quantum-paper", quantum_paper_block),),
}
"""Per suite, the README blocks its runs generate: (marker name, text from the runs)."""


def update_readme(readme: str, suite_name: str, runs: list[Run]) -> list[str]:
    """Rewrite the blocks of ``suite_name`` in the file ``readme`` from ``runs`` (the suite's
    stored runs); return the block names written. A suite without blocks or a README without
    a block's markers is refused with one line, before anything is written."""
    if suite_name not in BLOCKS:
        raise ValueError(f"suite {suite_name!r} has no README block; suites with one: "
                         f"{', '.join(BLOCKS)}")
    with open(readme, encoding="utf-8") as fh:
        text = fh.read()
    for name, make in BLOCKS[suite_name]:
        start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
        if start not in text or end not in text:
            raise ValueError(f"{readme!r} has no {start} ... {end} markers")
        head, rest = text.split(start, 1)
        _old, tail = rest.split(end, 1)
        text = f"{head}{start}\n{make(runs)}\n{end}{tail}"
    with open(readme, "w", encoding="utf-8") as fh:
        fh.write(text)
    return [name for name, _ in BLOCKS[suite_name]]
