"""The SQLite results store."""

import sqlite3

import pytest

from experiments.store import Run, Store, config_hash


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
    with pytest.raises(ValueError, match="cannot be used"):
        Store(str(bad))
    monkeypatch.setenv("QRNN_STORE", str(tmp_path / "env.sqlite"))
    assert Store().path == str(tmp_path / "env.sqlite")
