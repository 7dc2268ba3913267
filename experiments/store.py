"""SQLite results store: one row per (config hash, seed), written atomically.

The database runs in WAL mode so a report can read while a sweep writes. A run's
configuration (model, task, size, backend, model and trainer settings, task options) is kept
as canonical JSON and identified by a short SHA-256 hash; a sweep skips every
(hash, seed) already stored, so an interrupted sweep resumes where it stopped.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import time
from dataclasses import dataclass, field
from importlib import metadata

DEFAULT_NAME = "qrnn-results.sqlite"

_SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    config_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    model TEXT NOT NULL,
    task TEXT NOT NULL,
    size TEXT NOT NULL,
    family TEXT NOT NULL,
    backend TEXT NOT NULL,
    config TEXT NOT NULL,
    metric TEXT NOT NULL,
    value REAL NOT NULL,
    metrics TEXT NOT NULL,
    history TEXT NOT NULL,
    params INTEGER NOT NULL,
    epochs INTEGER NOT NULL,
    seconds_per_epoch REAL NOT NULL,
    seconds REAL NOT NULL,
    versions TEXT NOT NULL,
    started_at TEXT NOT NULL,
    finished_at TEXT NOT NULL,
    cost TEXT NOT NULL DEFAULT '{}',
    outputs TEXT NOT NULL DEFAULT '{}',
    PRIMARY KEY (config_hash, seed)
)
"""
_ADDED = ("cost", "outputs")  # columns later than the first schema: added to older stores
_COLUMNS = ("config_hash", "seed", "model", "task", "size", "family", "backend", "config",
            "metric", "value", "metrics", "history", "params", "epochs", "seconds_per_epoch",
            "seconds", "versions", "started_at", "finished_at", "cost", "outputs")
_JSON = ("config", "metrics", "history", "versions", "cost", "outputs")


def default_path() -> str:
    """``$QRNN_STORE`` if set, else ``qrnn-results.sqlite`` in the working directory."""
    return os.environ.get("QRNN_STORE") or os.path.join(os.getcwd(), DEFAULT_NAME)


def config_hash(config: dict) -> str:
    """16 hex digits of the SHA-256 of the canonical JSON of ``config``."""
    text = json.dumps(config, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def package_versions() -> dict:
    """Versions of the packages that decide a run's numbers."""
    out = {}
    for name in ("qrnn", "torch", "numpy", "scipy", "pennylane", "qiskit", "triton"):
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


def now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S%z")


@dataclass
class Run:
    """One stored run (JSON columns decoded)."""

    config_hash: str
    seed: int
    model: str
    task: str
    size: str
    family: str
    backend: str
    config: dict
    metric: str
    value: float
    metrics: dict
    history: list
    params: int
    epochs: int
    seconds_per_epoch: float
    seconds: float
    versions: dict
    started_at: str
    finished_at: str
    cost: dict = field(default_factory=dict)
    """The model's hardware cost (``hardware_cost()`` of the body: energy, latency, area per
    inference for analog; transpiled depth, two-qubit gates, circuit executions for quantum)."""
    outputs: dict = field(default_factory=dict)
    """Small test-set outputs for the report (regression: ``pred`` and ``true`` lists)."""


class Store:
    """Results database at ``path`` (created on first use; its folder must exist)."""

    def __init__(self, path: str | None = None) -> None:
        self.path = path or default_path()
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise ValueError(f"store={self.path!r}: folder {folder!r} does not exist")
        try:
            self._db = sqlite3.connect(self.path, timeout=30.0)
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute(_SCHEMA)
            present = {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}
            for column in _ADDED:
                if column not in present:
                    self._db.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT NOT NULL "
                                     "DEFAULT '{}'")
            self._db.commit()
        except sqlite3.DatabaseError as exc:
            raise ValueError(f"store={self.path!r} cannot be used: {exc}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def has(self, config_hash: str, seed: int) -> bool:
        row = self._db.execute("SELECT 1 FROM runs WHERE config_hash=? AND seed=?",
                               (config_hash, seed)).fetchone()
        return row is not None

    def put(self, run: Run) -> None:
        """Insert (or replace) one run in a single transaction."""
        values = [json.dumps(getattr(run, c), sort_keys=True) if c in _JSON else getattr(run, c)
                  for c in _COLUMNS]
        with self._db:
            self._db.execute(
                f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})", values)

    def get(self, config_hash: str, seed: int) -> Run | None:
        runs = self._select("WHERE config_hash=? AND seed=?", (config_hash, seed))
        return runs[0] if runs else None

    def runs(self, *, models=None, tasks=None, size=None) -> list[Run]:
        """Stored runs, optionally filtered by model names, task names and size."""
        clauses, args = [], []
        for column, values in (("model", models), ("task", tasks)):
            if values:
                clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
                args.extend(values)
        if size:
            clauses.append("size = ?")
            args.append(size)
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        return self._select(where + " ORDER BY task, model, seed", tuple(args))

    def _select(self, tail: str, args: tuple) -> list[Run]:
        rows = self._db.execute(f"SELECT {', '.join(_COLUMNS)} FROM runs {tail}", args)
        out = []
        for row in rows:
            data = dict(zip(_COLUMNS, row, strict=True))
            for c in _JSON:
                data[c] = json.loads(data[c])
            out.append(Run(**data))
        return out
