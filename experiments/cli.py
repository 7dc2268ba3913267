"""The ``qrnn`` command: tasks, models, train, compare, report, store, bench.

Only the standard library is imported before the arguments are parsed, so ``--help`` and the
listings answer at once; each command imports what it needs.
"""

from __future__ import annotations

import argparse
import json
import os
import sys

BENCHES = {"quantum": "experiments.quantum_bench", "analog": "analog.bench",
           "classical": "kernels.bench"}


def _csv(text: str | None) -> list[str] | None:
    return None if text is None else [t.strip() for t in text.split(",") if t.strip()]


def _positive(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"{value} must be >= 1")
    return value


def _options(pairs: list[str] | None) -> dict:
    """``--option name=value`` pairs as a dict of strings (each model parses its own)."""
    out = {}
    for pair in pairs or ():
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise ValueError(f"--option {pair!r}: expected name=value (see `qrnn models`)")
        out[name.strip()] = value.strip()
    return out


def _store(path: str | None, readonly: bool = False):
    """The results store: checked (integrity, schema, writable) before any work starts;
    ``readonly`` never creates or writes it."""
    from experiments.store import Store

    return Store(path, readonly=readonly)


def cmd_tasks(args) -> int:
    from experiments import tasks

    rows = []
    for name, spec in tasks.REGISTRY.items():
        missing = spec.missing()
        rows.append({"name": name, "kind": spec.kind, "metric": spec.metric,
                     "sizes": list(tasks.SIZES), "source": spec.source, "licence": spec.licence,
                     "available": not missing,
                     "missing": missing, "options": sorted(spec.options)})
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        status = "yes" if r["available"] else f"no (install {', '.join(r['missing'])})"
        print(f"{r['name']:<21} {r['kind']:<15} {r['metric']:<12} available: {status:<24} "
              f"{r['source']}")
    return 0


def cmd_models(args) -> int:
    from experiments.models import MODELS

    rows = [s.describe() for s in MODELS.values()]
    if args.json:
        print(json.dumps(rows, indent=1))
        return 0
    for r in rows:
        backends = ", ".join(r["backends"]) + (", or any PennyLane device" if r["open_backends"]
                                               else "")
        print(f"{r['name']:<12} {r['family']:<10} {r['description']}")
        print(f"{'':<12} backends: {backends}"
              + (f"; hidden size {r['hidden_size']} unless --hidden-size"
                 if r["hidden_size"] is not None else ""))
        for o in r["options"]:
            print(f"{'':<12} --option {o['name']}=...  {o['help']} ({o['allowed']}; "
                  f"default {o['default']})")
    return 0


def _train_overrides(args) -> dict:
    return {"epochs": args.epochs, "lr": args.lr, "batch_size": args.batch_size,
            "optimizer": args.optimizer, "patience": args.patience, "dtype": args.dtype,
            "float_epochs": args.float_epochs, "finetune_lr": args.finetune_lr}


def cmd_train(args) -> int:
    from experiments.runner import RunSpec
    from experiments.sweep import sweep

    options = {}
    if args.corpus is not None:
        options["corpus"] = args.corpus
    spec = RunSpec(model=args.model, task=args.task, size=args.size, seed=args.seed,
                   backend=args.backend, hidden_size=args.hidden_size,
                   train=_train_overrides(args), task_options=options,
                   options=_options(args.option)).resolved()
    with _store(args.store) as store:
        report = sweep([spec], store, force=args.force, quiet=args.quiet)
    if report.failed:
        raise ValueError(report.failed[0][1])
    cached = not report.computed
    run = report.reused[0] if cached else report.computed[0]
    out = {"model": run.model, "task": run.task, "size": run.size, "seed": run.seed,
           "backend": run.backend, "metric": run.metric, "value": run.value,
           "metrics": run.metrics, "params": run.params, "epochs": run.epochs,
           "seconds": run.seconds, "seconds_per_epoch": run.seconds_per_epoch,
           "config_hash": run.config_hash, "cached": cached}
    if args.json:
        print(json.dumps(out))
    else:
        extra = "  (stored earlier; --force recomputes)" if cached else ""
        print(f"{run.model} on {run.task} ({run.size}, seed {run.seed}): test {run.metric} = "
              f"{run.value:.6g}  params {run.params}  epochs {run.epochs}  "
              f"{run.seconds:.1f} s{extra}")
    return 0


def _executor(args):
    """None (this process), a local spawn-process pool, or a Dask cluster."""
    if args.scheduler:
        from experiments.sweep import dask_executor

        return dask_executor(args.scheduler, args.scheduler_timeout)
    if args.workers > 1:
        import concurrent.futures as cf
        import multiprocessing

        # spawn, not fork: a forked child inherits torch's thread pools in a broken state
        return cf.ProcessPoolExecutor(args.workers,
                                      mp_context=multiprocessing.get_context("spawn"))
    return None


def cmd_compare(args) -> int:
    from experiments.report import aggregate, text_table, write_report
    from experiments.suites import suite
    from experiments.sweep import suite_grid, sweep

    s = suite(args.suite)
    seeds = range(args.seeds if args.seeds is not None else s.seeds)
    specs = suite_grid(s, seeds, models=_csv(args.models), task_names=_csv(args.tasks),
                       options=_options(args.option), backend=args.backend,
                       train=_train_overrides(args))
    if not specs:
        raise ValueError(f"suite {s.name!r} selects no runs (its entries: "
                         f"{', '.join(s.models) or 'none yet'})")
    store = _store(args.store)  # checked before waiting for a scheduler or workers
    try:
        executor = _executor(args)
    except BaseException:
        store.close()
        raise
    total = len(specs)
    done = [0]

    def on_event(kind, spec, payload):
        done[0] += 1
        label = f"[{done[0]}/{total}] {spec.model} {spec.task} seed {spec.seed}"
        if kind == "failed":
            print(f"{label}: FAILED: {payload}", file=sys.stderr)
        elif not args.quiet:
            note = " (stored)" if kind == "reused" else f" {payload.seconds:.1f} s"
            print(f"{label}: {payload.metric} {payload.value:.4g}{note}", file=sys.stderr)

    with store:
        try:
            report = sweep(specs, store, executor=executor, force=args.force, on_event=on_event)
        except KeyboardInterrupt:
            print(f"\ninterrupted: finished runs are stored in {store.path}; run the same "
                  "command again to resume", file=sys.stderr)
            return 130
        finally:
            if executor is not None:
                executor.shutdown(cancel_futures=True)
        runs = report.computed + report.reused
        print(text_table(aggregate(runs)))
        if runs:
            path = write_report(runs, args.out, title=f"qrnn compare --suite {s.name}")
            print(f"\nreport: {path}  ({len(report.computed)} computed, {len(report.reused)} "
                  f"from the store {store.path})")
    if report.failed:
        print(f"{len(report.failed)} runs failed (see above)", file=sys.stderr)
        return 1
    return 0


def cmd_report(args) -> int:
    from experiments.readme_tables import update_readme
    from experiments.report import aggregate, text_table, write_report

    with _store(args.store, readonly=True) as store:
        runs = store.runs(models=_csv(args.models), tasks=_csv(args.tasks), size=args.size)
        if args.readme:
            suite_runs = _suite_runs(store, args.suite)
    if not runs:
        raise ValueError(f"no stored runs match in {store.path}")
    print(text_table(aggregate(runs)))
    print(f"\nreport: {write_report(runs, args.out)}")
    if args.readme:
        blocks = update_readme(args.readme, args.suite, suite_runs)
        print(f"{', '.join(blocks)} in {args.readme} rewritten from the {len(suite_runs)} runs "
              f"of the {args.suite} suite")
    return 0


def _suite_runs(store, name: str) -> list:
    """The stored runs of suite ``name`` at its default settings (ad-hoc runs left out)."""
    from experiments.suites import suite
    from experiments.sweep import suite_grid

    s = suite(name)
    keys = {spec.key() for spec in suite_grid(s, range(s.seeds))}
    runs = [r for r in store.runs(size=s.size) if (r.config_hash, r.seed) in keys]
    if not runs:
        raise ValueError(f"no runs of the {name} suite in {store.path}; run `qrnn compare "
                         f"--suite {name}` first (the README table holds that suite only)")
    return runs


def cmd_store(args) -> int:
    from experiments.salvage import recover
    from experiments.store import Store, default_path

    if args.action == "check":
        with Store(args.path, readonly=True) as store:
            count = len(store.runs())
        print(f"{store.path}: intact, {count} runs")
        return 0
    if args.target is None:
        raise ValueError("qrnn store recover needs a target: qrnn store recover BROKEN NEW")
    copied, lost = recover(args.path or default_path(), args.target)
    print(f"{copied} runs copied into {args.target}; {lost} unreadable")
    return 0


def cmd_bench(args) -> int:
    import importlib

    from experiments.report import fixed_width, fmt_number

    try:
        module = importlib.import_module(BENCHES[args.family])
    except ModuleNotFoundError as exc:
        raise ValueError(f"benchmark {args.family!r} is not available: {exc}") from None
    result = module.run(quick=args.quick)
    out = args.out or os.path.join("bench-results", f"{args.family}.json")
    os.makedirs(os.path.dirname(os.path.abspath(out)), exist_ok=True)
    with open(out, "w", encoding="utf-8") as fh:
        json.dump(result, fh, indent=1)
    if args.json:
        print(json.dumps(result, indent=1))
        return 0
    rows = result["rows"]
    print(result["title"])
    if rows:
        cols = list(dict.fromkeys(k for r in rows for k in r))
        print(fixed_width(cols, [[fmt_number(v) if isinstance(v, float) else str(v)
                                  for v in (r.get(c, "") for c in cols)] for r in rows]))
    for line in result.get("summary", []):
        print(line)
    print(f"\nwritten: {out}")
    return 0


def _common_train(p: argparse.ArgumentParser) -> None:
    p.add_argument("--epochs", type=_positive, help="training epochs (default: per task)")
    p.add_argument("--lr", type=float, help="learning rate (default: per task)")
    p.add_argument("--batch-size", type=_positive, help="batch size (default: per task)")
    p.add_argument("--optimizer", choices=("adam", "rmsprop", "sgd"))
    p.add_argument("--patience", type=int, help="early-stopping patience in epochs (0 = off)")
    p.add_argument("--dtype", choices=("float32", "float64"))
    p.add_argument("--float-epochs", type=int, help="analog models: first N epochs train the "
                   "float network, then convert and fine-tune hardware-aware (0 = off)")
    p.add_argument("--finetune-lr", type=float, help="learning rate after conversion "
                   "(default: --lr)")
    p.add_argument("--backend", help="execution backend (see `qrnn models`)")
    p.add_argument("--option", "-o", action="append", metavar="NAME=VALUE",
                   help="a model option (repeatable; `qrnn models` lists each model's)")
    p.add_argument("--store", help="results database (default: $QRNN_STORE or "
                   "./qrnn-results.sqlite)")
    p.add_argument("--force", action="store_true", help="recompute runs already stored")
    p.add_argument("--quiet", action="store_true", help="no progress output")


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="qrnn", description="Quantum, analog and classical "
                                "recurrent networks on shared tasks.")
    sub = p.add_subparsers(dest="command", required=True)
    t = sub.add_parser("tasks", help="list the shared tasks")
    t.add_argument("--json", action="store_true")
    t.set_defaults(func=cmd_tasks)
    m = sub.add_parser("models", help="list the registered models and their backends")
    m.add_argument("--json", action="store_true")
    m.set_defaults(func=cmd_models)
    tr = sub.add_parser("train", help="train one model on one task and store the result")
    tr.add_argument("--model", required=True)
    tr.add_argument("--task", required=True)
    tr.add_argument("--size", default="quick", choices=("quick", "full"))
    tr.add_argument("--seed", type=int, default=0)
    tr.add_argument("--hidden-size", type=_positive)
    tr.add_argument("--corpus", help="text file for char_lm (default: pydoc_data.topics)")
    tr.add_argument("--json", action="store_true", help="print one JSON object")
    _common_train(tr)
    tr.set_defaults(func=cmd_train)
    c = sub.add_parser("compare", help="every (model, task, seed) of a suite, table + report")
    c.add_argument("--suite", default="quick", help="quick (default), full or paper")
    c.add_argument("--models", help="comma-separated model names (default: the suite's)")
    c.add_argument("--tasks", help="comma-separated task names (default: the suite's)")
    c.add_argument("--seeds", type=_positive, help="seeds 0..N-1 (default: 3)")
    c.add_argument("--out", default="qrnn-report", help="report folder (default: qrnn-report)")
    c.add_argument("--workers", type=_positive, default=1, help="local worker processes")
    c.add_argument("--scheduler", help="Dask scheduler address, e.g. tcp://host:8786")
    c.add_argument("--scheduler-timeout", type=float, default=10.0, metavar="SECONDS",
                   help="how long to wait for the scheduler to answer (default: 10)")
    _common_train(c)
    c.set_defaults(func=cmd_compare)
    r = sub.add_parser("report", help="table and Markdown report from the results store")
    r.add_argument("--store", help="results database, opened read-only (default: "
                   "$QRNN_STORE or ./qrnn-results.sqlite)")
    r.add_argument("--out", default="qrnn-report")
    r.add_argument("--models")
    r.add_argument("--tasks")
    r.add_argument("--size", choices=("quick", "full"))
    r.add_argument("--readme", help="also rewrite the README blocks of --suite in this file "
                   "(quick: the results table; paper: the quantum and analog reproductions, "
                   "figures into docs/analog-paper/), from that suite's runs only")
    r.add_argument("--suite", default="quick",
                   help="the suite whose runs make the README blocks (default: quick)")
    r.set_defaults(func=cmd_report)
    st = sub.add_parser("store", help="check a results store, or copy the readable runs of a "
                        "damaged one into a new store")
    st.add_argument("action", choices=("check", "recover"))
    st.add_argument("path", nargs="?", help="the store (default: $QRNN_STORE or "
                    "./qrnn-results.sqlite)")
    st.add_argument("target", nargs="?", help="recover: the new store to write")
    st.set_defaults(func=cmd_store)
    b = sub.add_parser("bench", help="speed benchmarks (JSON + table)")
    b.add_argument("family", choices=sorted(BENCHES))
    b.add_argument("--quick", action="store_true", help="reduced set (about a minute)")
    b.add_argument("--json", action="store_true", help="print the JSON instead of a table")
    b.add_argument("--out", help="JSON file (default: bench-results/<family>.json)")
    b.set_defaults(func=cmd_bench)
    return p


def main(argv: list[str] | None = None) -> int:
    args = parser().parse_args(argv)
    from experiments.tasks.catalog import TaskUnavailable

    try:
        return args.func(args)
    except (ValueError, TypeError, TaskUnavailable, FloatingPointError) as exc:
        print(f"qrnn {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # output piped into `head` and the like: stop quietly
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141


if __name__ == "__main__":
    sys.exit(main())
