"""Helpers of the experiments tests that run the command in subprocesses: environment,
command line, free loopback ports, row counts."""

from __future__ import annotations

import contextlib
import os
import socket
import sqlite3
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def cli_env(**extra) -> dict:
    """The environment for ``python -m experiments.cli`` in a subprocess: this checkout on
    ``PYTHONPATH``, one torch thread."""
    path = os.environ.get("PYTHONPATH")
    return {**os.environ, "PYTHONPATH": ROOT + (os.pathsep + path if path else ""),
            "OMP_NUM_THREADS": "1", **extra}


def qrnn_cmd(*argv: str) -> list[str]:
    return [sys.executable, "-m", "experiments.cli", *argv]


def free_port() -> int:
    """A loopback TCP port nobody listens on right now."""
    with contextlib.closing(socket.socket()) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def count_rows(path: str) -> int:
    """Runs in the store at ``path``; 0 while it is being created or locked (no waiting)."""
    with contextlib.closing(sqlite3.connect(path, timeout=0.5)) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        except sqlite3.OperationalError:
            return 0
