"""Salvage a damaged results store: copy every run that can still be read into a new one
(``qrnn store recover BROKEN NEW``)."""

from __future__ import annotations

import os
import sqlite3

from experiments.store import _COLUMNS, Store, StoreError, _decode


def recover(source: str, target: str) -> tuple[int, int]:
    """Copy every readable run of the (damaged) store ``source`` into a new store ``target``;
    return ``(copied, unreadable)`` row counts. Rows are read one rowid at a time, so a
    damaged page loses only the runs stored on it."""
    if os.path.exists(target):
        raise StoreError(f"target={target!r} exists; recover into a new file")
    if not os.path.exists(source):
        raise StoreError(f"store={source!r} does not exist")
    db = sqlite3.connect(f"file:{os.path.abspath(source)}?mode=ro", uri=True)
    copied = lost = 0
    try:
        try:
            top = db.execute("SELECT max(rowid) FROM runs").fetchone()[0] or 0
        except sqlite3.DatabaseError:
            top = 1 << 20  # the table's right edge is damaged: probe a generous range
        try:
            present = {r[1] for r in db.execute("PRAGMA table_info(runs)")}
        except sqlite3.DatabaseError:
            present = set(_COLUMNS)
        columns = tuple(c for c in _COLUMNS if c in present)
        with Store(target) as out:
            for rowid in range(1, top + 1):
                try:
                    row = db.execute(f"SELECT {', '.join(columns)} FROM runs WHERE rowid=?",
                                     (rowid,)).fetchone()
                    if row is None:
                        continue
                    out.put(_decode(columns, row))
                    copied += 1
                except (sqlite3.DatabaseError, ValueError, TypeError):
                    lost += 1
    finally:
        db.close()
    return copied, lost
