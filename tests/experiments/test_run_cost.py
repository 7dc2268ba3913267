"""A run stores its model's hardware cost and, for regression, its test predictions."""

from experiments import tasks
from experiments.runner import RunSpec, execute


def test_a_quantum_run_stores_circuit_cost_and_predictions():
    task = tasks.load("damped_shm", "quick", 0)
    run = execute(RunSpec("qlstm", "damped_shm", hidden_size=3, train={"epochs": 1}))
    steps = task.train.x.shape[1]
    # the published QLSTM runs six circuits per time step, each with CNOT layers
    assert run.cost["executions_per_sequence"] == 6 * steps
    assert run.cost["executions_per_epoch"] == 6 * steps * len(task.train)
    assert run.cost["two_qubit_per_step"] >= 6 * 2 * 8  # 6 circuits x 2 layers x 8 CNOTs
    assert run.cost["depth_per_step"] > 0 and run.cost["shots"] == 0
    assert len(run.outputs["pred"]) == len(run.outputs["true"]) == len(task.test)
    assert run.outputs["true"] == task.test.y[:, 0].tolist()


def test_a_classical_classification_run_stores_no_cost():
    run = execute(RunSpec("gru", "digits_rows", hidden_size=4, train={"epochs": 1}))
    assert run.cost == {} and run.outputs == {}


def test_a_quantum_neuron_run_stores_its_expected_repetitions():
    run = execute(RunSpec("qneuron_rnn", "parity", options={"n_qubits": 3, "order": 1},
                          train={"epochs": 1}))
    steps = tasks.load("parity", "quick", 0).test.x.shape[1]
    # 3 qubits, order 1: a 2-qubit register, one neuron per register qubit and step
    assert run.cost["qubits"] == 3 and run.cost["neurons_per_sequence"] == 2 * steps
    # repeat-until-success runs each neuron at least once, on average 1 / p <= 2 times
    # (p = sin^4 + cos^4 >= 1/2)
    assert run.cost["neurons_per_sequence"] <= run.cost["expected_repetitions"] <= 4 * steps
