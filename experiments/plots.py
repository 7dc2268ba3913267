"""Matplotlib figures for the report (non-interactive Agg backend, PNG files)."""

from __future__ import annotations

import statistics

from experiments.store import Run
from experiments.tasks import METRICS


def task_figure(runs: list[Run], rows: list, path: str) -> None:
    """One task: the headline metric per model (mean ± std over seeds, bar chart) beside the
    validation loss per epoch (control tasks: the training return per episode), mean over
    seeds, one line per model. Writes a PNG to ``path``."""
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    fig, (ax_bar, ax_curve) = plt.subplots(1, 2, figsize=(10, 3.8))
    labels = [f"{r.model}\n({r.backend})" for r in rows]
    ax_bar.bar(range(len(rows)), [r.mean for r in rows], yerr=[r.std for r in rows],
               capsize=4, color="tab:blue")
    ax_bar.set_xticks(range(len(rows)), labels, fontsize=8)
    metric = rows[0].metric
    ax_bar.set_ylabel(f"test {metric} ({'higher' if METRICS[metric] else 'lower'} is better)")
    if not METRICS[metric] and all(r.mean > 0 for r in rows):
        ax_bar.set_yscale("log")
    ax_bar.set_title(f"{runs[0].task}: test {metric}")
    by_model: dict[str, list[Run]] = {}
    for r in runs:
        by_model.setdefault(f"{r.model} ({r.backend})", []).append(r)
    # control tasks store no validation loss: their curve is the training return per episode
    key, what = (("val_loss", "validation loss") if any("val_loss" in e for r in runs
                                                         for e in r.history[:1])
                 else ("train_return", "training return"))
    for label, rs in sorted(by_model.items()):
        length = min(len(r.history) for r in rs)
        if length == 0 or key not in rs[0].history[0]:
            continue
        curve = [statistics.fmean(r.history[e][key] for r in rs) for e in range(length)]
        ax_curve.plot(range(1, length + 1), curve, label=label)
    ax_curve.set_xlabel("episode" if key == "train_return" else "epoch")
    ax_curve.set_ylabel(what)
    if key == "val_loss":
        ax_curve.set_yscale("log")
    if ax_curve.get_legend_handles_labels()[0]:
        ax_curve.legend(fontsize=7)
    else:
        ax_curve.text(0.5, 0.5, "no per-epoch curve stored", ha="center", va="center",
                      transform=ax_curve.transAxes)
    ax_curve.set_title(f"{what} (mean over seeds)")
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
