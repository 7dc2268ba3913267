"""Model options, seeds reaching the builder, suites as data, and the family import layering."""

import ast
import json
import pathlib

import pytest
import torch
from torch import nn

from experiments import cli, models
from experiments.models import ModelSpec, Option, build_model
from experiments.runner import RunSpec, execute
from experiments.store import Store
from experiments.suites import Entry, Suite, suite
from experiments.sweep import suite_grid
from kernels.contract import check_sequence, generator

ROOT = pathlib.Path(__file__).resolve().parents[2]
FAMILIES = ("qrnn", "analog", "classical")


class NoisyElman(nn.Module):
    """A toy stochastic body: an Elman cell whose recurrent matrix carries a fixed 'programming
    error' drawn from the seed, scaled by the ``noise`` option."""

    def __init__(self, input_size, hidden_size, *, noise, act, seed):
        super().__init__()
        self.input_size, self.hidden_size = input_size, hidden_size
        self.cell = nn.RNNCell(input_size, hidden_size, nonlinearity=act)
        err = torch.randn(hidden_size, hidden_size, generator=generator(seed, "programming"))
        self.register_buffer("error", noise * err)

    def forward(self, x, state=None):
        check_sequence(x, self.input_size)
        h = x.new_zeros(x.shape[0], self.hidden_size) if state is None else state
        ys = []
        for t in range(x.shape[1]):
            h = torch.tanh(x[:, t] @ self.cell.weight_ih.T + self.cell.bias_ih
                           + h @ (self.cell.weight_hh + self.error).T + self.cell.bias_hh)
            ys.append(h)
        return torch.stack(ys, 1), h


def build_noisy(input_size, hidden_size, *, backend, num_layers, seed, noise, act):
    return NoisyElman(input_size, hidden_size, noise=noise, act=act, seed=seed)


TOY = ModelSpec("toy", "analog", "a toy stochastic model", build_noisy, ("sim",), options=(
    Option("noise", float, 0.1, "programming error scale", low=0.0, high=1.0),
    Option("act", str, "tanh", "nonlinearity", choices=("tanh", "relu")),
))


@pytest.fixture
def toy(monkeypatch):
    monkeypatch.setitem(models.MODELS, "toy", TOY)
    return TOY


def _cli(capsys, *argv):
    code = cli.main(list(argv))
    out = capsys.readouterr()
    return code, out.out, out.err


def test_options_from_the_command_line_are_stored_and_part_of_the_hash(toy, capsys, tmp_path):
    store = str(tmp_path / "r.sqlite")
    base = ("train", "--model", "toy", "--task", "bessel_j2", "--epochs", "2", "--store", store,
            "--json", "--quiet")
    code, out, _ = _cli(capsys, *base, "--option", "noise=0.5")
    first = json.loads(out)
    assert code == 0 and first["cached"] is False
    code, out, _ = _cli(capsys, *base, "-o", "noise=0.5")
    assert json.loads(out)["cached"] is True                      # unchanged: read back
    code, out, _ = _cli(capsys, *base, "--option", "noise=0.25")
    changed = json.loads(out)
    assert changed["cached"] is False and changed["config_hash"] != first["config_hash"]
    with Store(store) as s:
        stored = {r.config["options"]["noise"] for r in s.runs()}
    assert stored == {0.5, 0.25}

    code, out, err = _cli(capsys, "compare", "--models", "toy", "--tasks", "bessel_j2",
                          "--seeds", "1", "--epochs", "2", "--store", store, "--quiet",
                          "--out", str(tmp_path / "rep"), "--option", "noise=0.25")
    assert code == 0 and "(0 computed, 1 from the store" in out   # same options: reused


@pytest.mark.parametrize("argv, message", [
    (("--option", "noise=2"), "option noise=2.0 is not allowed; allowed: float in [0, 1]"),
    (("--option", "noise=loud"), "option noise='loud': not a valid float"),
    (("--option", "act=sigmoid"), "option act='sigmoid' is not allowed; allowed: one of tanh"),
    (("--option", "qubits=4"), "model 'toy' has no option 'qubits'; its options: noise, act"),
    (("--option", "noise"), "expected name=value"),
])
def test_bad_options_are_one_line_before_training(toy, capsys, tmp_path, argv, message):
    store = tmp_path / "r.sqlite"
    code, out, err = _cli(capsys, "train", "--model", "toy", "--task", "bessel_j2",
                          "--store", str(store), *argv)
    assert code == 2 and message in err and len(err.strip().splitlines()) == 1
    assert not store.exists()                                     # nothing ran, nothing stored


def test_an_option_for_a_model_that_does_not_declare_it(toy, capsys):
    code, _, err = _cli(capsys, "train", "--model", "lstm", "--task", "bessel_j2",
                        "--option", "noise=0.1")
    assert code == 2 and "model 'lstm' has no option 'noise'; its options: none" in err
    with pytest.raises(ValueError, match="option 'n_qubits' is not declared by any selected"):
        suite_grid(suite("quick"), range(1), models=["lstm", "toy"], options={"n_qubits": "4"})


def test_python_options_are_typed_and_filled_with_defaults(toy):
    spec = RunSpec("toy", "bessel_j2", options={"noise": 0}).resolved()
    assert spec.options == {"noise": 0.0, "act": "tanh"}
    assert isinstance(spec.options["noise"], float)
    with pytest.raises(ValueError, match="option noise=True is not allowed"):
        RunSpec("toy", "bessel_j2", options={"noise": True}).resolved()
    # models without options keep the configuration (and store hash) they always had
    assert "options" not in RunSpec("lstm", "bessel_j2").resolved().config()


def test_the_seed_reaches_every_stochastic_part(toy):
    a = build_model("toy", 1, 1, "regression", hidden_size=4, seed=3)
    b = build_model("toy", 1, 1, "regression", hidden_size=4, seed=3)
    c = build_model("toy", 1, 1, "regression", hidden_size=4, seed=4)
    for key, value in a.state_dict().items():
        assert torch.equal(value, b.state_dict()[key])
    assert not torch.equal(a.body.error, c.body.error)          # programmed devices differ
    assert not torch.equal(a.body.cell.weight_hh, c.body.cell.weight_hh)  # and so does init
    runs = [execute(RunSpec("toy", "bessel_j2", seed=s, train={"epochs": 2})) for s in (1, 1, 2)]
    def losses(run):
        return [(h["train_loss"], h["val_loss"]) for h in run.history]
    assert runs[0].value == runs[1].value and losses(runs[0]) == losses(runs[1])
    assert runs[0].value != runs[2].value


def test_suites_are_explicit_data(toy):
    quick = suite("quick")
    assert "toy" not in quick.models                   # a newly registered model joins no suite
    with pytest.raises(ValueError, match="unknown suite 'huge'; allowed: quick, full, paper"):
        suite("huge")
    s = Suite("t", "quick", (Entry("toy", {"noise": 0.0}, hidden_size=3),
                             Entry("lstm", tasks=("narma5",))), ("bessel_j2", "narma5"), 2)
    runs = suite_grid(s, range(2))
    assert [(r.model, r.task) for r in runs] == [
        ("toy", "bessel_j2")] * 2 + [("toy", "narma5")] * 2 + [("lstm", "narma5")] * 2
    assert {r.options["noise"] for r in runs if r.model == "toy"} == {0.0}
    assert {r.hidden_size for r in runs if r.model == "toy"} == {3}
    overridden = suite_grid(s, range(1), options={"noise": "0.5"}, train={"epochs": 7})
    assert {r.options.get("noise") for r in overridden if r.model == "toy"} == {0.5}
    assert {r.train["epochs"] for r in overridden} == {7}


def test_models_listing_shows_options(toy, capsys):
    code, out, _ = _cli(capsys, "models", "--json")
    listed = {m["name"]: m for m in json.loads(out)}
    assert code == 0 and listed["toy"]["options"][0] == {
        "name": "noise", "type": "float", "default": 0.1, "allowed": "float in [0, 1]",
        "help": "programming error scale"}
    _, text, _ = _cli(capsys, "models")
    assert "--option act=...  nonlinearity (one of tanh, relu; default tanh)" in text


def test_option_declarations_are_checked():
    with pytest.raises(ValueError, match="option n=0 is not allowed; allowed: int >= 1"):
        Option("n", int, 0, "a count", low=1)
    opt = Option("shots", int, None, "samples", low=1, optional=True)
    assert opt.parse("none") is None and opt.parse("100") == 100
    assert opt.allowed() == "int >= 1 or none"
    assert Option("flag", bool, False, "a switch").parse("yes") is True


def _imports(path: pathlib.Path) -> set[str]:
    tree = ast.parse(path.read_text())
    names = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names |= {a.name.split(".")[0] for a in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module.split(".")[0])
    return names


@pytest.mark.parametrize("family", FAMILIES)
def test_no_family_imports_another_and_none_imports_experiments(family):
    others = (set(FAMILIES) - {family}) | {"experiments"}
    for path in sorted((ROOT / family).rglob("*.py")):
        bad = _imports(path) & others
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


def test_kernels_import_no_model_package():
    for path in sorted((ROOT / "kernels").rglob("*.py")):
        bad = _imports(path) & (set(FAMILIES) | {"experiments"})
        assert not bad, f"{path.relative_to(ROOT)} imports {sorted(bad)}"


@pytest.mark.parametrize("family", FAMILIES)
def test_sequence_bodies_use_the_shared_contract(family):
    users = [p for p in (ROOT / family).rglob("*.py") if "kernels.contract" in p.read_text()]
    assert users, f"no module of {family}/ imports kernels.contract"


def test_a_model_default_hidden_size_sits_between_the_run_and_the_task():
    assert RunSpec("qlstm", "damped_shm").resolved().hidden_size == 3     # the papers' size
    assert RunSpec("qlstm", "damped_shm", hidden_size=2).resolved().hidden_size == 2
    assert RunSpec("lstm", "damped_shm").resolved().hidden_size == 16     # the task's default


def test_suite_entries_carry_task_options_into_the_run():
    s = Suite("t", "quick", (Entry("lstm", task_options={"classes": "0,1"}),
                             Entry("gru")), ("digits_pixels",), 1)
    runs = {r.model: r for r in suite_grid(s, range(1))}
    assert runs["lstm"].task_options == {"classes": "0,1"} and runs["gru"].task_options == {}
    assert runs["lstm"].key() != RunSpec("lstm", "digits_pixels").resolved().key()
