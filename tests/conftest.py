"""Fixtures shared by every test directory (per-directory ones live beside their tests)."""

from __future__ import annotations

import pytest

from kernels import cpu_build


@pytest.fixture
def forget_build(monkeypatch):
    """``forget_build(library, error=None)``: this test sees ``library`` (a
    :class:`kernels.cpu_build.Library`) as if no build had been tried (``error`` None: the
    next use compiles again) or as one that failed with ``error``, and no fallback warning
    as already given; everything is restored afterwards."""

    def forget(library: cpu_build.Library, error: str | None = None) -> None:
        monkeypatch.setattr(library, "tried", error is not None)
        monkeypatch.setattr(library, "lib", None)
        monkeypatch.setattr(library, "error", error)
        monkeypatch.setattr(cpu_build, "WARNED", set())

    return forget
