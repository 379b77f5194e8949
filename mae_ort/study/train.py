"""Training path: train an architecture with Keras and record its test MAE at several epoch budgets.

The model is the one the sampler scores (:func:`mae_ort.model.keras_interop.to_keras`: the
same cell, activations, look-back and Dense head), with optional ``Dropout``
layers after each recurrent layer for training (inactive at inference, so the
trained network computes exactly the sampler's function).

Each architecture is trained **once**, for the largest epoch budget; a Keras
callback evaluates the test MAE whenever an epoch budget is reached
(:class:`BudgetRecorder`).  The network recorded at budget ``b`` is the network
``model.fit(epochs=b)`` would have returned: with early stopping and
``restore_best=True`` (Keras restores the best weights at the end of every
``fit``), that is the best-validation-loss weights among epochs ``1..b``.

Defaults are the ``paper`` trainer (:data:`TRAINERS`; evidence in docs/REPRODUCING.md): Adam with
learning rate 5e-5, MSE loss, dropout 0.3 after each recurrent layer, batch 512,
``validation_split=0.3`` (the last 30 % of the training windows), no shuffling,
early stopping on the validation loss with patience 50 and ``min_delta=1e-4``,
best weights restored.

The split is explicit (:class:`TrainTestSplit`): the network is fitted on the
windows of the training part and tested on the points that follow it.  Test
windows take their look-back history from the end of the training part, so
every test point is predicted:

* ``one-step`` (default): each test point from the true previous ``LB`` points;
* ``recursive``: blind multi-step prediction as the paper-era code did; start
  from the last ``LB`` training points and feed every prediction back as the next
  input (needs the inputs to be the targets).

With ``target_form="delta"`` the network forecasts the change from the target's last value and
the model adds that value back (:func:`mae_ort.model.keras_interop.add_last_value`: read from the
window when the target is an input, else an extra input), so it is trained on, and tested against,
the level: the test MAEs of both forms are in the target's units and compare directly.

Keras and TensorFlow are imported inside the functions only.
"""

from __future__ import annotations

import hashlib
import json
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from .._checks import check_int, check_option, check_real, check_seed, split_items
from .._system import limit_threads
from ..data import TrainTestSplit, Windows, check_target_form, target_inputs
from ..errors import DataError, InvalidParameterError
from ..model.architecture import Architecture, check_head

__all__ = [
    "TRAINERS",
    "TEST_MODES",
    "TrainSettings",
    "BudgetResult",
    "TrainResult",
    "parse_epochs",
    "build_model",
    "one_step_mae",
    "model_inputs",
    "recursive_mae",
    "train",
]

#: How the test MAE is measured.
TEST_MODES = ("one-step", "recursive")

OPTIMIZERS = ("adam", "rmsprop", "sgd", "adamw", "nadam", "adagrad")
LOSSES = ("mse", "mae", "huber")


# -- settings -------------------------------------------------------------------------
#: Named trainers.  Each is a full :class:`TrainSettings`; any field can be overridden
#: (:meth:`TrainSettings.preset`).  Their evidence is in docs/REPRODUCING.md.
#:
#: ``paper``
#:     The paper-era trainer of the reference implementation (Camero et al.'s
#:     ``BPTrainRNN``: Adam 5e-5, MSE, dropout 0.3 after each recurrent layer, the last
#:     30 % of the training windows for early stopping with patience 50 and min_delta
#:     1e-4, best weights kept, no shuffling) with **batch 5**: the paper states no batch
#:     size; the reference sine loader's ``batch_size=5``, the paper's ~1 s per epoch
#:     (Table 4) and its mean trained MAE falling to 0.133 by 100 epochs all point to a
#:     small batch, which at learning rate 5e-5 is what lets the networks learn.
#: ``reference``
#:     The same with that function's own default batch of 512 (2 Adam steps per epoch:
#:     the networks barely move in 100 epochs), kept for comparison.
#: ``modern``
#:     What a practitioner would use today: Adam 1e-3, batch 32, shuffled, no dropout,
#:     the last 20 % for early stopping (patience 20, min_delta 1e-5), best weights kept;
#:     a robustness check that a conclusion does not hinge on one regime.
#: ``forecast``
#:     For real series, with ``target_form="delta"`` (the network forecasts the change), trained until early
#:     stopping ends it: Adam 5e-3, batch 16, shuffled, no dropout, the last 20 % for early stopping
#:     (patience 20, min_delta 1e-5 in the scaled units), best weights kept, budget 150 epochs
#:     (``--epochs 150``).  ``scripts/trainer_convergence.py`` shows budget and patience are enough in the
#:     change form (docs/trainer-convergence.md): doubling both moved the median test MAE of 10 small LSTMs
#:     by 0.0 % on CO2 and 0.0 % on EUNITE (one seed).  Not shown for the level form: at batch 64 doubling
#:     moved EUNITE's median by -8.4 % (level) and -8.7 % (change), at batch 16 in the level form by -6.3 %.
TRAINERS: dict[str, dict] = {
    "paper": dict(optimizer="adam", learning_rate=5e-5, loss="mse", dropout=0.3, batch_size=5, validation_split=0.3,
                  shuffle=False, patience=50, min_delta=1e-4, restore_best=True, init="keras"),
    "reference": dict(optimizer="adam", learning_rate=5e-5, loss="mse", dropout=0.3, batch_size=512,
                      validation_split=0.3, shuffle=False, patience=50, min_delta=1e-4, restore_best=True,
                      init="keras"),
    "modern": dict(optimizer="adam", learning_rate=1e-3, loss="mse", dropout=0.0, batch_size=32, validation_split=0.2,
                   shuffle=True, patience=20, min_delta=1e-5, restore_best=True, init="keras"),
    "forecast": dict(optimizer="adam", learning_rate=5e-3, loss="mse", dropout=0.0, batch_size=16,
                     validation_split=0.2, shuffle=True, patience=20, min_delta=1e-5, restore_best=True,
                     init="keras"),
}


@dataclass(frozen=True)
class TrainSettings:
    """How a network is trained (defaults: the ``paper`` trainer of :data:`TRAINERS`).

    Parameters
    ----------
    optimizer : str
        Keras optimizer name (``adam``, ``rmsprop``, ``sgd``, ``adamw``, ``nadam``, ``adagrad``).
    learning_rate : float
    loss : {'mse', 'mae', 'huber'}
    dropout : float
        Rate of the ``Dropout`` layer put after each recurrent layer during
        training (0 = none).  Inactive at inference.
    batch_size : int
    validation_split : float
        Fraction of the training windows, taken from their end, used as the
        validation set (early stopping monitors its loss; 0 = monitor the training loss).
    shuffle : bool
    patience : int or None
        Early-stopping patience in epochs; None disables early stopping.
    min_delta : float
        Smallest decrease of the monitored loss that counts as an improvement.
    restore_best : bool
        Keep the best-monitored-loss weights (Keras ``restore_best_weights``).
    init : str
        Initial weights: ``keras`` (Keras' own initialisers, as the paper-era
        trainer) or a :class:`mae_ort.sampling.sampler.Init` text such as
        ``uniform:-0.5,0.5`` (the later library's final training).
    """

    optimizer: str = "adam"
    learning_rate: float = 5e-5
    loss: str = "mse"
    dropout: float = 0.3
    batch_size: int = 5
    validation_split: float = 0.3
    shuffle: bool = False
    patience: int | None = 50
    min_delta: float = 1e-4
    restore_best: bool = True
    init: str = "keras"

    def __post_init__(self) -> None:
        caller = "TrainSettings"
        object.__setattr__(self, "optimizer", check_option(self.optimizer, "optimizer", caller, OPTIMIZERS))
        object.__setattr__(self, "learning_rate",
                           check_real(self.learning_rate, "learning_rate", caller, low=0.0, low_open=True))
        object.__setattr__(self, "loss", check_option(self.loss, "loss", caller, LOSSES))
        object.__setattr__(self, "dropout", check_real(self.dropout, "dropout", caller, low=0.0, high=1.0,
                                                       high_open=True))
        object.__setattr__(self, "batch_size", check_int(self.batch_size, "batch_size", caller, low=1))
        object.__setattr__(self, "validation_split", check_real(self.validation_split, "validation_split", caller,
                                                                low=0.0, high=1.0, high_open=True))
        if not isinstance(self.shuffle, bool):
            raise InvalidParameterError(
                f"The 'shuffle' parameter of {caller} must be a bool. Got {self.shuffle!r} instead."
            )
        if self.patience is not None:
            object.__setattr__(self, "patience", check_int(self.patience, "patience", caller, low=0))
        object.__setattr__(self, "min_delta", check_real(self.min_delta, "min_delta", caller, low=0.0))
        if not isinstance(self.restore_best, bool):
            raise InvalidParameterError(
                f"The 'restore_best' parameter of {caller} must be a bool. Got {self.restore_best!r} instead."
            )
        init = self.init
        if not isinstance(init, str):
            init = str(init)
        if init.strip().lower() != "keras":
            from ..sampling.settings import Init

            init = str(Init.parse(init))
        else:
            init = "keras"
        object.__setattr__(self, "init", init)

    @classmethod
    def preset(cls, name: str = "paper", **overrides) -> "TrainSettings":
        """The settings of a named trainer (:data:`TRAINERS`), with some fields overridden.

        Raises
        ------
        InvalidParameterError
            An unknown trainer or field, or a bad value.
        """
        key = check_option(name, "trainer", "TrainSettings.preset", TRAINERS)
        fields = dict(TRAINERS[key])
        unknown = sorted(set(overrides) - set(fields))
        if unknown:
            raise InvalidParameterError(f"unknown training setting(s) {', '.join(unknown)}; "
                                        f"valid: {', '.join(fields)}")
        fields.update(overrides)
        return cls(**fields)

    def trainer(self) -> str:
        """The name of the preset these settings equal, or ``"custom"``."""
        mine = self.to_dict()
        for name, fields in TRAINERS.items():
            if all(mine[k] == v for k, v in fields.items()):
                return name
        return "custom"

    def to_dict(self) -> dict:
        """Plain fields, JSON-ready."""
        return asdict(self)

    def key(self) -> str:
        """A short hash of the settings (keys stored trained results)."""
        text = json.dumps(self.to_dict(), sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()[:16]


def parse_epochs(value, caller: str = "train") -> tuple[int, ...]:
    """Epoch budgets from ``"1,10,100"`` or a sequence: distinct positive ints, sorted."""
    rule = "a comma-separated list of positive integers such as '1,10,100'"

    def bad() -> InvalidParameterError:
        return InvalidParameterError(f"The 'epochs' parameter of {caller} must be {rule}. Got {value!r} instead.")

    if isinstance(value, str):
        parts = split_items(value, "epochs", caller) if value.strip() else []
        try:
            values = [int(p) for p in parts]
        except ValueError:
            raise bad() from None
    elif isinstance(value, (int, np.integer)) and not isinstance(value, bool):
        values = [int(value)]
    else:
        try:
            values = list(value)
        except TypeError:
            raise bad() from None
    if not values or any(isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1 for v in values):
        raise bad()
    return tuple(sorted({int(v) for v in values}))


# -- results ---------------------------------------------------------------------------
@dataclass
class BudgetResult:
    """The trained network's errors when an epoch budget is reached.

    ``epochs_run`` is how many epochs had actually run (fewer than ``epochs`` when
    early stopping ended the training before the budget); ``best_epoch`` is the
    epoch whose weights were evaluated (1-based).
    """

    epochs: int
    test_mae: float
    test_mae_recursive: float | None
    train_mae: float
    monitor_loss: float | None
    epochs_run: int
    best_epoch: int
    seconds: float


@dataclass
class TrainResult:
    """The outcome of one training: errors at every budget, timing, history."""

    arch: Architecture
    look_back: int
    seed: int
    settings: TrainSettings
    budgets: list[BudgetResult]
    stopped_epoch: int | None
    seconds: float
    history: dict = field(default_factory=dict)
    model: object = field(default=None, repr=False, compare=False)
    target_form: str = "level"

    def mae(self, epochs: int, mode: str = "one-step") -> float | None:
        """Test MAE at a budget, in the given test mode."""
        for b in self.budgets:
            if b.epochs == epochs:
                return b.test_mae if mode == "one-step" else b.test_mae_recursive
        raise KeyError(epochs)

    def to_dict(self) -> dict:
        return {"arch": self.arch.to_dict(), "look_back": self.look_back, "seed": self.seed,
                "settings": self.settings.to_dict(), "budgets": [asdict(b) for b in self.budgets],
                "stopped_epoch": self.stopped_epoch, "seconds": self.seconds, "target_form": self.target_form}


# -- Keras pieces ----------------------------------------------------------------------
def _keras():
    """Keras for training, imported quietly: TensorFlow's native start-up lines (oneDNN, absl) go to
    /dev/null while it loads, and its Python loggers keep to errors (no retracing chatter)."""
    import sys

    from ..model.keras_interop import _keras as keras_import

    if "keras" in sys.modules:
        return keras_import()
    import os

    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    saved = None
    try:
        sys.stderr.flush()
        saved = os.dup(2)
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 2)
        os.close(devnull)
    except OSError:  # no file descriptor 2 (an embedded interpreter): import as it is
        saved = None
    try:
        keras = keras_import()
    finally:
        if saved is not None:
            os.dup2(saved, 2)
            os.close(saved)
    import logging

    for name in ("tensorflow", "absl", "keras"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return keras


def build_model(arch: Architecture, *, look_back: int, n_in: int, n_out: int, settings: TrainSettings | None = None,
                seed: int = 0, jit_compile: bool = True, steps_per_execution: int = 1, target_form: str = "level",
                last_from=None):
    """The compiled Keras model that training uses.

    The layers of :func:`mae_ort.model.keras_interop.to_keras` (the sampler's model), with a
    ``Dropout(settings.dropout)`` after each recurrent layer when the rate is
    positive; initial weights from Keras or from ``settings.init``.  Sets the
    global Keras seed to ``seed`` first.

    ``jit_compile`` (XLA) and ``steps_per_execution`` change how fast Keras runs the
    steps, not which steps it runs: at small batches Keras' per-step overhead
    dominates, and both cut it (measured in docs/REPRODUCING.md).

    With ``target_form="delta"`` the network is wrapped by
    :func:`~mae_ort.model.keras_interop.add_last_value` (``last_from``: the input column of each
    target, or None for an extra ``last`` input): the model forecasts the level.
    """
    from ..model.keras_interop import to_keras

    settings = settings or TrainSettings()
    keras = _keras()
    keras.backend.clear_session()  # drop the graphs of earlier models (long validations in one process)
    keras.utils.set_random_seed(int(seed) % (2**32))
    weights = None
    if settings.init != "keras":
        from ..sampling.sampler import Init, Sampler

        weights = Sampler().weights(arch, n_in=n_in, n_out=n_out, samples=1, seed=int(seed),
                                    init=Init.parse(settings.init))
    base = to_keras(arch, look_back=look_back, n_in=n_in, n_out=n_out, weights=weights)
    if settings.dropout > 0:
        layers = [keras.Input((look_back, n_in))]
        for layer in base.layers:
            layers.append(layer)
            if type(layer).__name__ in ("LSTM", "GRU", "SimpleRNN"):
                layers.append(keras.layers.Dropout(settings.dropout, seed=int(seed) % (2**31),
                                                   name=f"{layer.name}_dropout"))
        model = keras.Sequential(layers, name=base.name + "_train")
    else:
        model = base
    if target_form == "delta":
        from ..model.keras_interop import add_last_value

        model = add_last_value(model, look_back=look_back, n_in=n_in, n_out=n_out, target_inputs=last_from)
    optimizer = keras.optimizers.get({"class_name": settings.optimizer,
                                      "config": {"learning_rate": settings.learning_rate}})
    model.compile(optimizer=optimizer, loss=settings.loss, jit_compile=bool(jit_compile),
                  steps_per_execution=int(steps_per_execution))
    return model


def model_inputs(model, win: Windows):
    """What ``model`` takes for ``win``: ``X``, or ``[X, last]`` for a ``delta`` model with a ``last`` input."""
    return [win.X, win.last] if len(getattr(model, "inputs", None) or ()) == 2 else win.X


def one_step_mae(model, win: Windows) -> float:
    """MAE of one-step predictions on windows (mean over windows and target columns)."""
    pred = np.asarray(model.predict_on_batch(model_inputs(model, win)), dtype=np.float64).reshape(win.y.shape)
    return float(np.mean(np.abs(pred - win.y.astype(np.float64))))


def recursive_mae(model, history: np.ndarray, future: np.ndarray) -> float:
    """MAE of blind multi-step prediction.

    Parameters
    ----------
    history : array of shape (LB, n)
        The last ``LB`` known points (inputs = targets).
    future : array of shape (H, n)
        The next ``H`` true points.  Each prediction is appended to the window
        (the oldest point dropped) and the next one is predicted from it.
    """
    x = np.array(history, dtype=np.float32)[None]  # (1, LB, n)
    future = np.asarray(future, dtype=np.float64)
    preds = np.empty_like(future)
    for t in range(future.shape[0]):
        y = np.asarray(model.predict_on_batch(x), dtype=np.float32).reshape(1, 1, -1)
        preds[t] = y[0, 0]
        x = np.concatenate([x[:, 1:], y], axis=1)
    return float(np.mean(np.abs(preds - future)))


def _make_recorder(keras, *, budgets, evaluate, early_stopping):
    class BudgetRecorder(keras.callbacks.Callback):
        """Evaluates the network at each epoch budget, as ``fit(epochs=budget)`` would have returned it."""

        def __init__(self):
            super().__init__()
            self.budgets = list(budgets)
            self.records: dict[int, BudgetResult] = {}
            self.t0 = time.perf_counter()
            self.eval_seconds = 0.0

        def on_train_begin(self, logs=None):
            self.t0 = time.perf_counter()
            self.eval_seconds = 0.0

        @property
        def train_seconds(self) -> float:
            return time.perf_counter() - self.t0 - self.eval_seconds

        def on_epoch_end(self, epoch, logs=None):
            done = epoch + 1
            if done not in self.budgets:
                return
            seconds = self.train_seconds
            t_eval = time.perf_counter()
            es = early_stopping
            best = getattr(es, "best_weights", None) if es is not None else None
            if best is not None:
                current = self.model.get_weights()
                self.model.set_weights(best)
                try:
                    rec = evaluate(done, done, es.best_epoch + 1, es.best, seconds)
                finally:
                    self.model.set_weights(current)
            else:
                monitor = None if logs is None else logs.get("val_loss", logs.get("loss"))
                rec = evaluate(done, done, done, monitor, seconds)
            self.records[done] = rec
            self.eval_seconds += time.perf_counter() - t_eval  # evaluation time is not training time

    return BudgetRecorder()


def _signal_check(keras):
    """A callback that raises a SIGTERM which Python dropped (one that arrived inside a finalizer or a weakref
    callback prints "Exception ignored" and is lost; :class:`mae_ort._workers.sigterm_raises` remembers it),
    at the next batch, so that a stopped training stops."""
    from .._workers import sigterm_raises

    class SignalCheck(keras.callbacks.Callback):
        def on_train_batch_end(self, batch, logs=None):
            sigterm_raises.check_active()

        def on_epoch_end(self, epoch, logs=None):
            sigterm_raises.check_active()

    return SignalCheck()


def train(split: TrainTestSplit, arch: Architecture, *, look_back: int, epochs="1,10,100", seed: int = 0,
          settings: TrainSettings | None = None, recursive: bool | None = None, threads: int | None = None,
          keep_model: bool = False, verbose: int = 0, jit_compile: bool = True,
          steps_per_execution: int | str = "auto", target_form: str = "level") -> TrainResult:
    """Train ``arch`` once for the largest budget; record the test MAE at every budget.

    Parameters
    ----------
    split : TrainTestSplit
        Training and test parts (:func:`sine_split`, :func:`csv_split`).
    arch : Architecture
    look_back : int
    epochs : str or sequence of int
        Epoch budgets (``"1,10,100"``); training runs for the largest.
    seed : int
        Seeds Keras (``keras.utils.set_random_seed``): initial weights, dropout.
    settings : TrainSettings, optional
        Optimizer and training settings (default: the ``paper`` trainer).
    recursive : bool, optional
        Also measure the recursive (blind multi-step) test MAE.  Default: when
        possible (the inputs are the targets).
    threads : int, optional
        Limit TensorFlow's threads (effective before TensorFlow starts).
    keep_model : bool
        Keep the trained Keras model in ``TrainResult.model`` (the network of the
        largest budget).
    jit_compile : bool
        Compile the training step with XLA (Keras ``jit_compile``).
    steps_per_execution : int or 'auto'
        Batches per compiled call (Keras ``steps_per_execution``); ``auto``: one epoch's
        batches, at most 64.  Neither option changes the batches or their order.
    target_form : {'level', 'delta'}
        ``delta``: the network forecasts the change and the model adds the target's last value back
        (a residual connection to persistence; :func:`build_model`).  The model forecasts the level
        either way, so its MAEs, and the recursive mode, are those of the level.  A head that cannot
        go below zero is refused.

    Returns
    -------
    TrainResult
    """
    caller = "train"
    if not isinstance(split, TrainTestSplit):
        raise InvalidParameterError(
            f"The 'split' parameter of {caller} must be a TrainTestSplit. Got {type(split).__name__} instead."
        )
    if not isinstance(arch, Architecture):
        from ..model.architecture import resolve

        arch = resolve(arch, caller=caller)
    look_back = check_int(look_back, "look_back", caller, low=1)
    budgets = parse_epochs(epochs, caller)
    seed = check_seed(seed, "seed", caller)
    settings = settings or TrainSettings()
    target_form = check_target_form(target_form, caller)
    check_head(arch.head_activation, target_form, caller)
    if recursive is None:
        recursive = split.recursive_ok
    elif recursive and not split.recursive_ok:
        raise InvalidParameterError(
            "recursive test prediction feeds predictions back as inputs, so the inputs must be the targets; "
            f"this series has inputs {', '.join(split.train.input_names)} and targets "
            f"{', '.join(split.train.target_names)}"
        )
    limit_threads(threads)
    tr = split.train_windows(look_back)
    te = split.test_windows(look_back)
    n_val = int(tr.n * settings.validation_split)
    if settings.validation_split > 0 and (n_val < 1 or tr.n - n_val < 1):
        raise DataError(
            f"validation_split={settings.validation_split} of {tr.n} training windows leaves an empty "
            "training or validation set; use more data or validation_split=0"
        )
    history = split.train.inputs[-look_back:]
    t_start = time.perf_counter()
    keras = _keras()
    fit_windows = tr.n - n_val if settings.validation_split > 0 else tr.n
    if steps_per_execution == "auto":
        steps_per_execution = max(1, min(64, -(-fit_windows // settings.batch_size)))
    steps_per_execution = check_int(steps_per_execution, "steps_per_execution", caller, low=1)
    model = build_model(arch, look_back=look_back, n_in=tr.n_in, n_out=tr.n_out, settings=settings, seed=seed,
                        jit_compile=jit_compile, steps_per_execution=steps_per_execution, target_form=target_form,
                        last_from=target_inputs(split.train))

    def evaluate(budget, epochs_run, best_epoch, monitor, seconds) -> BudgetResult:
        return BudgetResult(
            epochs=budget,
            test_mae=one_step_mae(model, te),
            test_mae_recursive=recursive_mae(model, history, split.test.targets) if recursive else None,
            train_mae=one_step_mae(model, tr),
            monitor_loss=None if monitor is None else float(monitor),
            epochs_run=int(epochs_run), best_epoch=int(best_epoch), seconds=float(seconds),
        )

    callbacks = []
    es = None
    if settings.patience is not None:
        es = keras.callbacks.EarlyStopping(
            monitor="val_loss" if settings.validation_split > 0 else "loss", patience=settings.patience,
            min_delta=settings.min_delta, restore_best_weights=settings.restore_best, mode="min",
        )
        callbacks.append(es)
    recorder = _make_recorder(keras, budgets=budgets, evaluate=evaluate,
                              early_stopping=es if settings.restore_best else None)
    callbacks.append(recorder)
    callbacks.append(_signal_check(keras))
    hist = model.fit(
        model_inputs(model, tr), tr.y, epochs=budgets[-1], batch_size=settings.batch_size,
        validation_split=settings.validation_split, shuffle=settings.shuffle,
        callbacks=callbacks, verbose=verbose,
    )
    ran = len(hist.history.get("loss", []))
    stopped = ran if ran < budgets[-1] else None
    train_seconds = recorder.train_seconds
    out = []
    final = None
    for b in budgets:
        rec = recorder.records.get(b)
        if rec is None:  # early stopping ended the run before this budget: fit(epochs=b) gives the final model
            if final is None:
                restored = es is not None and settings.restore_best and es.best_weights is not None
                best_epoch = es.best_epoch + 1 if restored else ran
                monitor = es.best if es is not None else None
                final = evaluate(b, ran, best_epoch, monitor, train_seconds)
            rec = BudgetResult(**{**asdict(final), "epochs": b})
        out.append(rec)
    return TrainResult(arch=arch, look_back=look_back, seed=seed, settings=settings, budgets=out,
                       stopped_epoch=stopped, seconds=time.perf_counter() - t_start,
                       history={k: [float(v) for v in vals] for k, vals in hist.history.items()},
                       model=model if keep_model else None, target_form=target_form)
