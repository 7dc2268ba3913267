"""The README stays true to the code: quick start shape, task table, test module names, every
Python snippet runs, only files of the repository are referenced."""

import importlib.util
import pathlib
import re

import pytest
import torch

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


def test_every_test_folder_is_a_package():
    """Test modules are imported by their package path (tests.qrnn.test_x), so two folders may
    hold modules of one name and helpers import as tests.<folder>.<module>."""
    folders = {p.parent for p in (ROOT / "tests").rglob("*.py")}
    assert [str(f) for f in folders if not (f / "__init__.py").exists()] == []


SNIPPETS = re.findall(r"```python\n(.*?)```", README, re.S)


def _missing_packages(code: str) -> list[str]:
    roots = re.findall(r"^(?:from|import)\s+([A-Za-z_]\w*)", code, re.M)
    return sorted({r for r in roots if importlib.util.find_spec(r) is None})


def test_readme_has_python_snippets():
    assert len(SNIPPETS) >= 4


@pytest.mark.parametrize("index", range(len(SNIPPETS)))
def test_every_readme_python_snippet_runs_as_written(index, tmp_path, monkeypatch):
    code = SNIPPETS[index]
    missing = _missing_packages(code)
    if missing:
        pytest.skip(f"README snippet {index} needs {', '.join(missing)}, not installed")
    monkeypatch.chdir(tmp_path)  # whatever a snippet writes lands here
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        exec(compile(code, f"README.md python snippet {index}", "exec"), {"__name__": "readme"})
    finally:
        torch.set_num_threads(previous)


def test_readme_and_experiment_docstrings_reference_only_files_in_the_repository():
    assert "../" not in README
    paths = set(re.findall(r"`([\w./-]+/[\w.-]+\.(?:py|md|c|h|txt|sh|toml))`", README))
    assert paths, "the README names no repository files at all?"
    outputs = ("qrnn-report/", "bench-results/")  # written by the commands, not shipped
    assert sorted(p for p in paths if not p.startswith(outputs) and not (ROOT / p).exists()
                  ) == []
    design_notes = re.compile(r"\b(TASKS|REFERENCES|ARCHITECTURE)\.md\b")
    texts = {"README.md": README, **{str(p.relative_to(ROOT)): p.read_text(encoding="utf-8")
                                     for p in (ROOT / "experiments").rglob("*.py")}}
    assert sorted(name for name, text in texts.items() if design_notes.search(text)) == []
