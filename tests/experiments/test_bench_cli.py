"""`qrnn bench`: each family's quick benchmark through the command, JSON and table."""

import importlib.util
import json

import pytest

from experiments import cli


@pytest.mark.slow
@pytest.mark.parametrize("family", sorted(cli.BENCHES))
def test_quick_bench_writes_json_and_table(capsys, tmp_path, family):
    module = cli.BENCHES[family]
    if importlib.util.find_spec(module) is None:
        pytest.fail(f"benchmark module {module} is missing")
    out = tmp_path / f"{family}.json"
    code = cli.main(["bench", family, "--quick", "--out", str(out)])
    printed = capsys.readouterr().out
    assert code == 0
    result = json.loads(out.read_text())
    assert result["title"] and result["rows"] and result["summary"]
    # every row holds at least one positive timing and is JSON-flat
    for row in result["rows"]:
        assert all(not isinstance(v, (dict, list)) for v in row.values())
        assert any(isinstance(v, float) and v > 0 for v in row.values())
    assert result["title"] in printed and result["summary"][0] in printed
    if family == "quantum":  # whole trainer epochs of each quantum model on both backends
        epochs = {(r["workload"], r["backend"]) for r in result["rows"]
                  if r["workload"].endswith("_epoch_damped_shm_quick")}
        assert epochs == {(f"{m}_epoch_damped_shm_quick", b) for m in ("qlstm", "qfwp")
                          for b in ("fast", "default.qubit")}


def test_bench_unknown_family_is_refused(capsys):
    with pytest.raises(SystemExit):
        cli.main(["bench", "photonic"])
    assert "invalid choice: 'photonic'" in capsys.readouterr().err
