"""Sweeps across real processes: two identical compares on one store, a client or a pool
worker killed with SIGKILL, a scheduler that does not answer, and a Dask cluster started the
way the README says (``dask scheduler`` + ``dask worker``), with one worker killed
mid-sweep."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import time

import pytest

from experiments import cli
from experiments.store import Store
from experiments.sweep import grid, sweep
from tests.experiments.cli_cases import cli_env, count_rows, free_port, qrnn_cmd

# models with no entry of their own in the quick suite: one run per (model, task, seed), 12
GRID = ("--models", "elman,mingru,minlstm", "--tasks", "damped_shm,bessel_j2", "--seeds", "2")


def _computed(stdout: str) -> tuple[int, int]:
    """(computed, from the store) from the report line of `qrnn compare`."""
    found = re.search(r"\((\d+) computed, (\d+) from the store", stdout)
    assert found, stdout
    return int(found[1]), int(found[2])


def _distinct_rows(path: str) -> int:
    import sqlite3

    db = sqlite3.connect(path)
    try:
        return db.execute("SELECT COUNT(DISTINCT config_hash || ':' || seed) FROM runs"
                          ).fetchone()[0]
    finally:
        db.close()


def test_two_identical_compares_at_once_compute_each_run_once(tmp_path):
    store = str(tmp_path / "r.sqlite")
    cmd = qrnn_cmd("compare", *GRID, "--epochs", "15", "--store", store, "--quiet")
    procs = [subprocess.Popen(cmd + ["--out", str(tmp_path / f"rep{k}")], env=cli_env(),
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
             for k in range(2)]
    outs = [p.communicate(timeout=600) for p in procs]
    assert [p.returncode for p in procs] == [0, 0], [e for _, e in outs]
    counts = [_computed(out) for out, _ in outs]
    assert sum(c for c, _ in counts) == 12  # without leases: 24 (each computes every run)
    assert all(c + s == 12 for c, s in counts)
    assert all(c >= 1 for c, _ in counts)  # they ran at the same time and shared the grid
    assert count_rows(store) == 12 == _distinct_rows(store)


def test_client_killed_with_sigkill_resumes_with_exactly_the_expected_rows(tmp_path):
    store = str(tmp_path / "r.sqlite")
    cmd = qrnn_cmd("compare", *GRID, "--epochs", "10", "--store", store, "--out",
                   str(tmp_path / "rep"))
    proc = subprocess.Popen(cmd, env=cli_env(), stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(store) and count_rows(store) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=60)
    stored = count_rows(store)
    assert 2 <= stored < 12
    # the killed client's lease on the run it was computing is free: its pid is gone
    done = subprocess.run(cmd + ["--quiet"], env=cli_env(), capture_output=True, text=True,
                          timeout=600)
    assert done.returncode == 0, done.stderr
    assert _computed(done.stdout) == (12 - stored, stored)
    assert count_rows(store) == 12 == _distinct_rows(store)


def _pool_workers(pid: int) -> list[int]:
    """Process-pool workers among the children of ``pid`` (not multiprocessing's resource
    tracker)."""
    try:
        with open(f"/proc/{pid}/task/{pid}/children") as fh:
            children = [int(c) for c in fh.read().split()]
    except OSError:
        return []
    out = []
    for child in children:
        try:
            with open(f"/proc/{child}/cmdline", "rb") as fh:
                cmdline = fh.read()
        except OSError:
            continue
        if b"spawn_main" in cmdline:
            out.append(child)
    return out


@pytest.mark.slow
@pytest.mark.skipif(not os.path.exists("/proc/self/task"), reason="needs Linux /proc")
def test_pool_worker_killed_with_sigkill_then_the_rerun_completes(tmp_path):
    store = str(tmp_path / "r.sqlite")
    cmd = qrnn_cmd("compare", *GRID, "--epochs", "10", "--workers", "2", "--store", store,
                   "--out", str(tmp_path / "rep"), "--quiet")
    proc = subprocess.Popen(cmd, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(store) and count_rows(store) >= 2 and _pool_workers(proc.pid):
            break
        time.sleep(0.05)
    workers = _pool_workers(proc.pid)
    assert workers, "no pool worker found"
    os.kill(workers[0], signal.SIGKILL)
    _out, err = proc.communicate(timeout=300)
    stored = count_rows(store)
    assert "Traceback" not in err
    assert proc.returncode == (0 if stored == 12 else 1), err  # lost runs: failed, not stored
    done = subprocess.run(cmd, env=cli_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert _computed(done.stdout) == (12 - stored, stored)
    assert count_rows(store) == 12 == _distinct_rows(store)


@pytest.mark.slow
def test_ctrl_c_to_client_and_pool_workers_then_the_rerun_completes(tmp_path):
    """Ctrl-C in a terminal: SIGINT to the whole process group, client and workers."""
    store = str(tmp_path / "r.sqlite")
    cmd = qrnn_cmd("compare", *GRID, "--epochs", "10", "--workers", "2", "--store", store,
                   "--out", str(tmp_path / "rep"), "--quiet")
    proc = subprocess.Popen(cmd, env=cli_env(), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        if os.path.exists(store) and count_rows(store) >= 2:
            break
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGINT)
    _out, err = proc.communicate(timeout=300)
    stored = count_rows(store)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    assert 2 <= stored < 12
    done = subprocess.run(cmd, env=cli_env(), capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    assert _computed(done.stdout) == (12 - stored, stored)
    assert count_rows(store) == 12 == _distinct_rows(store)


def test_unreachable_scheduler_is_one_line_within_the_timeout(tmp_path, capsys):
    pytest.importorskip("distributed", reason="needs the [dist] extra")
    store = str(tmp_path / "r.sqlite")
    code = cli.main(["compare", "--models", "elman", "--tasks", "bessel_j2", "--seeds", "1",
                     "--scheduler", f"tcp://127.0.0.1:{free_port()}", "--scheduler-timeout",
                     "2", "--store", store, "--out", str(tmp_path / "rep")])
    err = capsys.readouterr().err
    assert code == 2
    assert "no Dask scheduler answered" in err and "within 2 s" in err
    assert err.count("\n") == 1 and "Traceback" not in err
    with Store(store, readonly=True) as s:
        assert s.runs() == []


def _start(args: list[str], log) -> subprocess.Popen:
    """A process in its own session, so the whole group (nannies and workers) can be killed."""
    return subprocess.Popen(args, env=cli_env(), stdout=log, stderr=subprocess.STDOUT,
                            start_new_session=True)


def _stop(proc: subprocess.Popen) -> None:
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except ProcessLookupError:
        pass
    proc.wait(timeout=30)


@pytest.mark.slow
def test_compare_on_a_dask_scheduler_and_workers_started_by_hand(tmp_path):
    distributed = pytest.importorskip("distributed", reason="needs the [dist] extra")
    dask = os.path.join(os.path.dirname(sys.executable), "dask")
    if not os.path.exists(dask):
        pytest.skip("the `dask` command is not installed beside this python")
    port = free_port()
    address = f"tcp://127.0.0.1:{port}"
    log = open(tmp_path / "cluster.log", "w")  # noqa: SIM115 (closed at the end)
    # the README's recipe, on loopback
    scheduler = _start([dask, "scheduler", "--host", "127.0.0.1", "--port", str(port),
                        "--no-dashboard"], log)
    workers = _start([dask, "worker", address, "--nworkers", "2", "--nthreads", "1",
                      "--host", "127.0.0.1", "--no-dashboard"], log)
    try:
        with distributed.Client(address, timeout="60s") as client:
            client.wait_for_workers(2, timeout=120)
            pids = list(client.run(os.getpid).values())
        store = str(tmp_path / "dask.sqlite")
        models, tasks_, seeds = ["elman", "mingru"], ["bessel_j2"], 2
        cmd = qrnn_cmd("compare", "--models", ",".join(models), "--tasks", ",".join(tasks_),
                       "--seeds", str(seeds), "--epochs", "3", "--scheduler", address,
                       "--store", store, "--out", str(tmp_path / "rep"), "--quiet")
        done = subprocess.run(cmd, env=cli_env(), capture_output=True, text=True, timeout=600)
        assert done.returncode == 0, done.stderr
        assert _computed(done.stdout) == (4, 0)
        assert os.path.getsize(tmp_path / "rep" / "report.md") > 0
        # bit-identical to the same grid computed in this process
        specs = grid(models, tasks_, range(seeds), train={"epochs": 3})
        with Store(str(tmp_path / "local.sqlite")) as local:
            sweep(specs, local)
            expected = {(r.config_hash, r.seed): (r.value, r.metrics, r.params)
                        for r in local.runs()}
        with Store(store, readonly=True) as s:
            got = {(r.config_hash, r.seed): (r.value, r.metrics, r.params) for r in s.runs()}
        assert got == expected

        # a worker killed (SIGKILL) mid-sweep: its run goes to another worker, nothing is lost
        cmd = qrnn_cmd("compare", "--models", "elman,mingru,minlstm", "--tasks", "damped_shm",
                       "--seeds", "2", "--epochs", "10", "--scheduler", address, "--store",
                       store, "--out", str(tmp_path / "rep"), "--quiet")
        proc = subprocess.Popen(cmd, env=cli_env(), stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True)
        deadline = time.time() + 300
        while time.time() < deadline and count_rows(store) < 5 and proc.poll() is None:
            time.sleep(0.05)
        os.kill(pids[0], signal.SIGKILL)
        out, err = proc.communicate(timeout=600)
        assert proc.returncode == 0, err
        assert _computed(out) == (6, 0)
        assert count_rows(store) == 10 == _distinct_rows(store)
    finally:
        _stop(workers)
        _stop(scheduler)
        log.close()
