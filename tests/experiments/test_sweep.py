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


def test_dask_local_cluster(tmp_path):
    distributed = pytest.importorskip("distributed", reason="needs the [dist] extra")
    specs = grid(["elman"], ["damped_shm"], range(2), **COMMON)
    with distributed.Client(processes=False, n_workers=1, threads_per_worker=1,
                            dashboard_address=None) as client, \
            Store(str(tmp_path / "d.sqlite")) as store:
        report = sweep(specs, store, executor=client.get_executor())
        assert len(report.computed) == 2 and len(store.runs()) == 2
        again = sweep(specs, store, executor=client.get_executor())
        assert len(again.computed) == 0 and len(again.reused) == 2


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
