"""Sweeps through executors: in-process, a process pool, a local Dask cluster."""

import concurrent.futures as cf
import multiprocessing

import pytest

from experiments.store import Store
from experiments.sweep import grid, sweep

COMMON = {"train": {"epochs": 2}}


def _values(report):
    return sorted((r.model, r.seed, r.value) for r in report.computed + report.reused)


def test_process_pool_gives_the_same_results_as_in_process(tmp_path):
    specs = grid(["elman", "mingru"], ["bessel_j2"], range(2), **COMMON)
    with Store(str(tmp_path / "a.sqlite")) as store:
        local = sweep(specs, store)
    ctx = multiprocessing.get_context("spawn")
    with Store(str(tmp_path / "b.sqlite")) as store, \
            cf.ProcessPoolExecutor(2, mp_context=ctx) as pool:
        pooled = sweep(specs, store, executor=pool)
        assert len(store.runs()) == 4
    assert _values(local) == _values(pooled)


@pytest.mark.slow
def test_dask_local_cluster_equals_in_process_on_a_mixed_family_grid(tmp_path):
    """One model of every registered family, through a LocalCluster of two worker processes
    on loopback."""
    distributed = pytest.importorskip("distributed", reason="needs the [dist] extra")
    from experiments.models import MODELS

    models = list({s.family: name for name, s in reversed(MODELS.items())}.values())
    assert {MODELS[m].family for m in models} == {"classical", "quantum", "analog"}
    # hidden 3: the quantum models put input and hidden state on the qubits of one circuit
    specs = grid(models, ["damped_shm"], range(2), hidden_size=3, **COMMON)
    with Store(str(tmp_path / "local.sqlite")) as store:
        local = sweep(specs, store)
    with distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                  host="127.0.0.1", dashboard_address=None) as cluster, \
            distributed.Client(cluster) as client, \
            Store(str(tmp_path / "d.sqlite")) as store:
        report = sweep(specs, store, executor=client.get_executor())
        assert len(report.computed) == len(specs) and len(store.runs()) == len(specs)
        again = sweep(specs, store, executor=client.get_executor())
        assert len(again.computed) == 0 and len(again.reused) == len(specs)
    assert _values(report) == _values(local)  # bit-identical, every family


def test_failed_runs_are_reported_not_stored(tmp_path, monkeypatch):
    import experiments.sweep as sw

    def boom(spec, **kwargs):
        if spec.seed == 1:
            raise ValueError("simulated failure")
        return real(spec, **kwargs)

    real = sw.execute
    monkeypatch.setattr(sw, "execute", boom)
    specs = grid(["elman"], ["bessel_j2"], range(2), **COMMON)
    with Store(str(tmp_path / "f.sqlite")) as store:
        report = sweep(specs, store)
        assert [s.seed for s, _ in report.failed] == [1]
        assert report.failed[0][1] == "simulated failure"
        assert [r.seed for r in store.runs()] == [0]


def test_a_run_being_computed_keeps_its_lease_past_the_lease_time(tmp_path, monkeypatch):
    """The lease is renewed while the run computes: another process finds it busy even after
    the initial expiry, and free once the run is stored."""
    import time

    import experiments.sweep as sw

    path = str(tmp_path / "l.sqlite")
    seen = []
    other = Store(path)
    other._pid += 1  # another (live-looking) process on this host

    def slow(spec, **kwargs):
        time.sleep(1.2)  # three lease times of 0.4 s
        seen.append(other.claim(*spec.key()))
        return real(spec, **kwargs)

    real = sw.execute
    monkeypatch.setattr(sw, "execute", slow)
    specs = grid(["elman"], ["bessel_j2"], [0], **COMMON)
    with Store(path, lease_seconds=0.4) as store:
        report = sweep(specs, store)
    assert seen == ["busy"] and len(report.computed) == 1
    assert other.claim(*specs[0].key()) == "stored"
    other.close()


def test_suite_grid_follows_the_suite_task_order_and_entry_backends():
    from experiments.suites import suite
    from experiments.sweep import suite_grid

    paper = suite("paper")
    runs = suite_grid(paper, [0], task_names=["narma5", "population_inversion"])
    tasks = [r.task for r in runs]
    # the suite lists the long series first, whatever order --tasks gives
    assert tasks.index("population_inversion") == 0 and tasks[-1] == "narma5"
    backends = {(r.model, r.backend) for r in runs}
    assert ("lstm", "fused") in backends and ("qlstm", "fast") in backends
    only_lstm = suite_grid(paper, [0], models=["lstm"], task_names=["narma5"],
                           backend="reference")
    assert [(r.model, r.backend) for r in only_lstm] == [("lstm", "reference")]
