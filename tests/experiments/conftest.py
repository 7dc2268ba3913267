"""Fixtures of the experiments tests: read-only files and folders."""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess

import pytest


@pytest.fixture
def read_only():
    """``with read_only(path):`` the file or folder cannot be written, even by root (``chattr
    +i`` when running as root, else permission bits); skips where neither works."""

    @contextlib.contextmanager
    def guard(path: str):
        if os.geteuid() != 0:
            mode = os.stat(path).st_mode
            os.chmod(path, 0o555 if os.path.isdir(path) else 0o444)
            try:
                yield
            finally:
                os.chmod(path, mode)
            return
        if shutil.which("chattr") is None:
            pytest.skip("running as root without chattr: a file cannot be made read-only")
        if subprocess.run(["chattr", "+i", path], capture_output=True).returncode != 0:
            pytest.skip("running as root and chattr +i is refused here (no CAP_LINUX_IMMUTABLE)")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", path], check=True)

    return guard
