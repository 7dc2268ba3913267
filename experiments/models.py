"""Registry of sequence models, their options, and the task heads that turn them into predictors.

A registered model is a recurrent body obeying the package contract (``x (B, T, F)`` ->
``(y (B, T, W), state)``, :class:`kernels.contract.SequenceBody`); :class:`SequenceModel` adds
the head a task needs. Registering a model (each family adds its entries to :data:`MODELS`)::

    ModelSpec(
        name="mymodel", family="quantum", description="one line",
        build=build_mymodel,                  # or "package.module:function", imported lazily
        backends=("fast", "default.qubit"),   # first = default
        options=(Option("n_qubits", int, 4, "qubits per circuit", low=1, high=20),
                 Option("shots", int, None, "samples per expectation", low=1, optional=True),
                 Option("variant", str, "a", "circuit design", choices=("a", "b"))),
    )

``build(input_size, hidden_size, *, backend, num_layers, seed, **options)`` returns the body;
``seed`` is the run's seed, from which every stochastic part of the model draws
(:func:`kernels.contract.generator`); parameter initialisation also runs under
``torch.manual_seed(seed)``. A body may expose ``output_size`` (the width ``W`` of ``y``) when
it differs from ``hidden_size``; the head reads it.

Options are validated when a run is resolved (:meth:`ModelSpec.resolve_options`: unknown
names, wrong types, values out of range, one line each), stored with the run and part of its
config hash, listed by ``qrnn models``, set from the command line with ``--option
name=value`` (repeatable) and from Python with ``RunSpec(..., options={...})`` or
``build_model(..., options={...})``. ``backend`` is not an option: every model has one
(``--backend``); a family whose backends are open-ended (any installed PennyLane device)
gives ``check_backend``. Listing the registry imports neither torch nor a model package.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

TYPES = {int: "int", float: "float", str: "str", bool: "bool"}
_TRUE, _FALSE = ("1", "true", "yes", "on"), ("0", "false", "no", "off")


@dataclass(frozen=True)
class Option:
    """One model option: its name, type (int, float, str or bool), default, one line of help
    and what is allowed (``choices``, an inclusive ``low``/``high`` range for numbers, and
    ``None`` when ``optional``; spelled ``none`` on the command line)."""

    name: str
    type: type
    default: Any
    help: str
    choices: tuple | None = None
    low: float | None = None
    high: float | None = None
    optional: bool = False

    def __post_init__(self) -> None:
        if self.type not in TYPES:
            raise TypeError(f"Option {self.name!r}: type must be one of int, float, str, bool")
        self.check(self.default)  # a registry bug shows at import, not in a user's run

    def allowed(self) -> str:
        """What the option accepts, in words (for errors and ``qrnn models``)."""
        if self.choices is not None:
            text = "one of " + ", ".join(map(str, self.choices))
        elif self.low is not None and self.high is not None:
            text = f"{TYPES[self.type]} in [{self.low:g}, {self.high:g}]"
        elif self.low is not None:
            text = f"{TYPES[self.type]} >= {self.low:g}"
        elif self.high is not None:
            text = f"{TYPES[self.type]} <= {self.high:g}"
        else:
            text = TYPES[self.type]
        return text + (" or none" if self.optional else "")

    def parse(self, text: str) -> Any:
        """The value of command-line ``text`` (then :meth:`check`)."""
        raw = text.strip()
        if self.optional and raw.lower() == "none":
            return None
        try:
            if self.type is bool:
                if raw.lower() not in _TRUE + _FALSE:
                    raise ValueError
                value = raw.lower() in _TRUE
            else:
                value = self.type(raw)
        except ValueError:
            raise ValueError(f"option {self.name}={text!r}: not a valid {TYPES[self.type]}; "
                             f"allowed: {self.allowed()}") from None
        return self.check(value)

    def check(self, value: Any) -> Any:
        """``value`` validated (an int is accepted for a float option), or a one-line error."""
        if value is None and self.optional:
            return None
        ok_type = isinstance(value, self.type) and not (
            self.type is not bool and isinstance(value, bool))
        if self.type is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok_type = float(value), True
        bad = not ok_type
        if not bad and self.type is float and not math.isfinite(value):
            bad = True
        if not bad and self.choices is not None and value not in self.choices:
            bad = True
        if not bad and self.type in (int, float) and (
                (self.low is not None and value < self.low)
                or (self.high is not None and value > self.high)):
            bad = True
        if bad:
            raise ValueError(f"option {self.name}={value!r} is not allowed; "
                             f"allowed: {self.allowed()}")
        return value

    def describe(self) -> dict:
        """JSON-ready description (``qrnn models --json``)."""
        return {"name": self.name, "type": TYPES[self.type], "default": self.default,
                "allowed": self.allowed(), "help": self.help}


@dataclass(frozen=True)
class ModelSpec:
    """A registered model (see the module docstring). ``backends`` lists the accepted
    backends, first = default; with ``check_backend`` (a callable or ``"module:function"``
    raising a one-line ValueError for a name it refuses) any name it accepts is allowed too."""

    name: str
    family: str
    description: str
    build: Callable[..., Any] | str
    backends: tuple[str, ...]
    options: tuple[Option, ...] = ()
    check_backend: Callable[[str], None] | str | None = None
    defaults: dict = field(default_factory=dict)
    """Trainer settings this model needs whatever the task (e.g. ``{"dtype": "float64"}``);
    explicit settings of a run still win."""
    hidden_size: int | None = None
    """The model's own default hidden size (quantum models: the papers' 3, as every hidden
    unit takes a qubit); None: the task's default. An explicit ``--hidden-size`` wins."""

    def option(self, name: str) -> Option:
        for opt in self.options:
            if opt.name == name:
                return opt
        known = ", ".join(o.name for o in self.options) or "none"
        raise ValueError(f"model {self.name!r} has no option {name!r}; its options: {known}")

    def resolve_options(self, given: dict | None) -> dict:
        """Every declared option with its value: ``given`` (values, or strings from the command
        line) validated, the rest defaults. Unknown names and bad values: one-line errors."""
        given = dict(given or {})
        out = {}
        for name in given:
            self.option(name)  # unknown name -> error naming the declared ones
        for opt in self.options:
            if opt.name in given:
                value = given[opt.name]
                out[opt.name] = (opt.parse(value) if isinstance(value, str) and opt.type is not str
                                 else opt.check(value))
            else:
                out[opt.name] = opt.default
        return out

    def resolve_backend(self, backend: str | None) -> str:
        backend = self.backends[0] if backend is None else backend
        if backend in self.backends:
            return backend
        if self.check_backend is not None:
            if not isinstance(backend, str):
                raise ValueError(f"backend={backend!r} must be a name")
            _resolve(self.check_backend)(backend)
            return backend
        raise ValueError(f"backend {backend!r} is not available for model {self.name!r}; "
                         f"allowed: {', '.join(self.backends)}")

    def builder(self) -> Callable[..., Any]:
        return _resolve(self.build)

    def describe(self) -> dict:
        """JSON-ready description (``qrnn models --json``)."""
        return {"name": self.name, "family": self.family, "description": self.description,
                "backends": list(self.backends),
                "open_backends": self.check_backend is not None,
                "hidden_size": self.hidden_size,
                "options": [o.describe() for o in self.options]}


def _resolve(target):
    """A callable, or the ``"module:function"`` it names (imported on first use)."""
    if callable(target):
        return target
    module, _, name = target.partition(":")
    return getattr(importlib.import_module(module), name)


def _classical(cls_name: str, name: str, description: str) -> ModelSpec:
    return ModelSpec(name, "classical", description, f"experiments.heads:build_{cls_name}",
                     ("torch", "reference", "fused"))


def _qneuron() -> ModelSpec:
    return ModelSpec(
        "qneuron_rnn", "quantum",
        "quantum-neuron RNN (Bausch 2020): repeat-until-success neurons, state kept in qubits",
        "qrnn.neuron_rnn:build", ("fast", "default.qubit", "qiskit.aer"),
        options=(
            Option("n_qubits", int, 6, "all qubits: register + one ancilla per order",
                   low=2, high=20),
            Option("order", int, 1, "repeat-until-success order k (q iterated k times)",
                   low=1, high=6),
            Option("rounds", int, 0, "amplitude-amplification rounds per RUS level",
                   low=0, high=3),
            Option("stages", int, 1, "neuron sweeps over the register per step", low=1,
                   high=8),
            Option("readout", int, 1, "register qubits read as the output distribution",
                   low=1, high=6),
            Option("shots", int, None, "shots per circuit (qiskit.aer)", low=1,
                   optional=True),
            Option("on_underflow", str, "raise", "success probability below the floor",
                   choices=("raise", "clamp")),
            Option("path", str, "auto", "fast-path neuron kernel",
                   choices=("auto", "compiled", "torch", "reference")),
        ))


ANALOG_OPTIONS = (
    Option("preset", str, "rram_realistic", "crossbar preset (ideal: exact devices and ADCs)",
           choices=("rram_realistic", "neurram", "ideal")),
    Option("activation", str, "nl_adc", "gate activations inside a nonlinear ramp ADC, or a "
           "linear ADC then digital activation", choices=("nl_adc", "digital")),
    Option("adc_bits", int, 5, "converter resolution (bits)", low=1, high=12),
    Option("linear_adc", str, "ramp", "kind of the linear ADC of activation=digital",
           choices=("ramp", "sar")),
    Option("prog_noise", float, None, "programming error sigma / g_max (none: preset's)",
           low=0.0, high=1.0, optional=True),
    Option("read_noise", float, None, "read noise sigma / g_max (none: preset's)", low=0.0,
           high=1.0, optional=True),
    Option("dac_range", float, None, "fixed input full scale (none: preset's, abs-max "
           "scaling per vector)", low=1e-6, high=1e6, optional=True),
)


def _analog(cell: str, description: str) -> ModelSpec:
    return ModelSpec(f"analog_{cell}", "analog", description,
                     f"analog.build:build_analog_{cell}", ("torch",), ANALOG_OPTIONS)


MODELS: dict[str, ModelSpec] = {
    s.name: s
    for s in (
        _classical("lstm", "lstm", "LSTM (Hochreiter & Schmidhuber 1997)"),
        _classical("gru", "gru", "GRU (Cho et al. 2014)"),
        _classical("elman", "elman", "Elman tanh RNN"),
        _classical("mingru", "mingru", "minGRU, parallel scan (Feng et al. 2024)"),
        _classical("minlstm", "minlstm", "minLSTM, parallel scan (Feng et al. 2024)"),
        _qneuron(),
        _analog("lstm", "LSTM on memristive crossbars, activations in a nonlinear ramp ADC"),
        _analog("gru", "GRU on memristive crossbars, sigmoid gates in a nonlinear ramp ADC"),
        _analog("elman", "Elman RNN on memristive crossbars, tanh in a nonlinear ramp ADC"),
    )
}


QUANTUM_BACKENDS = ("fast", "default.qubit", "lightning.qubit", "qiskit.aer")
"""Listed quantum backends (first = default); any other installed PennyLane device works too."""
_RUN_OPTIONS = (
    Option("shots", int, None, "shots per circuit call (none = exact expectation values)",
           low=1, optional=True),
    Option("noise", bool, False, "NISQ noise model (backend qiskit.aer only)"),
    Option("noise_p1", float, 1e-3, "depolarizing probability after 1-qubit gates", low=0,
           high=1),
    Option("noise_p2", float, 1e-2, "depolarizing probability after 2-qubit gates", low=0,
           high=1),
    Option("noise_readout", float, 2e-2, "readout bit-flip probability", low=0, high=1),
    Option("path", str, "auto", "fast simulator's compiled kernels: auto, reference (torch), cpu",
           choices=("auto", "reference", "cpu")),
)
_QUBITS = Option("n_qubits", int, None, "qubits per circuit (none = input_size + hidden_size)",
                 low=1, high=20, optional=True)
_LAYERS = Option("n_layers", int, 2, "layers per circuit", low=0, high=50)


def _quantum(name: str, description: str, *options: Option, hidden_size: int = 3
             ) -> ModelSpec:
    return ModelSpec(name, "quantum", description, f"qrnn.builders:build_{name}",
                     QUANTUM_BACKENDS, options + _RUN_OPTIONS, "qrnn.builders:check_backend",
                     {"dtype": "float64"}, hidden_size)


MODELS.update({
    s.name: s
    for s in (
        _quantum("qlstm", "quantum LSTM, six VQCs (Chen, Yoo & Fang 2020) or four (chen2022)",
                 _QUBITS,
                 Option("n_layers", int, None, "layers per circuit (none = 2 chen2020, "
                        "5 chen2022)", low=0, high=50, optional=True),
                 Option("variant", str, "chen2020", "circuit design",
                        choices=("chen2020", "chen2022"))),
        _quantum("qgru", "quantum GRU: each affine map a VQC (QLSTM construction)", _QUBITS,
                 _LAYERS),
        _quantum("qrnn", "quantum Elman RNN: h = tanh(VQC([x, h]))", _QUBITS, _LAYERS),
        _quantum("qreservoir", "quantum reservoir: frozen random circuits, ridge readout "
                 "(Chen et al. 2022)", _QUBITS, _LAYERS,
                 Option("cell", str, "qlstm", "frozen cell", choices=("qrnn", "qgru", "qlstm")),
                 Option("distribution", str, "uniform", "frozen angles: U[0, scale) or "
                        "scale N(0, 1)", choices=("uniform", "normal")),
                 Option("scale", float, None, "angle scale (none = 2 pi uniform, 1 normal)",
                        low=1e-12, optional=True),
                 Option("readout", str, "ridge", "closed-form ridge or gradient descent",
                        choices=("ridge", "gd"))),
        _quantum("qfwp", "quantum fast weight programmer (Chen 2024); hidden = latent width",
                 Option("n_qubits", int, 8, "qubits of the circuit", low=1, high=20),
                 Option("n_layers", int, 2, "layers of the circuit", low=1, high=50),
                 Option("n_outputs", int, 4, "measured qubits (width of y)", low=1, high=20),
                 Option("decay", float, 1.0, "factor on the previous fast weights", low=0,
                        high=1), hidden_size=8),
    )
})


def model_spec(name: str) -> ModelSpec:
    """The registered model ``name``; an unknown name lists the valid ones."""
    if name not in MODELS:
        raise ValueError(f"unknown model {name!r}; valid models: {', '.join(MODELS)}")
    return MODELS[name]


def build_model(name: str, input_size: int, output_size: int, kind: str, *,
                hidden_size: int, backend: str | None = None, num_layers: int = 1,
                seed: int = 0, options: dict | None = None):
    """Build model ``name`` with the head for ``kind`` (:class:`experiments.heads.SequenceModel`);
    parameters are initialised from ``seed`` (the global torch RNG is left as it was) and the
    model's stochastic parts draw from it too."""
    from experiments.heads import build_with_head

    spec = model_spec(name)
    return build_with_head(spec, input_size, output_size, kind, hidden_size=hidden_size,
                           backend=spec.resolve_backend(backend), num_layers=num_layers,
                           seed=seed, options=spec.resolve_options(options))


def count_parameters(model) -> int:
    """Number of trainable parameters."""
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def __getattr__(name: str):
    if name == "SequenceModel":  # the head lives with torch in experiments.heads
        from experiments.heads import SequenceModel

        return SequenceModel
    raise AttributeError(f"module 'experiments.models' has no attribute {name!r}")
