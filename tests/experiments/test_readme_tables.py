"""The README's generated blocks: the quantum paper table from stored runs."""

import pytest

from experiments.readme_tables import quantum_paper_block, update_readme
from experiments.store import Run


def _run(task, model, seed, value, *, epochs=100, sec=0.2, start="02:00:00", end="02:01:00"):
    return Run(config_hash=f"{task}-{model}", seed=seed, model=model, task=task, size="full",
               family="quantum", backend="fast", config={"hidden_size": 3}, metric="mse",
               value=value, metrics={"mse": value}, history=[], params=149, epochs=epochs,
               seconds_per_epoch=sec, seconds=epochs * sec, versions={},
               started_at=f"2026-12-02T{start}+0000", finished_at=f"2026-12-02T{end}+0000")


def test_quantum_block_checks_the_published_ranges_and_times_the_whole_table():
    runs = [
        # damped_shm (target 6e-4): every seed within
        *(_run("damped_shm", "qlstm", s, v) for s, v in enumerate((1e-4, 2e-4, 3e-4))),
        # narma5 (target 5e-4): mean 1e-3, twice the target, one seed of three within
        *(_run("narma5", "qlstm", s, v, end="02:12:30")
          for s, v in enumerate((4e-4, 1.3e-3, 1.3e-3))),
        # the reservoir: one 0.5 s fit against 100 x 0.2 s of QLSTM training -> 40x
        *(_run("damped_shm", "qreservoir", s, 7e-3, epochs=1, sec=0.5) for s in range(3)),
        _run("narma5", "qreservoir", 0, 6e-6, epochs=1, sec=0.1),  # 200x
        _run("char_lm", "lstm", 0, 3.8),  # not a paper series: left out
    ]
    text = quantum_paper_block(runs)
    assert "| damped_shm | qlstm | 0.0002 ± 0.0001 | 3 | ≤ 6.0e-04: met (every seed) |" in text
    assert "≤ 5.0e-04: NOT met (2.0× over); 1 of 3 seeds" in text
    assert "char_lm" not in text
    # 02:00:00 -> 02:12:30: 12.5 minutes, over the 10-minute target
    assert "10 runs; the whole table took 12.5 minutes" in text and "NOT met" in text
    assert "40× to 200× faster than the QLSTM trains" in text


def test_update_readme_rewrites_only_its_blocks_and_refuses_missing_markers(tmp_path):
    readme = tmp_path / "README.md"
    readme.write_text("a\n<!-- quantum-paper:start -->\nold\n<!-- quantum-paper:end -->\nb\n"
                      "<!-- results:start -->\nkeep\n<!-- results:end -->\n")
    runs = [_run("damped_shm", "qlstm", 0, 1e-4)]
    assert update_readme(str(readme), "paper", runs) == ["quantum-paper"]
    text = readme.read_text()
    assert "old" not in text and "| damped_shm | qlstm |" in text and "keep" in text
    with pytest.raises(ValueError, match="suites with one: quick, paper"):
        update_readme(str(readme), "neuron", runs)
    readme.write_text("no markers\n")
    with pytest.raises(ValueError, match="has no <!-- results:start -->"):
        update_readme(str(readme), "quick", runs)
    assert readme.read_text() == "no markers\n"
    with pytest.raises(ValueError, match="nothing for the paper suite's README blocks"):
        update_readme(str(readme), "paper", [_run("char_lm", "lstm", 0, 3.8)])
