"""The `qrnn` command: listing, train, compare (resume after an interruption), report."""

import contextlib
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time

import pytest

from experiments import cli, tasks
from experiments.models import MODELS


def run_cli(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def _rows(path):
    """Runs in the store at ``path``; 0 while it is being created or locked (no waiting)."""
    with contextlib.closing(sqlite3.connect(path, timeout=0.5)) as db:
        try:
            return db.execute("SELECT COUNT(*) FROM runs").fetchone()[0]
        except sqlite3.OperationalError:
            return 0


def test_tasks_and_models_listing(capsys):
    code, out, _ = run_cli(capsys, "tasks", "--json")
    listed = json.loads(out)
    assert code == 0 and [t["name"] for t in listed] == tasks.names()
    by_name = {t["name"]: t for t in listed}
    assert by_name["bessel_j2"]["available"] is True
    assert by_name["char_lm"]["kind"] == "language"
    code, out, _ = run_cli(capsys, "models", "--json")
    models = json.loads(out)
    assert [m["name"] for m in models] == list(MODELS)
    assert "reference" in models[0]["backends"]


def test_train_json_then_cached(capsys, tmp_path):
    store = str(tmp_path / "r.sqlite")
    args = ("train", "--model", "mingru", "--task", "damped_shm", "--epochs", "3",
            "--store", store, "--json")
    code, out, _ = run_cli(capsys, *args)
    first = json.loads(out)
    assert code == 0
    assert {"model", "task", "metric", "value", "params", "seconds"} <= set(first)
    assert first["metric"] == "mse" and first["cached"] is False and first["params"] > 0
    code, out, _ = run_cli(capsys, *args)
    second = json.loads(out)
    assert second["cached"] is True and second["value"] == first["value"]
    code, out, _ = run_cli(capsys, *args, "--force")
    assert json.loads(out)["cached"] is False and _rows(store) == 1


@pytest.mark.parametrize("argv,message", [
    (("train", "--model", "nope", "--task", "bessel_j2"), "valid models: lstm"),
    (("train", "--model", "lstm", "--task", "nope"), "valid tasks: damped_shm"),
    (("train", "--model", "lstm", "--task", "bessel_j2", "--backend", "gpu"),
     "allowed: torch"),
    (("train", "--model", "lstm", "--task", "bessel_j2", "--lr", "-1"), "lr=-1"),
    (("train", "--model", "lstm", "--task", "bessel_j2", "--store", "/nonexistent/dir/x.db"),
     "does not exist"),
    (("compare", "--models", "lstm,bogus", "--tasks", "bessel_j2"), "unknown model 'bogus'"),
])
def test_bad_input_gives_one_line_errors(capsys, argv, message):
    code, _, err = run_cli(capsys, *argv)
    assert code == 2
    assert message in err and err.count("\n") == 1 and "Traceback" not in err


def test_compare_writes_report_and_skips_stored_runs(capsys, tmp_path):
    store, out_dir = str(tmp_path / "r.sqlite"), str(tmp_path / "report")
    args = ("compare", "--suite", "quick", "--models", "lstm,mingru", "--tasks",
            "damped_shm,digits_rows", "--seeds", "2", "--epochs", "2", "--store", store,
            "--out", out_dir, "--quiet")
    code, out, _ = run_cli(capsys, *args)
    # the quick suite's lstm entries: its default size on both tasks and, on damped_shm, the
    # size matched to the quantum models (h=5); mingru has no entry and runs its defaults
    assert code == 0 and _rows(store) == 2 * 2 + 2 + 2 * 2
    report = open(os.path.join(out_dir, "report.md"), encoding="utf-8").read()
    assert "| damped_shm | lstm h=5 |" in report and "| damped_shm | lstm h=16 |" in report
    assert "| digits_rows | lstm |" in report and "| digits_rows | mingru |" in report
    assert os.path.getsize(os.path.join(out_dir, "damped_shm.png")) > 1000
    assert "mean ± std" in out
    code, out, _ = run_cli(capsys, *args)
    assert code == 0 and "0 computed, 10 from the store" in out


def test_report_rewrites_readme_table_from_the_suite_runs_only(capsys, tmp_path):
    store = str(tmp_path / "r.sqlite")
    # a run of the quick suite (its default settings) and an ad-hoc one (2 epochs)
    run_cli(capsys, "train", "--model", "gru", "--task", "bessel_j2", "--store", store)
    run_cli(capsys, "train", "--model", "gru", "--task", "damped_shm", "--epochs", "2",
            "--store", store)
    readme = tmp_path / "README.md"
    readme.write_text("intro\n<!-- results:start -->\nold\n<!-- results:end -->\nend\n")
    code, out, _ = run_cli(capsys, "report", "--store", store, "--out",
                           str(tmp_path / "rep"), "--readme", str(readme))
    text = readme.read_text()
    assert code == 0 and "old" not in text and "| bessel_j2 | gru |" in text
    assert "damped_shm" not in text and "| damped_shm | gru |" in (
        tmp_path / "rep" / "report.md").read_text()
    assert "results in" in out and "from the 1 runs of the quick suite" in out
    assert text.startswith("intro\n") and text.endswith("end\n")


def test_interrupted_compare_resumes_without_recomputing(tmp_path):
    """Ctrl-C (SIGINT) halfway through a real `qrnn compare`, then the same command again."""
    store, out_dir = str(tmp_path / "r.sqlite"), str(tmp_path / "report")
    # 10 epochs: ~0.3 s a run, so the remaining runs leave seconds for the signal to land
    cmd = [sys.executable, "-m", "experiments.cli", "compare", "--models", "elman,mingru,minlstm",
           "--tasks", "damped_shm,bessel_j2", "--seeds", "2", "--epochs", "10", "--store",
           store, "--out", out_dir]
    # a background job (`cmd &`, nohup, some CI runners) starts with SIGINT ignored, and an
    # ignored signal is inherited: the child would run to the end; give it the default
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.time() + 120
    while time.time() < deadline:
        if os.path.exists(store) and _rows(store) >= 2:
            break
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=60)
    stored = _rows(store)
    assert proc.returncode == 130, err
    assert "run the same command again to resume" in err
    assert 2 <= stored < 12
    done = subprocess.run(cmd + ["--quiet"], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert f"{12 - stored} computed, {stored} from the store" in done.stdout
    assert _rows(store) == 12


@pytest.mark.parametrize("argv", [["--help"], ["tasks"], ["models", "--json"],
                                  ["train", "--help"]])
def test_help_and_listings_do_not_import_torch(argv):
    """`qrnn --help` and the listings answer without loading torch (seconds of import)."""
    from tests.experiments.cli_cases import cli_env

    code = ("import contextlib, io, sys\n"
            "from experiments.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()) as out:\n"
            "    try:\n"
            f"        main({argv!r})\n"
            "    except SystemExit:\n"
            "        pass\n"
            "print(len(out.getvalue()), sorted(m for m in ('torch', 'numpy', 'pennylane')"
            " if m in sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code], env=cli_env(), capture_output=True,
                          text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    length, loaded = done.stdout.split(" ", 1)
    assert int(length) > 100  # it printed the help or the listing
    assert loaded.strip() == "[]"
