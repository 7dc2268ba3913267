"""The README stays true to the code: quick start shape, task table, test module names."""

import collections
import pathlib
import re

from experiments import tasks

ROOT = pathlib.Path(__file__).resolve().parents[2]
README = (ROOT / "README.md").read_text(encoding="utf-8")


def test_quick_start_is_two_commands_install_and_compare_then_tests():
    block = README.split("<!-- quickstart:start -->")[1].split("<!-- quickstart:end -->")[0]
    lines = [ln for ln in block.splitlines() if ln.strip() and not ln.startswith("```")]
    assert len(lines) == 2
    assert lines[0].startswith("pip install -c constraints.txt")
    assert "qrnn compare --suite quick" in lines[0]
    assert "pytest" in lines[1]
    pins = (ROOT / "constraints.txt").read_text()
    assert re.search(r"^torch==2\.13\.0$", pins, re.M)  # the CPU wheel on these machines


def test_readme_task_table_lists_every_registered_task():
    table = README.split("## Tasks")[1].split("\n## ")[0]
    listed = set(re.findall(r"`([a-z0-9_]+)`", table))
    assert set(tasks.names()) <= listed


def test_test_module_names_are_unique():
    """pytest's default import mode cannot collect two test modules with one basename."""
    names = collections.Counter(p.name for p in (ROOT / "tests").rglob("test_*.py"))
    assert [n for n, c in names.items() if c > 1] == []
