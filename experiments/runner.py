"""One run = one (model, task, size, seed) with its settings: described by :class:`RunSpec`,
executed by :func:`execute` (a plain function, so process pools and Dask can ship it)."""

from __future__ import annotations

import inspect
import time
from dataclasses import asdict, dataclass, field

import torch

from experiments import tasks
from experiments.models import build_model, count_parameters, model_spec
from experiments.store import Run, config_hash, now, package_versions
from experiments.train import DTYPES, TrainConfig, fit


@dataclass(frozen=True)
class RunSpec:
    """Everything that decides a run's result except the seed lives in ``config()``; the
    store identifies a run by ``(config_hash, seed)``."""

    model: str
    task: str
    size: str = "quick"
    seed: int = 0
    backend: str | None = None
    hidden_size: int | None = None
    num_layers: int = 1
    train: dict = field(default_factory=dict)
    task_options: dict = field(default_factory=dict)
    options: dict = field(default_factory=dict)
    """Model options (see ``qrnn models``); after :meth:`resolved`, every declared option."""

    def resolved(self) -> RunSpec:
        """Fill defaults (backend, hidden size, model options, trainer settings) from the
        registries and validate every name and value, so a bad sweep fails before any
        training."""
        spec = model_spec(self.model)
        task_spec = tasks.spec(self.task)
        if self.size not in tasks.SIZES:
            raise ValueError(f"size={self.size!r}; allowed: {', '.join(tasks.SIZES)}")
        if not isinstance(self.seed, int) or self.seed < 0:
            raise ValueError(f"seed={self.seed!r}: must be an integer >= 0")
        defaults = dict(task_spec.train_defaults[self.size])
        default_hidden = defaults.pop("hidden_size")
        hidden = next(h for h in (self.hidden_size, spec.hidden_size, default_hidden)
                      if h is not None)
        if not isinstance(hidden, int) or hidden < 1:
            raise ValueError(f"hidden_size={hidden!r}: must be an integer >= 1")
        train = TrainConfig(**{**defaults, **spec.defaults,
                               **{k: v for k, v in self.train.items() if v is not None}})
        return RunSpec(self.model, self.task, self.size, self.seed,
                       spec.resolve_backend(self.backend), hidden, self.num_layers,
                       train.to_dict(), dict(self.task_options),
                       spec.resolve_options(self.options))

    def config(self) -> dict:
        """What identifies the run apart from its seed. A model without options keeps the
        configuration (and hash) it had before models could declare options."""
        d = asdict(self)
        d.pop("seed")
        if not d["options"]:
            d.pop("options")
        return d

    def key(self) -> tuple[str, int]:
        return config_hash(self.config()), self.seed


def execute(spec: RunSpec, quiet: bool = True, threads: int | None = 1) -> Run:
    """Load the task, build the model from the seed, train, evaluate; return the stored row.

    ``threads`` sets torch's intra-op threads during the run (``None`` leaves them alone;
    the previous setting is restored afterwards):
    one thread is fastest for the small recurrent models of the quick suite, where the work
    per operation is too small to share; sweeps get parallelism from worker processes.
    """
    spec = spec.resolved()
    previous_threads = torch.get_num_threads()
    if threads is not None:
        torch.set_num_threads(threads)
    try:
        started = now()
        t0 = time.perf_counter()
        task = tasks.load(spec.task, spec.size, spec.seed, **spec.task_options)
        model = build_model(spec.model, task.input_size, task.output_size, task.kind,
                            hidden_size=spec.hidden_size, backend=spec.backend,
                            num_layers=spec.num_layers, seed=spec.seed, options=spec.options)
        config = TrainConfig(**spec.train)
        result = fit(model, task, config, seed=spec.seed, quiet=quiet)
        cost = hardware_cost(model.body, task)
        outputs = test_outputs(model, task, config)
    finally:
        torch.set_num_threads(previous_threads)
    return Run(
        config_hash=spec.key()[0], seed=spec.seed, model=spec.model, task=spec.task,
        size=spec.size, family=model_spec(spec.model).family, backend=spec.backend,
        config=spec.config(), metric=task.metric, value=float(result.metrics[task.metric]),
        metrics=result.metrics, history=result.history, params=count_parameters(model),
        epochs=result.epochs_run, seconds_per_epoch=result.seconds_per_epoch,
        seconds=time.perf_counter() - t0, versions=package_versions(), started_at=started,
        finished_at=now(), cost=cost, outputs=outputs,
    )


def hardware_cost(body, task) -> dict:
    """The body's ``hardware_cost(steps)`` for one sequence of the task's length (energy,
    latency and area for analog; depth, two-qubit gates, circuit executions for quantum),
    with the test inputs as ``x`` for a body whose cost depends on the data (the quantum
    neuron's expected repetitions), plus ``executions_per_epoch`` when the body reports
    ``executions_per_sequence``; ``{}`` for a body without a hardware model."""
    cost_fn = getattr(body, "hardware_cost", None)
    if cost_fn is None or task.train is None:
        return {}
    kwargs = {"x": task.test.x} if "x" in inspect.signature(cost_fn).parameters else {}
    cost = dict(cost_fn(steps=int(task.train.x.shape[1]), **kwargs))
    if "executions_per_sequence" in cost:
        cost["executions_per_epoch"] = cost["executions_per_sequence"] * len(task.train)
    return cost


@torch.no_grad()
def test_outputs(model, task, config: TrainConfig) -> dict:
    """Regression: the test predictions and targets (first output), for the report's
    prediction-vs-truth figure; other kinds: ``{}``."""
    if task.kind != "regression":
        return {}
    model.eval()
    x = task.test.x.to(DTYPES[config.dtype])
    pred = torch.cat([model(x[lo: lo + 256]) for lo in range(0, len(x), 256)])
    return {"pred": pred[:, 0].tolist(), "true": task.test.y[:, 0].tolist()}
