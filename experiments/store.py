"""SQLite results store: one row per (config hash, seed), written atomically.

The database runs in WAL mode so a report can read while a sweep writes. A run's
configuration (model, task, size, backend, model and trainer settings, task options) is kept
as canonical JSON and identified by a short SHA-256 hash; a sweep skips every
(hash, seed) already stored, so an interrupted sweep resumes where it stopped.

Opening a store checks it before anything else happens:

- reading (``Store(path, readonly=True)``) never creates a file and opens it read-only, so a
  store in a read-only folder can be reported from;
- writing checks that the file can really be written (a committed write of the schema
  version) before any training starts;
- ``PRAGMA quick_check`` runs on every open (it reads every page once: its cost grows with
  the file, like copying it); a damaged store is refused in one line, nothing read or
  written, and :func:`experiments.salvage.recover` copies every readable run into a new
  store;
- the schema version lives in ``PRAGMA user_version``: a store written by a newer or
  different schema is refused and left untouched.

Leases: a sweep *claims* a run before computing it (a ``leases`` row with host, pid and an
expiry, renewed while the run is computed); another process finding a live lease waits for
the row instead of computing the run a second time. A lease whose process has died (same
host) or whose expiry has passed (any host) is free again.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import sqlite3
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from importlib import metadata

DEFAULT_NAME = "qrnn-results.sqlite"
SCHEMA_VERSION = 2
"""1: the first runs table; 2: adds the ``cost`` and ``outputs`` JSON columns (a schema-1
store is upgraded in place when opened for writing, and read as it is)."""
LEASE_SECONDS = 60.0

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
_LEASES = """
CREATE TABLE IF NOT EXISTS leases (
    config_hash TEXT NOT NULL,
    seed INTEGER NOT NULL,
    host TEXT NOT NULL,
    pid INTEGER NOT NULL,
    expires REAL NOT NULL,
    PRIMARY KEY (config_hash, seed)
)
"""
_V1_COLUMNS = ("config_hash", "seed", "model", "task", "size", "family", "backend", "config",
               "metric", "value", "metrics", "history", "params", "epochs",
               "seconds_per_epoch", "seconds", "versions", "started_at", "finished_at")
_ADDED = ("cost", "outputs")  # schema 2
_COLUMNS = _V1_COLUMNS + _ADDED
_JSON = ("config", "metrics", "history", "versions", "cost", "outputs")


def _decode(columns: tuple[str, ...], row) -> Run:
    """A stored row as a :class:`Run` (JSON decoded; columns a schema-1 row lacks empty)."""
    data = dict(zip(columns, row, strict=True))
    for c in _JSON:
        data[c] = json.loads(data[c]) if c in data else {}
    return Run(**data)


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


class StoreError(ValueError):
    """A store that cannot be used as asked (missing, read-only, damaged, other schema)."""


def _recovery_hint(path: str) -> str:
    return (f"copy the readable runs into a new store with `qrnn store recover {path} "
            "NEW.sqlite`")


def _alive(host: str, pid: int) -> bool:
    """Whether the lease holder may still run: a process on another host is trusted until
    its lease expires; on this host its pid must exist."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # it exists, under another user
        pass
    return True


class Store:
    """Results database at ``path`` (default :func:`default_path`).

    ``readonly=False`` (train, compare) creates the file on first use (its folder must exist)
    and checks it can be written; ``readonly=True`` (report, listings) requires the file and
    never writes. Every problem is a one-line :class:`StoreError` (a ``ValueError``).
    ``lease_seconds``: how long a claimed run stays claimed without renewal.
    """

    def __init__(self, path: str | None = None, *, readonly: bool = False,
                 lease_seconds: float = LEASE_SECONDS) -> None:
        self.path = path or default_path()
        self.readonly = readonly
        self.lease_seconds = float(lease_seconds)
        self._lock = threading.RLock()
        self._host, self._pid = socket.gethostname(), os.getpid()
        folder = os.path.dirname(os.path.abspath(self.path))
        if not os.path.isdir(folder):
            raise StoreError(f"store={self.path!r}: folder {folder!r} does not exist")
        exists = os.path.exists(self.path)
        if readonly and not exists:
            raise StoreError(f"store={self.path!r} does not exist (reading commands never "
                             "create one; run `qrnn train` or `qrnn compare` first, or pass "
                             "--store)")
        if not readonly:
            self._check_permissions(folder, exists)
        try:
            self._db = self._connect()
        except sqlite3.DatabaseError as exc:
            raise StoreError(f"store={self.path!r} cannot be used: {exc}") from None
        try:
            self._open()
        except BaseException:
            self._db.close()
            raise

    def _check_permissions(self, folder: str, exists: bool) -> None:
        if exists and not os.access(self.path, os.W_OK):
            raise StoreError(f"store={self.path!r} is read-only: nothing can be stored in it "
                             "(reports still work); pass --store with a writable file")
        if not os.access(folder, os.W_OK):
            what = "its journal files" if exists else "the store"
            raise StoreError(f"store={self.path!r}: folder {folder!r} is read-only, "
                             f"{what} cannot be created there; pass --store with a writable "
                             "folder")

    def _connect(self) -> sqlite3.Connection:
        if not self.readonly:
            return sqlite3.connect(self.path, timeout=30.0, check_same_thread=False)
        uri = "file:" + os.path.abspath(self.path).replace("?", "%3f").replace("#", "%23")
        try:
            db = sqlite3.connect(uri + "?mode=ro", uri=True, timeout=30.0,
                                 check_same_thread=False)
            db.execute("SELECT count(*) FROM sqlite_master").fetchone()
            return db
        except sqlite3.OperationalError:
            if os.access(os.path.dirname(os.path.abspath(self.path)), os.W_OK):
                raise
            # a WAL store in a read-only folder, where its shared-memory file cannot be
            # created: nobody can be writing it, so it is read as an immutable file
            return sqlite3.connect(uri + "?immutable=1", uri=True, check_same_thread=False)

    def _open(self) -> None:
        with self._guard():
            check = self._db.execute("PRAGMA quick_check").fetchall()
            if check != [("ok",)]:
                raise StoreError(f"store={self.path!r} is damaged ({check[0][0]}); nothing "
                                 f"was read or written: {_recovery_hint(self.path)}")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            tables = {r[0] for r in self._db.execute(
                "SELECT name FROM sqlite_master WHERE type='table'")}
            if version > SCHEMA_VERSION or (version == 0 and tables - {"runs", "leases"}):
                raise StoreError(
                    f"store={self.path!r} was written by an incompatible qrnn (store schema "
                    f"{version or 'unknown'}, tables {', '.join(sorted(tables))}; this qrnn "
                    f"uses schema {SCHEMA_VERSION}); nothing was changed: use a newer qrnn or "
                    "another --store")
            self._columns = _COLUMNS
            if "runs" in tables:
                self._columns = tuple(r[1] for r in self._db.execute("PRAGMA table_info(runs)"))
                if self._columns not in (_COLUMNS, _V1_COLUMNS):
                    raise StoreError(f"store={self.path!r} has a runs table with other "
                                     "columns (another schema); nothing was changed")
            if self.readonly:
                return
            self._db.execute("PRAGMA journal_mode=WAL")  # only once the checks have passed
            with self._db:  # a committed write: a read-only file fails here, before training
                self._db.execute(_SCHEMA)
                self._db.execute(_LEASES)
                if self._columns == _V1_COLUMNS:  # schema 1 -> 2
                    for column in _ADDED:
                        self._db.execute(f"ALTER TABLE runs ADD COLUMN {column} TEXT NOT NULL "
                                         "DEFAULT '{}'")
                    self._columns = _COLUMNS
                self._db.execute(f"PRAGMA user_version={SCHEMA_VERSION}")

    @contextmanager
    def _guard(self):
        """One-line errors for SQLite failures (damage found mid-read, read-only files)."""
        with self._lock:
            try:
                yield
            except StoreError:
                raise
            except sqlite3.DatabaseError as exc:
                text = str(exc)
                if "readonly" in text or "read-only" in text:
                    raise StoreError(f"store={self.path!r} is read-only: {text}; pass --store "
                                     "with a writable file") from None
                if "not a database" in text:
                    raise StoreError(f"store={self.path!r} cannot be used: not a SQLite "
                                     "database, or its first page is damaged; nothing was "
                                     "read or written") from None
                if "malformed" in text:
                    raise StoreError(f"store={self.path!r} is damaged ({text}): "
                                     f"{_recovery_hint(self.path)}") from None
                raise StoreError(f"store={self.path!r} cannot be used: {text}") from None

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def has(self, config_hash: str, seed: int) -> bool:
        with self._guard():
            row = self._db.execute("SELECT 1 FROM runs WHERE config_hash=? AND seed=?",
                                   (config_hash, seed)).fetchone()
        return row is not None

    def put(self, run: Run) -> None:
        """Insert (or replace) one run and drop its lease, in a single transaction."""
        values = [json.dumps(getattr(run, c), sort_keys=True) if c in _JSON else getattr(run, c)
                  for c in _COLUMNS]
        with self._guard(), self._db:
            self._db.execute(
                f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) "
                f"VALUES ({', '.join('?' * len(_COLUMNS))})", values)
            self._db.execute("DELETE FROM leases WHERE config_hash=? AND seed=?",
                             (run.config_hash, run.seed))

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
        if not self._has_runs_table():
            return []
        with self._guard():
            rows = self._db.execute(f"SELECT {', '.join(self._columns)} FROM runs {tail}",
                                    args).fetchall()
        return [_decode(self._columns, row) for row in rows]

    def _has_runs_table(self) -> bool:
        with self._guard():
            return self._db.execute("SELECT 1 FROM sqlite_master WHERE type='table' AND "
                                    "name='runs'").fetchone() is not None

    # leases -------------------------------------------------------------------------------

    def claim(self, config_hash: str, seed: int, *, force: bool = False) -> str:
        """Try to take the run ``(config_hash, seed)``: ``"stored"`` (its row exists; not
        with ``force``), ``"busy"`` (another live process holds it) or ``"claimed"`` (this
        process holds it now and must :meth:`put` or :meth:`release` it)."""
        key = (config_hash, seed)
        with self._guard():
            self._db.execute("BEGIN IMMEDIATE")  # one writer decides at a time
            try:
                state = self._claim(key, force)
            except BaseException:
                self._db.execute("ROLLBACK")
                raise
            self._db.execute("COMMIT")
        return state

    def _claim(self, key: tuple[str, int], force: bool) -> str:
        if not force and self._db.execute(
                "SELECT 1 FROM runs WHERE config_hash=? AND seed=?", key).fetchone():
            return "stored"
        lease = self._db.execute("SELECT host, pid, expires FROM leases WHERE config_hash=? "
                                 "AND seed=?", key).fetchone()
        if lease is not None and (lease[0], lease[1]) != (self._host, self._pid) \
                and lease[2] > time.time() and _alive(lease[0], lease[1]):
            return "busy"
        self._db.execute("INSERT OR REPLACE INTO leases VALUES (?, ?, ?, ?, ?)",
                         (*key, self._host, self._pid, time.time() + self.lease_seconds))
        return "claimed"

    def renew(self) -> None:
        """Push back the expiry of every lease this process holds."""
        with self._guard(), self._db:
            self._db.execute("UPDATE leases SET expires=? WHERE host=? AND pid=?",
                             (time.time() + self.lease_seconds, self._host, self._pid))

    def release(self, config_hash: str, seed: int) -> None:
        """Give up this process's lease on a run (failed or cancelled: not stored)."""
        with self._guard(), self._db:
            self._db.execute("DELETE FROM leases WHERE config_hash=? AND seed=? AND host=? "
                             "AND pid=?", (config_hash, seed, self._host, self._pid))
