"""Run a grid of (model, task, seed) through any ``concurrent.futures.Executor``.

Only the calling process writes to the store: workers (threads, processes, a Dask cluster)
return finished :class:`~experiments.store.Run` rows and each is stored the moment it
arrives, so an interrupted sweep (Ctrl-C, a crash, a killed job) keeps every finished run and
a second call recomputes nothing that is stored.

Two sweeps on one store at once share the work: a run is claimed (a lease in the store,
renewed while it is computed) before it is computed, and a run another live process holds
is waited for and then read from the store, never computed twice.
"""

from __future__ import annotations

import concurrent.futures as cf
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from experiments.models import model_spec
from experiments.runner import RunSpec, execute
from experiments.store import Run, Store
from experiments.suites import Entry, Suite

SCHEDULER_TIMEOUT = 10.0
POLL_SECONDS = 0.5
RUN_ERRORS = (ValueError, FloatingPointError, RuntimeError)


@dataclass
class SweepReport:
    """What a sweep did: runs computed now, runs found in the store (stored earlier or by
    another process meanwhile), runs that failed (spec, one-line error)."""

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
    entries' own; ``backend`` (not None) overrides the entries' own. Runs follow the suite's
    task order (the tasks of ``task_names`` the suite has, then the others as given), so a
    suite that lists its long tasks first starts them first."""
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
    if task_names is None:
        order = list(suite.tasks)
    else:
        task_names = list(dict.fromkeys(task_names))
        order = ([t for t in suite.tasks if t in task_names]
                 + [t for t in task_names if t not in suite.tasks])
    for task in order:
        for entry, spec in zip(entries, specs, strict=True):
            if entry.tasks is not None and task not in entry.tasks:
                continue
            declared = {o.name for o in spec.options}
            opts = {**entry.options, **{k: v for k, v in options.items() if k in declared}}
            runs += [RunSpec(model=entry.model, task=task, size=suite.size, seed=seed,
                             backend=backend if backend is not None else entry.backend,
                             hidden_size=entry.hidden_size,
                             train={**entry.train, **overrides}, options=opts,
                             task_options=dict(entry.task_options)).resolved()
                     for seed in seeds]
    return runs


class DaskExecutor(cf.Executor):
    """A Dask ``distributed`` client as a ``concurrent.futures.Executor`` that owns the
    client: ``shutdown`` cancels what has not run (``cancel_futures``) and closes it."""

    def __init__(self, client) -> None:
        self.client = client
        self._inner = client.get_executor(pure=False)

    def submit(self, fn, /, *args, **kwargs) -> cf.Future:
        return self._inner.submit(fn, *args, **kwargs)

    def shutdown(self, wait: bool = True, *, cancel_futures: bool = False) -> None:
        self._inner.shutdown(wait=wait and not cancel_futures)
        self.client.close()


def dask_executor(address: str, timeout: float = SCHEDULER_TIMEOUT) -> DaskExecutor:
    """An executor on the Dask scheduler at ``address`` (``pip install 'qrnn[dist]'``); a
    scheduler that does not answer within ``timeout`` seconds is a one-line ``ValueError``."""
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"scheduler timeout={timeout!r}: must be a number of seconds > 0")
    try:
        from distributed import Client
    except ImportError:
        raise ValueError("--scheduler needs Dask distributed: pip install 'qrnn[dist]'") from None
    try:
        client = Client(address, timeout=f"{timeout}s")
    except (OSError, TimeoutError) as exc:
        raise ValueError(f"no Dask scheduler answered at {address!r} within {timeout:g} s "
                         f"({type(exc).__name__}); nothing was run. Start one with `dask "
                         "scheduler` or check the address (--scheduler-timeout sets the "
                         "wait)") from None
    except (ValueError, TypeError) as exc:
        raise ValueError(f"--scheduler {address!r}: {exc}") from None
    return DaskExecutor(client)


class _Leases:
    """The runs this sweep holds, renewed from a background thread until closed."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.held: set[tuple[str, int]] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, daemon=True)
        self._thread.start()

    def _renew(self) -> None:
        while not self._stop.wait(self.store.lease_seconds / 4):
            if self.held:
                try:
                    self.store.renew()
                except ValueError:  # the store busy for long: try again at the next tick
                    continue

    def claim(self, spec: RunSpec, force: bool) -> str:
        state = self.store.claim(*spec.key(), force=force)
        if state == "claimed":
            self.held.add(spec.key())
        return state

    def done(self, spec: RunSpec) -> None:
        self.held.discard(spec.key())

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        for key in list(self.held):
            self.store.release(*key)
        self.held.clear()


def sweep(specs: list[RunSpec], store: Store, *, executor: cf.Executor | None = None,
          force: bool = False, on_event: Callable[[str, RunSpec, object], None] | None = None,
          poll: float = POLL_SECONDS, quiet: bool = True) -> SweepReport:
    """Run every spec not already in ``store`` (all of them with ``force``).

    ``executor=None`` runs in this process, one run after another (each claimed just before
    it starts, so two such sweeps split a grid between them); with an executor every free run
    is claimed and submitted at once. Runs held by another live process are waited for
    (checked every ``poll`` seconds) and read from the store when they arrive; if that
    process dies or its run fails, this sweep computes the run. ``on_event(kind, spec,
    payload)`` is called with ``"reused"``, ``"done"`` (payload: the Run) or ``"failed"``
    (payload: the error text); ``quiet=False`` shows progress bars of in-process runs. Runs
    that raise ``ValueError``/``FloatingPointError``/``RuntimeError`` (and, on an executor, any
    error such as a lost worker) are failed, not stored. A ``KeyboardInterrupt`` cancels what
    has not started and is re-raised after every finished run has been stored and every lease
    released.
    """
    report = SweepReport()
    notify = on_event or (lambda *_: None)
    pending: list[RunSpec] = []
    for spec in specs:
        stored = None if force else store.get(*spec.key())
        if stored is not None:
            report.reused.append(stored)
            notify("reused", spec, stored)
        else:
            pending.append(spec)
    leases = _Leases(store)
    futures: dict[cf.Future, RunSpec] = {}
    waited: set[tuple[str, int]] = set()

    def finish(spec: RunSpec, fn: Callable[[], Run], errors=RUN_ERRORS) -> None:
        try:
            run = fn()
        except errors as exc:
            text = str(exc) if isinstance(exc, RUN_ERRORS) else f"{type(exc).__name__}: {exc}"
            store.release(*spec.key())
            leases.done(spec)
            report.failed.append((spec, text))
            notify("failed", spec, text)
            return
        store.put(run)
        leases.done(spec)
        report.computed.append(run)
        notify("done", spec, run)

    def take(spec: RunSpec) -> bool:
        """Claim ``spec`` and start it; False while another process holds it."""
        # force recomputes rows stored before this sweep, not ones another sweep just wrote
        state = leases.claim(spec, force and spec.key() not in waited)
        if state == "busy":
            waited.add(spec.key())
            return False
        if state == "stored":
            run = store.get(*spec.key())
            report.reused.append(run)
            notify("reused", spec, run)
        elif executor is None:
            finish(spec, lambda: execute(spec, quiet=quiet))
        else:
            futures[executor.submit(execute, spec)] = spec
        return True

    try:
        while pending or futures:
            pending = [spec for spec in pending if not take(spec)]
            if futures:
                ready, _ = cf.wait(futures, timeout=poll if pending else None,
                                   return_when=cf.FIRST_COMPLETED)
                for future in ready:
                    finish(futures.pop(future), future.result, Exception)
            elif pending:
                threading.Event().wait(poll)
    except KeyboardInterrupt:
        for future in futures:
            future.cancel()
        raise
    finally:
        leases.close()
    return report
