"""Run a grid of (model, task, seed) through any ``concurrent.futures.Executor``.

Only the calling process writes to the store: workers (threads, processes, a Dask cluster)
return finished :class:`~experiments.store.Run` rows and each is stored the moment it
arrives, so an interrupted sweep (Ctrl-C, a crash, a killed job) keeps every finished run and
a second call recomputes nothing that is stored.
"""

from __future__ import annotations

import concurrent.futures as cf
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from experiments.models import model_spec
from experiments.runner import RunSpec, execute
from experiments.store import Run, Store
from experiments.suites import Entry, Suite


@dataclass
class SweepReport:
    """What a sweep did: runs computed now, runs found in the store, runs that failed
    (spec, one-line error)."""

    computed: list[Run] = field(default_factory=list)
    reused: list[Run] = field(default_factory=list)
    failed: list[tuple[RunSpec, str]] = field(default_factory=list)


def grid(models: Iterable[str], task_names: Iterable[str], seeds: Iterable[int], **common
         ) -> list[RunSpec]:
    """Every (task, model, seed) combination as resolved, validated specs."""
    return [RunSpec(model=m, task=t, seed=s, **common).resolved()
            for t in task_names for m in models for s in seeds]


def suite_grid(suite: Suite, seeds: Iterable[int], *, models: Iterable[str] | None = None,
               task_names: Iterable[str] | None = None, options: dict | None = None,
               backend: str | None = None, train: dict | None = None) -> list[RunSpec]:
    """The runs of ``suite`` as resolved specs: every (task, entry, seed), optionally only the
    entries of ``models`` (a model the suite has no entry for runs with its defaults) and only
    ``task_names``. ``options`` go to every selected model that declares them (an option no
    selected model declares is an error); ``train`` settings that are not None override the
    entries' own."""
    entries = list(suite.entries)
    if models is not None:
        models = list(models)
        entries = [e for e in entries if e.model in models]
        entries += [Entry(m) for m in models if m not in {e.model for e in entries}]
    options = dict(options or {})
    specs = [model_spec(e.model) for e in entries]
    for name in options:
        if not any(name in {o.name for o in spec.options} for spec in specs):
            raise ValueError(f"option {name!r} is not declared by any selected model "
                             f"({', '.join(dict.fromkeys(e.model for e in entries))})")
    overrides = {k: v for k, v in (train or {}).items() if v is not None}
    seeds = list(seeds)
    runs = []
    for task in (list(task_names) if task_names is not None else suite.tasks):
        for entry, spec in zip(entries, specs, strict=True):
            if entry.tasks is not None and task not in entry.tasks:
                continue
            declared = {o.name for o in spec.options}
            opts = {**entry.options, **{k: v for k, v in options.items() if k in declared}}
            runs += [RunSpec(model=entry.model, task=task, size=suite.size, seed=seed,
                             backend=backend, hidden_size=entry.hidden_size,
                             train={**entry.train, **overrides}, options=opts).resolved()
                     for seed in seeds]
    return runs


def dask_executor(address: str):
    """A Dask ``distributed`` client as an Executor (``pip install 'qrnn[dist]'``)."""
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--scheduler needs Dask distributed: pip install 'qrnn[dist]'") from None
    return Client(address).get_executor()


def sweep(specs: list[RunSpec], store: Store, *, executor: cf.Executor | None = None,
          force: bool = False, on_event: Callable[[str, RunSpec, object], None] | None = None
          ) -> SweepReport:
    """Run every spec not already in ``store`` (all of them with ``force``).

    ``executor=None`` runs in this process, one run after another. ``on_event(kind, spec,
    payload)`` is called with ``"reused"``, ``"done"`` (payload: the Run) or ``"failed"``
    (payload: the error text). A ``KeyboardInterrupt`` cancels what has not started and is
    re-raised after every finished run has been stored.
    """
    report = SweepReport()
    notify = on_event or (lambda *_: None)
    todo = []
    for spec in specs:
        stored = None if force else store.get(*spec.key())
        if stored is not None:
            report.reused.append(stored)
            notify("reused", spec, stored)
        else:
            todo.append(spec)

    def finish(spec: RunSpec, fn: Callable[[], Run]) -> None:
        try:
            run = fn()
        except (ValueError, FloatingPointError, RuntimeError) as exc:
            report.failed.append((spec, str(exc)))
            notify("failed", spec, str(exc))
            return
        store.put(run)
        report.computed.append(run)
        notify("done", spec, run)

    if executor is None:
        for spec in todo:
            finish(spec, lambda spec=spec: execute(spec))
        return report
    futures = {executor.submit(execute, spec): spec for spec in todo}
    try:
        for future in cf.as_completed(futures):
            finish(futures[future], future.result)
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()
        raise
    return report
