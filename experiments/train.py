"""One training loop for every model family and task kind.

``fit(model, task, config, seed)`` trains with the optimizer and learning rate of ``config``,
mini-batches shuffled from ``seed``, gradient clipping, early stopping on the validation
loss (the best weights are restored), a tqdm progress bar, and per-epoch metrics; it returns
a :class:`FitResult` with the test metrics. Control tasks go to :mod:`experiments.control`.

Closed-form readout hook: a body whose readout does not feed back (a reservoir) may define
``fit_readout(head, train, val) -> dict | None``. For regression tasks ``fit`` calls it first
with the model's head (an ``nn.Linear`` on the last step) and the train and validation
splits; if it returns a dict (with ``"train_mse"``) the head has been fitted in place and
no gradient descent runs (one "epoch" is recorded, its seconds the whole fit); ``None``
means "train me by gradient descent as usual".

Float-then-hardware hook (``TrainConfig.float_epochs = N``): a body that can run its exact
float network on the same parameters defines ``set_hardware(enabled: bool)`` (the analog
cells, :class:`analog.cells.AnalogLSTM` ...). ``fit`` then trains the first ``N`` epochs with
the hardware off (a float baseline), restores the best float epoch, converts
(``set_hardware(True)``) and trains the remaining ``epochs - N`` epochs hardware-aware with a
fresh optimizer at ``finetune_lr`` (None: ``lr``), keeping the best fine-tuning epoch. Each
history record carries ``"phase"`` (``"float"`` or ``"hardware"``); the test metrics of the
float network and of the converted one before fine-tuning are added to the metrics as
``float_<name>`` and ``converted_<name>``. A body without the hook is refused with one line.
"""

from __future__ import annotations

import math
import sys
import time
from dataclasses import asdict, dataclass, field

import torch
import torch.nn.functional as F
from torch import nn

from experiments.tasks import Split, TaskData
from kernels.contract import check_path
from kernels.optim import RMSPROP_ALPHA, RMSPROP_EPS, FlatOptimizer, flat_eligible

OPTIMIZERS = ("adam", "rmsprop", "sgd")
DTYPES = {"float32": torch.float32, "float64": torch.float64}


@dataclass(frozen=True)
class TrainConfig:
    """Trainer settings. ``lr``: learning rate; ``clip_grad``: max gradient norm (0 = off);
    ``patience``: epochs without validation improvement before stopping (0 = off)."""

    epochs: int = 30
    batch_size: int = 16
    lr: float = 0.01
    optimizer: str = "adam"
    clip_grad: float = 1.0
    patience: int = 0
    weight_decay: float = 0.0
    dtype: str = "float32"
    float_epochs: int = 0
    """Epochs trained with the body's hardware off before conversion (0 = off; module
    docstring)."""
    finetune_lr: float | None = None
    """Learning rate after conversion when ``float_epochs`` > 0 (None = ``lr``)."""

    def __post_init__(self) -> None:
        for name in ("epochs", "batch_size"):
            value = getattr(self, name)
            if not isinstance(value, int) or isinstance(value, bool) or value < 1:
                raise ValueError(f"{name}={value!r}: must be an integer >= 1")
        if not (isinstance(self.lr, (int, float)) and math.isfinite(self.lr) and self.lr > 0):
            raise ValueError(f"lr={self.lr!r}: must be a finite number > 0")
        if self.optimizer not in OPTIMIZERS:
            raise ValueError(f"optimizer={self.optimizer!r}; allowed: {', '.join(OPTIMIZERS)}")
        if not (math.isfinite(self.clip_grad) and self.clip_grad >= 0):
            raise ValueError(f"clip_grad={self.clip_grad!r}: must be >= 0 (0 = off)")
        if not isinstance(self.patience, int) or self.patience < 0:
            raise ValueError(f"patience={self.patience!r}: must be an integer >= 0 (0 = off)")
        if not (math.isfinite(self.weight_decay) and self.weight_decay >= 0):
            raise ValueError(f"weight_decay={self.weight_decay!r}: must be >= 0")
        if self.dtype not in DTYPES:
            raise ValueError(f"dtype={self.dtype!r}; allowed: {', '.join(DTYPES)}")
        if (not isinstance(self.float_epochs, int) or isinstance(self.float_epochs, bool)
                or not 0 <= self.float_epochs <= self.epochs):
            raise ValueError(f"float_epochs={self.float_epochs!r}: must be an integer in "
                             f"[0, epochs={self.epochs}]")
        if self.finetune_lr is not None:
            if not (isinstance(self.finetune_lr, (int, float)) and not isinstance(
                    self.finetune_lr, bool) and math.isfinite(self.finetune_lr)
                    and self.finetune_lr > 0):
                raise ValueError(f"finetune_lr={self.finetune_lr!r}: must be a finite number "
                                 "> 0 or None")
            if self.float_epochs == 0:
                raise ValueError(f"finetune_lr={self.finetune_lr!r} needs float_epochs >= 1 "
                                 "(it is the learning rate after conversion)")

    def to_dict(self) -> dict:
        """The settings; ``float_epochs``/``finetune_lr`` only when set, so a run without
        them keeps the configuration hash it had before they existed."""
        d = asdict(self)
        for name in ("float_epochs", "finetune_lr"):
            if not d[name]:
                d.pop(name)
        return d


@dataclass
class FitResult:
    """Test metrics (``metrics``), per-epoch records (``history``), epochs run, best epoch
    (1-based; the restored weights) and mean wall seconds per epoch."""

    metrics: dict
    history: list = field(default_factory=list)
    epochs_run: int = 0
    best_epoch: int = 0
    seconds_per_epoch: float = 0.0


def make_optimizer(config: TrainConfig, params, lr: float | None = None, path: str = "auto"):
    """The optimizer of ``config`` over ``params`` at ``lr`` (None: ``config.lr``): on
    ``path="auto"`` a :class:`kernels.optim.FlatOptimizer` (the same updates in a few
    operations on one buffer) when the trainable tensors share a dtype and device, else
    ``torch.optim`` (RMSprop with the QLSTM paper's alpha 0.99, eps 1e-8);
    ``path="reference"`` always ``torch.optim``."""
    check_path(path, ("flat",))
    lr = config.lr if lr is None else lr
    params = list(params)
    if path != "reference" and flat_eligible([p for p in params if p.requires_grad]):
        return FlatOptimizer(params, config.optimizer, lr, config.weight_decay)
    if path == "flat":
        raise ValueError("path='flat' needs trainable dense floating-point tensors of one "
                         "dtype and device")
    if config.optimizer == "adam":
        return torch.optim.Adam(params, lr=lr, weight_decay=config.weight_decay)
    if config.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=lr, alpha=RMSPROP_ALPHA, eps=RMSPROP_EPS,
                                   weight_decay=config.weight_decay)
    return torch.optim.SGD(params, lr=lr, weight_decay=config.weight_decay)


def optimizer_step(optimizer, params, clip_grad: float) -> None:
    """Clip the gradients of ``params`` to a total norm of ``clip_grad`` (0 = off) and take
    one step, on either kind of optimizer :func:`make_optimizer` returns."""
    if isinstance(optimizer, FlatOptimizer):
        optimizer.step(max_grad_norm=clip_grad)
        return
    if clip_grad > 0:
        nn.utils.clip_grad_norm_(params, clip_grad)
    optimizer.step()


def _loss(kind: str, out, y) -> torch.Tensor:
    if kind == "regression":
        return F.mse_loss(out, y)
    if kind == "classification":
        return F.cross_entropy(out, y)
    return F.cross_entropy(out.reshape(-1, out.shape[-1]), y.reshape(-1))


def _batch(split: Split, idx, dtype: torch.dtype):
    """``(x, y, lengths)`` of the rows ``idx`` (a slice or index tensor), floats in ``dtype``."""
    y = split.y[idx]
    return (split.x[idx].to(dtype), y.to(dtype) if y.is_floating_point() else y,
            None if split.lengths is None else split.lengths[idx])


@torch.no_grad()
def evaluate(model: nn.Module, kind: str, split: Split, batch_size: int = 256,
             dtype: torch.dtype = torch.float32) -> dict:
    """Metrics of ``model`` on ``split``: regression ``mse``/``mae``; classification
    ``accuracy``/``cross_entropy``; language ``bpc`` (bits per character)/``cross_entropy``."""
    was_training = model.training
    model.eval()
    sums = {"loss": 0.0, "abs": 0.0, "correct": 0.0}
    count = 0
    for lo in range(0, len(split), batch_size):
        x, y, lengths = _batch(split, slice(lo, lo + batch_size), dtype)
        out = model(x, lengths)
        n = y.numel() if kind == "language" else y.shape[0]
        sums["loss"] += float(_loss(kind, out, y)) * n
        if kind == "regression":
            sums["abs"] += float((out - y).abs().mean()) * n
        elif kind == "classification":
            sums["correct"] += float((out.argmax(-1) == y).sum())
        count += n
    model.train(was_training)
    mean = sums["loss"] / count
    if kind == "regression":
        return {"mse": mean, "mae": sums["abs"] / count}
    if kind == "classification":
        return {"accuracy": sums["correct"] / count, "cross_entropy": mean}
    return {"bpc": mean / math.log(2.0), "cross_entropy": mean}


def progress_bar(total: int, desc: str, quiet: bool):
    """A tqdm bar over epochs, silent when ``quiet`` or stderr is not a terminal."""
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, leave=False,
                disable=quiet or not sys.stderr.isatty(), unit="epoch")


def check_fit_inputs(model: nn.Module, task: TaskData) -> None:
    """The model's head matches ``task`` (kind, output size) and its data is finite."""
    kind = getattr(model, "kind", None)
    if kind is not None and kind != task.kind:
        raise ValueError(f"the model's head is for {kind!r} tasks but task {task.name!r} is "
                         f"{task.kind!r}; build it with kind={task.kind!r}")
    head = getattr(model, "head", None)
    width = getattr(head, "out_features", task.output_size)
    if width != task.output_size:
        raise ValueError(f"the model's head has {width} outputs but task {task.name!r} needs "
                         f"{task.output_size}; build it with output_size={task.output_size}")
    for name in ("train", "val", "test"):
        split = getattr(task, name)
        if split is None:
            continue
        for part, values in (("x", split.x), ("y", split.y)):
            if values.is_floating_point():
                bad = int((~torch.isfinite(values)).sum())
                if bad:
                    raise ValueError(f"task {task.name!r}: {name}.{part} holds {bad} NaN/inf "
                                     "values; the data is the cause, not the learning rate: "
                                     "clean or impute it before training")


def _fit_readout(model: nn.Module, task: TaskData, dtype: torch.dtype) -> FitResult | None:
    """The closed-form readout hook (module docstring), or None when it does not apply."""
    hook = getattr(getattr(model, "body", None), "fit_readout", None)
    if hook is None or task.kind != "regression":
        return None
    start = time.perf_counter()
    info = hook(model.head, task.train, task.val)
    if info is None:
        return None
    seconds = time.perf_counter() - start
    val = evaluate(model, task.kind, task.val, dtype=dtype)
    history = [{"epoch": 1, "train_loss": info["train_mse"], "val_loss": val["mse"],
                **{f"val_{k}": v for k, v in val.items()}, "seconds": seconds}]
    return FitResult(evaluate(model, task.kind, task.test, dtype=dtype), history, 1, 1, seconds)


def _phases(model: nn.Module, config: TrainConfig):
    """``[(phase, epochs, lr), ...]``: one unnamed phase, or ``float`` then ``hardware`` when
    ``config.float_epochs`` is set (refused for a body without ``set_hardware``)."""
    if not config.float_epochs:
        return None, [(None, config.epochs, config.lr)]
    body = getattr(model, "body", model)
    hook = getattr(body, "set_hardware", None)
    if hook is None:
        raise ValueError(f"float_epochs={config.float_epochs} needs a body that can switch its "
                         f"hardware off (set_hardware); {type(body).__name__} has none: use "
                         "an analog model (analog_lstm, analog_gru, analog_elman) or "
                         "float_epochs=0")
    return hook, [("float", config.float_epochs, config.lr),
                  ("hardware", config.epochs - config.float_epochs,
                   config.finetune_lr or config.lr)]


def fit(model: nn.Module, task: TaskData, config: TrainConfig, seed: int = 0,
        quiet: bool = False) -> FitResult:
    """Train ``model`` (a :class:`experiments.heads.SequenceModel`) on ``task``.

    Refused before training (``ValueError``): a head built for another task kind or output
    size, splits whose inputs or float targets hold NaN or inf, and ``float_epochs`` for a
    body without ``set_hardware`` or a control task."""
    check_fit_inputs(model, task)
    if task.kind == "control":
        if config.float_epochs:
            raise ValueError("float_epochs is not supported on control tasks; use "
                             "float_epochs=0")
        from experiments.control import fit_policy

        return fit_policy(model, task, config, seed=seed, quiet=quiet)
    hook, phases = _phases(model, config)
    dtype = DTYPES[config.dtype]
    model.to(dtype)
    closed_form = _fit_readout(model, task, dtype)
    if closed_form is not None:
        return closed_form
    gen = torch.Generator().manual_seed(seed)
    history, times, extra, best_epoch = [], [], {}, 0
    bar = progress_bar(config.epochs, f"{task.name}", quiet)
    try:
        for phase, epochs, lr in phases:
            if phase == "hardware":  # convert the best float network, score it, fine-tune
                extra = {f"float_{k}": v for k, v in
                         evaluate(model, task.kind, task.test, dtype=dtype).items()}
                hook(True)
                extra.update({f"converted_{k}": v for k, v in
                              evaluate(model, task.kind, task.test, dtype=dtype).items()})
            elif phase == "float":
                hook(False)
            if epochs:
                best_epoch = _train_phase(model, task, config, lr, epochs, phase, gen, dtype,
                                          history, times, bar)
    finally:
        bar.close()
        if hook is not None:
            hook(True)
    metrics = evaluate(model, task.kind, task.test, dtype=dtype)
    seconds = sum(times) / len(times) if times else 0.0
    return FitResult({**metrics, **extra}, history, len(history), best_epoch, seconds)


def _train_phase(model: nn.Module, task: TaskData, config: TrainConfig, lr: float, epochs: int,
                 phase: str | None, gen: torch.Generator, dtype: torch.dtype, history: list,
                 times: list, bar) -> int:
    """Up to ``epochs`` epochs with a fresh optimizer at ``lr`` (early stopping by
    ``config.patience``), appending to ``history`` and ``times``; the best epoch's weights are
    restored and its (1-based, whole-run) number returned."""
    optimizer = make_optimizer(config, model.parameters(), lr)
    train = task.train
    best = (math.inf, 0, None)  # (validation loss, epoch, state)
    first = len(history) + 1
    for epoch in range(first, first + epochs):
        start = time.perf_counter()
        model.train()
        order = torch.randperm(len(train), generator=gen)
        total, seen = 0.0, 0
        for lo in range(0, len(train), config.batch_size):
            idx = order[lo: lo + config.batch_size]
            x, y, lengths = _batch(train, idx, dtype)
            loss = _loss(task.kind, model(x, lengths), y)
            if not torch.isfinite(loss):
                raise FloatingPointError(
                    f"training loss became {float(loss)} at epoch {epoch}; "
                    f"lower the learning rate (lr={lr})")
            optimizer.zero_grad(set_to_none=True)
            loss.backward()
            optimizer_step(optimizer, model.parameters(), config.clip_grad)
            total += float(loss.detach()) * len(idx)
            seen += len(idx)
        times.append(time.perf_counter() - start)
        val = evaluate(model, task.kind, task.val, dtype=dtype)
        val_loss = val["mse"] if task.kind == "regression" else val["cross_entropy"]
        history.append({"epoch": epoch, "train_loss": total / seen, "val_loss": val_loss,
                        **{f"val_{k}": v for k, v in val.items()}, "seconds": times[-1],
                        **({} if phase is None else {"phase": phase})})
        if val_loss < best[0]:
            best = (val_loss, epoch, {k: v.detach().clone()
                                      for k, v in model.state_dict().items()})
        bar.update(1)
        bar.set_postfix(train=f"{total / seen:.3g}", val=f"{val_loss:.3g}")
        if config.patience and epoch - best[1] >= config.patience:
            break
    if best[2] is not None:
        model.load_state_dict(best[2])
    return best[1]
