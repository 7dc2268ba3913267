"""Named comparison suites for ``qrnn compare --suite``: explicit data, not "every model".

A :class:`Suite` lists its :class:`Entry` rows (a model with its options, hidden size and
trainer settings, optionally restricted to some tasks), its tasks, its size and its seeds. A
model registered later joins a suite only when an entry names it.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Entry:
    """One model of a suite: ``options`` (model options), ``hidden_size`` (None = the model's
    or the task's default), ``train`` (trainer settings over the task's defaults), ``tasks``
    (None = every task of the suite), ``task_options`` (e.g. ``{"classes": "0,1"}``) and
    ``backend``. The
    report names a row by its model and, where a task holds several configurations of one
    model, by what differs (e.g. ``lstm h=5``)."""

    model: str
    options: dict = field(default_factory=dict)
    hidden_size: int | None = None
    train: dict = field(default_factory=dict)
    tasks: tuple[str, ...] | None = None
    task_options: dict = field(default_factory=dict)
    backend: str | None = None
    """None = the model's default backend (``qrnn compare --backend`` overrides both)."""


@dataclass(frozen=True)
class Suite:
    """A grid: entries x tasks x seeds at one size."""

    name: str
    size: str
    entries: tuple[Entry, ...]
    tasks: tuple[str, ...]
    seeds: int
    description: str = ""

    @property
    def models(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(e.model for e in self.entries))

    def entries_for(self, task: str) -> list[Entry]:
        return [e for e in self.entries if e.tasks is None or task in e.tasks]


CLASSICAL = tuple(Entry(m) for m in ("lstm", "gru", "elman", "mingru", "minlstm"))

PAPER_TRAIN = {"epochs": 100, "batch_size": 10, "lr": 0.01, "optimizer": "rmsprop",
               "dtype": "float64", "clip_grad": 0.0, "patience": 0}
"""The QLSTM / QFWP papers' protocol: RMSprop(lr 0.01, alpha 0.99, eps 1e-8), batch 10, 100
epochs, float64, no gradient clipping (the weights of the best validation epoch are kept)."""
PAPER_SERIES = ("population_inversion", "delayed_control", "damped_shm", "bessel_j2", "narma5",
                "narma10")
"""The long series first: a sweep starts runs in the suite's task order, so the ~10x longer
runs do not end up alone at the tail while the other worker idles."""
QUANTUM_PAPER = (
    Entry("qlstm", hidden_size=3, train=PAPER_TRAIN, tasks=PAPER_SERIES),
    Entry("qgru", hidden_size=3, train=PAPER_TRAIN, tasks=PAPER_SERIES),
    Entry("qrnn", hidden_size=3, train=PAPER_TRAIN, tasks=PAPER_SERIES),
    Entry("qreservoir", hidden_size=3, train=PAPER_TRAIN, tasks=PAPER_SERIES),
    Entry("qfwp", hidden_size=8, train=PAPER_TRAIN, tasks=PAPER_SERIES),
    Entry("lstm", hidden_size=5, train=PAPER_TRAIN, tasks=PAPER_SERIES, backend="fused"),
)
"""Quantum models of the paper suite, next to a classical LSTM of about QLSTM's 149
parameters (hidden 5: 166 with its head). Every model runs its compiled path: the quantum
models their fused sequence kernels, the LSTM the fused CPU kernel (at batch 10, hidden 5,
float64 it trains about 1.7x faster than torch.nn.LSTM here)."""
ANALOG_TASKS = ("spoken_digits", "char_lm")
ANALOG_BITS = (3, 4, 5, 8)
KWS_FLOAT = {"epochs": 30}
KWS_TRAIN = {"epochs": 40, "float_epochs": 30, "finetune_lr": 0.001}
LM_FLOAT = {"epochs": 4, "lr": 0.005}
LM_TRAIN = {"epochs": 5, "float_epochs": 4, "lr": 0.005, "finetune_lr": 0.001}
ANALOG_PAPER = (
    Entry("lstm", train=KWS_FLOAT, tasks=("spoken_digits",)),
    Entry("lstm", hidden_size=128, train=LM_FLOAT, tasks=("char_lm",)),
    *(Entry("analog_lstm", {"activation": style, "adc_bits": bits, "prog_noise": 0.02},
            train=KWS_TRAIN, tasks=("spoken_digits",))
      for bits in ANALOG_BITS for style in ("nl_adc", "digital")),
    *(Entry("analog_lstm", {"activation": style, "adc_bits": bits, "prog_noise": 0.02},
            hidden_size=128, train=LM_TRAIN, tasks=("char_lm",))
      for bits in ANALOG_BITS for style in ("nl_adc", "digital")),
)
"""Nonlinear ramp ADC (Yang et al., Nat. Commun. 2025) on data available here, with the
paper's protocol inside each run: a float LSTM trained, converted to the analog LSTM (gate
activations in a nonlinear ramp ADC, or a linear ADC + digital activation; 3/4/5/8 bits, 2%
programming noise, ``rram_realistic`` otherwise), scored (``converted_*`` metrics), then
fine-tuned hardware-aware at lr 0.001 (``float_epochs``, :mod:`experiments.train`); the float
LSTM alone beside it for as many epochs as the float phase. Sizes chosen so the 54 runs take
about an hour on 2 cores shared with other work: spoken digits at the full size's hidden 64
(30 float + 10 fine-tuning epochs of the full size's 60); char_lm on the full corpus at
hidden 128 for 4 + 1 epochs (the full size's hidden 256 x 20 epochs takes about 11 minutes
per run here, 5 hours for the grid)."""

CARTPOLE_TRAIN = {"epochs": 60, "batch_size": 8, "lr": 0.02}
"""Policy updates of 8 episodes each on CartPole: 60 for the LSTM of the quantum models'
size (500 on seeds 0-2), 80 for QLSTM (lr 0.1), 120 for QFWP (lr 0.005)."""
CARTPOLE_QUANTUM = (
    Entry("qlstm", {"variant": "chen2022"}, hidden_size=3, tasks=("cartpole",),
          train={**CARTPOLE_TRAIN, "epochs": 80, "lr": 0.1}),
    Entry("qfwp", {"decay": 0.5}, hidden_size=8, tasks=("cartpole",),
          train={**CARTPOLE_TRAIN, "epochs": 120, "lr": 0.005}),
    Entry("lstm", hidden_size=4, tasks=("cartpole",), train=CARTPOLE_TRAIN),
)
"""Recurrent policies on CartPole that learn (measured returns in the README's Control
paragraph): QLSTM in its chen2022 design (RY(v) encoding, h = o tanh(c)), since the chen2020
design's policy at its 0.01 N(0, 1) initialisation is an almost even function of the
observation (it hardly tells a state from its mirror image); QFWP with fast weights decaying
by 0.5 per step, since with pure accumulation the circuit angles grow by about 0.2 rad per
step and the policy follows time, not the state (at lr 0.02 its training returns rise and
fall back: lr 0.005 for 120 updates); an LSTM of about their parameter count (175)."""
QUICK_TASKS = ("damped_shm", "bessel_j2", "narma5", "mackey_glass", "digits_rows", "char_lm",
               "cartpole")
QUICK_QUANTUM_TASKS = ("damped_shm", "bessel_j2", "narma5")
QUICK_SUPERVISED = tuple(t for t in QUICK_TASKS if t != "cartpole")

QUICK = (
    Entry("lstm", tasks=QUICK_SUPERVISED), Entry("gru", tasks=QUICK_SUPERVISED),
    # the classical baselines again at about the quantum models' parameter count (QLSTM 149,
    # QFWP 111): LSTM hidden 5 = 166, GRU hidden 6 = 169 parameters with the regression head
    Entry("lstm", hidden_size=5, tasks=QUICK_QUANTUM_TASKS),
    Entry("gru", hidden_size=6, tasks=QUICK_QUANTUM_TASKS),
    Entry("qlstm", hidden_size=3, tasks=QUICK_QUANTUM_TASKS),
    Entry("qfwp", hidden_size=8, tasks=QUICK_QUANTUM_TASKS),
    # 5-bit nonlinear ramp ADCs on the realistic crossbar preset
    Entry("analog_lstm", tasks=QUICK_SUPERVISED),
    *CARTPOLE_QUANTUM,
)
"""The README's suite: one or two models of every family on small tasks, 3 seeds, minutes on
a 2-core CPU; the quantum models on the single-feature time series they were published on and
on CartPole with the budgets that learn (next to an LSTM of their size)."""

SMALL_INPUT_TASKS = ("damped_shm", "bessel_j2", "delayed_control", "population_inversion",
                     "narma5", "narma10", "narma10_random", "mackey_glass", "sunspots", "airline",
                     "digits_pixels", "parity", "cartpole")
"""Tasks with at most 4 input features: the quantum models encode one feature per qubit next
to the hidden state, so digits_rows (8), spoken_digits (13) and char_lm (96 one-hot
characters) would need 11 to 99 qubits per circuit."""

NOT_CARTPOLE = tuple(t for t in SMALL_INPUT_TASKS if t != "cartpole")

FULL = (
    *CLASSICAL,
    # the speed-against-qubits figure: QLSTM with its input and hidden state padded to wider
    # circuits (the 4-qubit design is the entry below)
    *(Entry("qlstm", {"n_qubits": q}, tasks=("damped_shm",)) for q in (6, 8, 10)),
    Entry("analog_lstm"), Entry("analog_gru"), Entry("analog_elman"),
    Entry("qlstm", hidden_size=3, tasks=NOT_CARTPOLE),
    Entry("qgru", hidden_size=3, tasks=SMALL_INPUT_TASKS),
    Entry("qrnn", hidden_size=3, tasks=SMALL_INPUT_TASKS),
    Entry("qreservoir", hidden_size=3, tasks=SMALL_INPUT_TASKS),
    Entry("qfwp", hidden_size=8, tasks=NOT_CARTPOLE),
    *CARTPOLE_QUANTUM,
)

ZERO_ONE = {"classes": "0,1"}
NEURON = (
    Entry("qneuron_rnn", {"n_qubits": 12}, tasks=("digits_pixels",), task_options=ZERO_ONE,
          train={"epochs": 15, "lr": 0.02}),
    Entry("qneuron_rnn", {"n_qubits": 3}, tasks=("parity",), train={"epochs": 30, "lr": 0.05}),
    *(Entry(model, hidden_size=h, tasks=("digits_pixels",), task_options=ZERO_ONE,
            train={"epochs": 15, "lr": 0.02}) for model, h in (("qlstm", 3), ("lstm", 4))),
    *(Entry(model, hidden_size=h, tasks=("parity",), train={"epochs": 30, "lr": 0.05})
      for model, h in (("qlstm", 3), ("lstm", 2))),
)
"""The quantum-neuron RNN (Bausch 2020) on pixel-by-pixel digits 0 vs 1 (12 qubits, the
paper's setting on MNIST) and 8-bit parity (3 qubits), next to QLSTM and small LSTMs."""

SUITES: dict[str, Suite] = {
    s.name: s
    for s in (
        Suite("quick", "quick", QUICK, QUICK_TASKS, 3,
              "every family on small tasks at quick size: minutes on a 2-core CPU (the "
              "README's table)"),
        Suite("full", "full", FULL, (), 3,
              "every task whose data package is installed, at the published size, for every "
              "family (quantum models on the tasks of at most 4 input features)"),
        Suite("paper", "full", QUANTUM_PAPER + ANALOG_PAPER, PAPER_SERIES + ANALOG_TASKS, 3,
              "the published protocols of the reproductions"),
        Suite("neuron", "quick", NEURON, ("digits_pixels", "parity"), 3,
              "the quantum-neuron RNN next to QLSTM and LSTM on digits 0/1 and parity"),
    )
}


def suite(name: str) -> Suite:
    """The suite ``name``: ``full`` takes every task whose data package is installed; an
    unknown name lists the valid ones."""
    if name not in SUITES:
        raise ValueError(f"unknown suite {name!r}; allowed: {', '.join(SUITES)}")
    s = SUITES[name]
    if name == "full":
        from experiments import tasks

        available = tuple(n for n in tasks.names() if not tasks.spec(n).missing())
        s = Suite(s.name, s.size, s.entries, available, s.seeds, s.description)
    return s
