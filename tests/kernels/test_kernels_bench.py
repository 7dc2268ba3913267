"""The benchmark's target bookkeeping (not timings): ``summary`` judges each ratio against its
target and says which engine ran."""

from __future__ import annotations

from kernels.bench import _summary


def _row(cell, batch, hidden, impl, us, engine="cpu"):
    return {"cell": cell, "batch": batch, "hidden": hidden, "mode": "forward", "threads": 1,
            "impl": impl, "us_per_step": us, "engine": engine}


def test_summary_judges_each_target():
    rows = [
        _row("lstm", 1, 64, "torch.nn", 2.0), _row("lstm", 1, 64, "fused", 2.1),  # 0.95x: met
        _row("lstm", 16, 256, "torch.nn", 100.0), _row("lstm", 16, 256, "fused", 125.0),  # 0.8x
        _row("gru", 1, 64, "torch.nn", 20.0), _row("gru", 1, 64, "fused", 6.0),  # 3.3x < 4x
        _row("gru", 16, 256, "torch.nn", 170.0), _row("gru", 16, 256, "fused", 160.0),  # met
        _row("elman", 1, 64, "torch.nn", 8.0), _row("elman", 1, 64, "fused", 1.0),  # 8x: met
        _row("elman", 1, 64, "reference", 30.0),
        _row("scan", 1, 64, "torch", 4.0), _row("scan", 1, 64, "fused", 1.0),  # no target
    ]
    lines = _summary(rows)
    assert lines[0] == "CPU targets met: 3 of 5"

    def line(prefix):
        return next(x for x in lines if x.startswith(prefix) and "target" in x)

    assert "0.95x" in line("lstm (B=1,") and "NOT met" not in line("lstm (B=1,")
    assert "0.80x" in line("lstm (B=16,") and "NOT met" in line("lstm (B=16,")
    assert "target >= 4x: NOT met" in line("gru (B=1,")
    assert "target >= 1x: met" in line("gru (B=16,")
    assert any("fused is 30.0x the reference loop" in line for line in lines)
    assert any("scan (B=1, H=64)" in line and "4.0x" in line and "no target" in line
               for line in lines)


def test_summary_says_when_fused_handed_the_lstm_to_onednn():
    rows = [_row("lstm", 16, 256, "torch.nn", 100.0),
            _row("lstm", 16, 256, "fused", 101.0, engine="onednn")]
    (line,) = [x for x in _summary(rows) if x.startswith("lstm")]
    assert "(fused handed it to oneDNN)" in line and "target >= 0.9x: met" in line
