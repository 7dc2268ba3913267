"""The SQLite results store."""

import dataclasses
import json
import os
import sqlite3
import subprocess
import sys
import time

import pytest

from experiments.salvage import recover
from experiments.store import SCHEMA_VERSION, Run, Store, config_hash


def _run(seed=0, value=0.5, h="abc"):
    return Run(config_hash=h, seed=seed, model="lstm", task="bessel_j2", size="quick",
               family="classical", backend="torch", config={"model": "lstm", "x": [1, 2]},
               metric="mse", value=value, metrics={"mse": value, "mae": 0.1},
               history=[{"epoch": 1, "val_loss": 0.2}], params=10, epochs=1,
               seconds_per_epoch=0.1, seconds=0.5, versions={"torch": "x"},
               started_at="t0", finished_at="t1")


def test_roundtrip_and_wal(tmp_path):
    path = str(tmp_path / "r.sqlite")
    with Store(path) as store:
        assert not store.has("abc", 0)
        store.put(_run())
        assert store.has("abc", 0)
        assert store.get("abc", 0) == _run()
        store.put(_run(value=0.25))  # replace (the --force path)
        assert store.get("abc", 0).value == 0.25
        store.put(_run(seed=1))
        assert [r.seed for r in store.runs(models=["lstm"])] == [0, 1]
        assert store.runs(tasks=["other"]) == []
    mode = sqlite3.connect(path).execute("PRAGMA journal_mode").fetchone()[0]
    assert mode == "wal"


def test_config_hash_is_canonical_and_sensitive():
    a = {"model": "lstm", "train": {"lr": 0.01, "epochs": 3}}
    b = {"train": {"epochs": 3, "lr": 0.01}, "model": "lstm"}
    assert config_hash(a) == config_hash(b)
    assert config_hash(a) != config_hash({**a, "train": {"lr": 0.02, "epochs": 3}})


def test_bad_paths(tmp_path, monkeypatch):
    with pytest.raises(ValueError, match="does not exist"):
        Store(str(tmp_path / "missing" / "r.sqlite"))
    bad = tmp_path / "not-a-db.sqlite"
    bad.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(ValueError, match="cannot be used: not a SQLite database"):
        Store(str(bad))
    assert bad.read_bytes() == b"this is not sqlite" * 100
    monkeypatch.setenv("QRNN_STORE", str(tmp_path / "env.sqlite"))
    assert Store().path == str(tmp_path / "env.sqlite")


def _file_bytes(path):
    with open(path, "rb") as fh:
        return fh.read()


def _one_line_error(capsys, argv, message):
    from experiments import cli

    code = cli.main(list(argv))
    err = capsys.readouterr().err
    assert code == 2, err
    assert message in err and err.count("\n") == 1 and "Traceback" not in err
    return err


@pytest.fixture
def no_training(monkeypatch):
    """Any attempt to train fails the test: errors must come before training."""
    import experiments.sweep as sw

    def refuse(spec, **_):
        raise AssertionError(f"training started for {spec}")

    monkeypatch.setattr(sw, "execute", refuse)


def test_read_only_store_is_refused_before_training(tmp_path, read_only, capsys, no_training):
    path = str(tmp_path / "r.sqlite")
    with Store(path) as store:
        store.put(_run())
    before = _file_bytes(path)
    with read_only(path):
        with pytest.raises(ValueError, match="read-only"):
            Store(path)
        _one_line_error(capsys, ["train", "--model", "elman", "--task", "bessel_j2",
                                 "--store", path], "is read-only")
        with Store(path, readonly=True) as store:  # reading it still works
            assert store.get("abc", 0) == _run()
    assert _file_bytes(path) == before


def _damaged_store(tmp_path, n=60):
    """A store of ``n`` runs (long histories: many pages) with four middle pages zeroed."""
    path = str(tmp_path / "broken.sqlite")
    history = [{"epoch": e, "val_loss": 1.0 / (e + 1)} for e in range(200)]
    runs = [dataclasses.replace(_run(seed=s, value=s / n), history=history) for s in range(n)]
    with Store(path) as store:
        for run in runs:
            store.put(run)
    assert not os.path.exists(path + "-wal")  # checkpointed on close: all pages in the file
    pages = os.path.getsize(path) // 4096
    assert pages > 20
    with open(path, "r+b") as fh:
        fh.seek(4096 * (pages // 2))
        fh.write(b"\x00" * 4096 * 4)
    return path, runs


def test_damaged_store_is_refused_in_one_line_and_recovered(tmp_path, capsys, no_training):
    path, runs = _damaged_store(tmp_path)
    before = _file_bytes(path)
    with pytest.raises(ValueError, match="is damaged"):
        Store(path, readonly=True)
    err = _one_line_error(capsys, ["report", "--store", path, "--out", str(tmp_path / "rep")],
                          "is damaged")
    assert f"qrnn store recover {path} NEW.sqlite" in err
    _one_line_error(capsys, ["train", "--model", "elman", "--task", "bessel_j2", "--store",
                             path], "is damaged")
    assert _file_bytes(path) == before  # nothing written into the damaged file
    fixed = str(tmp_path / "fixed.sqlite")
    copied, lost = recover(path, fixed)
    assert 0 < copied < len(runs) and copied + lost <= len(runs)
    with Store(fixed, readonly=True) as store:
        recovered = store.runs()
    assert len(recovered) == copied
    assert all(r == runs[r.seed] for r in recovered)  # every recovered run intact


def test_reading_never_creates_a_store(tmp_path, capsys):
    path = str(tmp_path / "missing.sqlite")
    _one_line_error(capsys, ["report", "--store", path, "--out", str(tmp_path / "rep")],
                    "does not exist")
    _one_line_error(capsys, ["store", "check", path], "does not exist")
    assert os.listdir(tmp_path) == []


def test_store_in_a_read_only_folder_can_be_reported(tmp_path, read_only, capsys):
    from experiments import cli

    folder = tmp_path / "ro"
    folder.mkdir()
    path = str(folder / "r.sqlite")
    with Store(path) as store:
        store.put(_run())
        store.put(_run(seed=1, value=0.7))
    with read_only(str(folder)):
        code = cli.main(["report", "--store", path, "--out", str(tmp_path / "rep")])
        out = capsys.readouterr().out
        assert code == 0 and "bessel_j2  lstm" in out and "0.6 ± 0.1414" in out
        assert os.listdir(folder) == ["r.sqlite"]
        with pytest.raises(ValueError, match="folder .* is read-only"):
            Store(path)


def test_store_of_another_schema_is_refused_and_left_untouched(tmp_path, capsys, no_training):
    newer = str(tmp_path / "newer.sqlite")
    with Store(newer) as store:
        store.put(_run())
    db = sqlite3.connect(newer)
    db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
    db.commit()
    db.close()
    other = str(tmp_path / "other.sqlite")
    db = sqlite3.connect(other)
    db.execute("CREATE TABLE results (x)")
    db.commit()
    db.close()
    for path in (newer, other):
        before = _file_bytes(path)
        _one_line_error(capsys, ["train", "--model", "elman", "--task", "bessel_j2",
                                 "--store", path], "incompatible qrnn")
        _one_line_error(capsys, ["report", "--store", path], "incompatible qrnn")
        assert _file_bytes(path) == before


def test_leases(tmp_path):
    """A live process's lease is busy; a dead process's or an expired one is free again."""
    path = str(tmp_path / "l.sqlite")
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    with Store(path, lease_seconds=30) as store:
        assert store.claim("h", 0) == "claimed"
        assert store.claim("h", 0) == "claimed"  # this process holds it already
        for pid, expires, state in ((os.getppid(), time.time() + 30, "busy"),
                                    (dead.pid, time.time() + 30, "claimed"),
                                    (os.getppid(), time.time() - 1, "claimed")):
            with store._db:
                store._db.execute("UPDATE leases SET pid=?, expires=?", (pid, expires))
            assert store.claim("h", 0) == state
        store.put(_run(h="h"))
        assert store.claim("h", 0) == "stored"
        assert store.claim("h", 0, force=True) == "claimed"
        store.release("h", 0)
        assert store._db.execute("SELECT COUNT(*) FROM leases").fetchone()[0] == 0



def test_store_of_the_first_schema_is_read_then_upgraded(tmp_path):
    """A store from before the cost/outputs columns (schema 1, or unversioned)."""
    from experiments.store import _COLUMNS, _SCHEMA

    path = str(tmp_path / "old.sqlite")
    first = [c for c in _COLUMNS if c not in ("cost", "outputs")]
    db = sqlite3.connect(path)
    db.execute(_SCHEMA.split("cost TEXT")[0] + "PRIMARY KEY (config_hash, seed))")
    run = _run()
    db.execute(f"INSERT INTO runs ({', '.join(first)}) VALUES ({', '.join('?' * len(first))})",
               [json.dumps(getattr(run, c), sort_keys=True)
                if c in ("config", "metrics", "history", "versions") else getattr(run, c)
                for c in first])
    db.commit()
    db.close()
    before = _file_bytes(path)
    with Store(path, readonly=True) as store:
        assert store.runs() == [run]  # the later columns read as empty
    assert _file_bytes(path) == before
    with Store(path) as store:
        store.put(dataclasses.replace(run, seed=1, cost={"energy_pj": 1.5}))
        assert store.get("abc", 1).cost == {"energy_pj": 1.5} and store.get("abc", 0) == run
    db = sqlite3.connect(path)
    assert db.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    db.close()
