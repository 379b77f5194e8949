"""Training path: train an architecture with Keras and record its test MAE at several epoch budgets.

The model is the one the sampler scores (:func:`mae_ort.keras_io.to_keras`: the
same cell, activations, look-back and Dense head), with optional ``Dropout``
layers after each recurrent layer for training (inactive at inference, so the
trained network computes exactly the sampler's function).

Each architecture is trained **once**, for the largest epoch budget; a Keras
callback evaluates the test MAE whenever an epoch budget is reached
(:class:`BudgetRecorder`).  The network recorded at budget ``b`` is the network
``model.fit(epochs=b)`` would have returned: with early stopping and
``restore_best=True`` (Keras restores the best weights at the end of every
``fit``), that is the best-validation-loss weights among epochs ``1..b``.

Defaults are the reference implementation's trainer (FACTS.md): Adam with
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

Keras and TensorFlow are imported inside the functions only.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from dataclasses import asdict, dataclass, field
import numpy as np

from ._validation import check_int, check_option, check_real, check_seed
from .data import Series, Windows, prepare, sine, windows
from .errors import DataError, InvalidParameterError
from .spec import Architecture

__all__ = [
    "TEST_MODES",
    "TrainSettings",
    "TrainTestSplit",
    "BudgetResult",
    "TrainResult",
    "sine_split",
    "csv_split",
    "split_from_spec",
    "parse_epochs",
    "limit_threads",
    "build_model",
    "one_step_mae",
    "recursive_mae",
    "train",
]

#: How the test MAE is measured.
TEST_MODES = ("one-step", "recursive")

_OPTIMIZERS = ("adam", "rmsprop", "sgd", "adamw", "nadam", "adagrad")
_LOSSES = ("mse", "mae", "huber")


# -- settings -------------------------------------------------------------------------
@dataclass(frozen=True)
class TrainSettings:
    """How a network is trained (defaults: the reference implementation's trainer).

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
        trainer) or a :class:`mae_ort.sampler.Init` text such as
        ``uniform:-0.5,0.5`` (the later library's final training).
    """

    optimizer: str = "adam"
    learning_rate: float = 5e-5
    loss: str = "mse"
    dropout: float = 0.3
    batch_size: int = 512
    validation_split: float = 0.3
    shuffle: bool = False
    patience: int | None = 50
    min_delta: float = 1e-4
    restore_best: bool = True
    init: str = "keras"

    def __post_init__(self) -> None:
        caller = "TrainSettings"
        object.__setattr__(self, "optimizer", check_option(self.optimizer, "optimizer", caller, _OPTIMIZERS))
        object.__setattr__(self, "learning_rate",
                           check_real(self.learning_rate, "learning_rate", caller, low=0.0, low_open=True))
        object.__setattr__(self, "loss", check_option(self.loss, "loss", caller, _LOSSES))
        dropout = check_real(self.dropout, "dropout", caller, low=0.0)
        if dropout >= 1.0:
            raise InvalidParameterError(
                f"The 'dropout' parameter of {caller} must be a real number in the range [0.0, 1.0). "
                f"Got {dropout!r} instead."
            )
        object.__setattr__(self, "dropout", dropout)
        object.__setattr__(self, "batch_size", check_int(self.batch_size, "batch_size", caller, low=1))
        vs = check_real(self.validation_split, "validation_split", caller, low=0.0)
        if vs >= 1.0:
            raise InvalidParameterError(
                f"The 'validation_split' parameter of {caller} must be a real number in the range [0.0, 1.0). "
                f"Got {vs!r} instead."
            )
        object.__setattr__(self, "validation_split", vs)
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
            from .sampler import Init

            init = str(Init.parse(init))
        else:
            init = "keras"
        object.__setattr__(self, "init", init)

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
        parts = [p.strip() for p in value.split(",") if p.strip()]
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


# -- the split -------------------------------------------------------------------------
def _apply_scale(a: np.ndarray, scale: str, params: dict) -> np.ndarray:
    if scale == "none" or not params:
        return a
    if scale == "standard":
        return (a - np.asarray(params["mean"])) / np.asarray(params["sd"])
    lo, hi = np.asarray(params["min"]), np.asarray(params["max"])
    unit = (a - lo) / (hi - lo)
    return unit if scale == "minmax" else 2.0 * unit - 1.0


@dataclass(frozen=True)
class TrainTestSplit:
    """A training part and the test part that follows it, scaled alike.

    Attributes
    ----------
    train : Series
        What the network is fitted on (and, by default, what the sampler scores).
    test : Series
        The points right after ``train`` (same columns, scaled with the training
        part's parameters).
    spec : dict
        How to rebuild the split (:func:`split_from_spec`), JSON-ready; empty for
        a split built by hand.
    """

    train: Series
    test: Series
    spec: dict = field(default_factory=dict, compare=False)

    def __post_init__(self) -> None:
        if self.train.inputs.shape[1] != self.test.inputs.shape[1] or \
                self.train.targets.shape[1] != self.test.targets.shape[1]:
            raise DataError(
                f"the test part has {self.test.inputs.shape[1]} input and {self.test.targets.shape[1]} "
                "target column(s); "
                f"the training part has {self.train.inputs.shape[1]} and {self.train.targets.shape[1]}"
            )
        if self.test.length < 1:
            raise DataError("the test part is empty")

    @property
    def name(self) -> str:
        return self.train.name

    @property
    def recursive_ok(self) -> bool:
        """Whether recursive prediction is possible: the inputs are the targets."""
        return self.train.input_names == self.train.target_names and \
            np.array_equal(self.train.inputs, self.train.targets)

    def train_windows(self, look_back: int) -> Windows:
        """One-step windows of the training part, shape (T_train - LB, LB, n_in)."""
        return windows(self.train, look_back, caller="train")

    def test_windows(self, look_back: int) -> Windows:
        """One window per test point; the first ones take their history from the training part."""
        look_back = check_int(look_back, "look_back", "train", low=1)
        if self.train.length < look_back:
            raise DataError(f"the training part has {self.train.length} points; look_back={look_back} "
                            f"needs at least {look_back}")
        joined = Series(
            np.concatenate([self.train.inputs[-look_back:], self.test.inputs]),
            np.concatenate([self.train.targets[-look_back:], self.test.targets]),
            self.train.input_names, self.train.target_names, "test", self.train.scale,
        )
        return windows(joined, look_back, caller="train")

    def to_dict(self) -> dict:
        return {"train": self.train.name, "train_points": self.train.length, "test": self.test.name,
                "test_points": self.test.length, "train_fingerprint": self.train.fingerprint(),
                "test_fingerprint": self.test.fingerprint()}


def sine_split(train_points: int = 1000, test_points: int = 200, *, scale: str = "none") -> TrainTestSplit:
    """The paper's sine: train on ``t`` in ``[0, 100)`` (1000 points), test on the next 200 (``[100, 120)``).

    The training part equals ``prepare(sine(train_points), scale=scale, name="sine")``,
    the series that ``mae-ort sample``/``screen`` score by default; the test part is
    scaled with the training part's parameters.
    """
    train_points = check_int(train_points, "train_points", "sine_split", low=2)
    test_points = check_int(test_points, "test_points", "sine_split", low=1)
    full = sine(train_points + test_points)
    train = prepare(full[:train_points], scale=scale, name="sine")
    raw = prepare(full[train_points:], name=f"sine[{train_points}:{train_points + test_points}]")
    params = train.params or {}
    test = Series(_apply_scale(raw.inputs, train.scale, params.get("inputs", {})),
                  _apply_scale(raw.targets, train.scale, params.get("targets", {})),
                  raw.input_names, raw.target_names, raw.name, train.scale, params)
    return TrainTestSplit(train, test, {"kind": "sine", "train_points": train_points, "test_points": test_points,
                                        "scale": train.scale})


def csv_split(train_csv, test_csv=None, *, input=None, target=None, scale: str = "none",
              test_points: int | None = None) -> TrainTestSplit:
    """A split of CSV data: a training file and a test file, or the last ``test_points`` rows of one file.

    The training part is ``prepare(train_csv, input=, target=, scale=)`` when a
    test file is given, so it equals what ``mae-ort sample --csv`` scores; the test
    part is scaled with the training part's parameters (no look at the test data).
    """
    if (test_csv is None) == (test_points is None):
        raise InvalidParameterError("give exactly one of test_csv (a test file) or test_points (split the file)")
    if test_csv is not None:
        train = prepare(train_csv, input=input, target=target, scale=scale)
        raw = prepare(test_csv, input=input, target=target, scale="none")
        params = train.params or {}
        test = Series(
            _apply_scale(raw.inputs, train.scale, params.get("inputs", {})),
            _apply_scale(raw.targets, train.scale, params.get("targets", {})),
            raw.input_names, raw.target_names, raw.name, train.scale, params,
        )
        return TrainTestSplit(train, test, _csv_spec(train_csv, test_csv, input, target, train.scale, None))
    test_points = check_int(test_points, "test_points", "csv_split", low=1)
    raw = prepare(train_csv, input=input, target=target, scale="none")
    if raw.length <= test_points + 1:
        raise DataError(f"the series has {raw.length} points; test_points={test_points} leaves too few to train on")
    n = raw.length - test_points
    head = raw.split(0, n)
    # scale with the training part only
    train = prepare(np.column_stack([head.inputs, head.targets]), input=list(range(head.inputs.shape[1])),
                    target=list(range(head.inputs.shape[1], head.inputs.shape[1] + head.targets.shape[1])),
                    scale=scale, name=f"{raw.name}[0:{n}]")
    train = Series(train.inputs, train.targets, raw.input_names, raw.target_names, train.name, train.scale,
                   train.params)
    params = train.params or {}
    tail = raw.split(n)
    test = Series(_apply_scale(tail.inputs, train.scale, params.get("inputs", {})),
                  _apply_scale(tail.targets, train.scale, params.get("targets", {})),
                  raw.input_names, raw.target_names, f"{raw.name}[{n}:]", train.scale, params)
    return TrainTestSplit(train, test, _csv_spec(train_csv, None, input, target, train.scale, test_points))


def _csv_spec(train_csv, test_csv, input, target, scale, test_points) -> dict:
    from pathlib import Path

    as_list = (lambda v: None if v is None else ([v] if isinstance(v, (str, int)) else list(v)))  # noqa: E731
    return {"kind": "csv", "train_csv": str(Path(train_csv).resolve()),
            "test_csv": None if test_csv is None else str(Path(test_csv).resolve()),
            "input": as_list(input), "target": as_list(target), "scale": scale, "test_points": test_points}


def split_from_spec(spec: dict) -> TrainTestSplit:
    """Rebuild a split from its :attr:`TrainTestSplit.spec` (e.g. in a worker process)."""
    if not isinstance(spec, dict) or spec.get("kind") not in ("sine", "csv"):
        raise InvalidParameterError(
            f"The 'spec' parameter of split_from_spec must be a split's spec dict. Got {spec!r} instead."
        )
    if spec["kind"] == "sine":
        return sine_split(spec["train_points"], spec["test_points"], scale=spec.get("scale", "none"))
    return csv_split(spec["train_csv"], spec.get("test_csv"), input=spec.get("input"), target=spec.get("target"),
                     scale=spec.get("scale", "none"), test_points=spec.get("test_points"))


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

    def mae(self, epochs: int, mode: str = "one-step") -> float | None:
        """Test MAE at a budget, in the given test mode."""
        for b in self.budgets:
            if b.epochs == epochs:
                return b.test_mae if mode == "one-step" else b.test_mae_recursive
        raise KeyError(epochs)

    def to_dict(self) -> dict:
        return {"arch": self.arch.to_dict(), "look_back": self.look_back, "seed": self.seed,
                "settings": self.settings.to_dict(), "budgets": [asdict(b) for b in self.budgets],
                "stopped_epoch": self.stopped_epoch, "seconds": self.seconds}


# -- Keras pieces ----------------------------------------------------------------------
def limit_threads(threads: int | None) -> None:
    """Limit TensorFlow (and OpenMP/BLAS) to ``threads`` cores.

    Effective when called before TensorFlow is imported (a worker process); once
    TensorFlow has started its thread pools, a later call changes nothing.
    """
    if threads is None:
        return
    threads = check_int(threads, "threads", "limit_threads", low=1)
    for var in ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                "NUMBA_NUM_THREADS"):
        os.environ[var] = str(threads)
    os.environ["TF_NUM_INTEROP_THREADS"] = "1" if threads <= 2 else "2"
    import sys

    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(int(os.environ["TF_NUM_INTEROP_THREADS"]))
        except (RuntimeError, AttributeError):  # already initialised: keep the running pools
            pass


def _keras():
    from .keras_io import _keras as keras_import

    return keras_import()


def build_model(arch: Architecture, *, look_back: int, n_in: int, n_out: int, settings: TrainSettings | None = None,
                seed: int = 0):
    """The compiled Keras model that training uses.

    The layers of :func:`mae_ort.keras_io.to_keras` (the sampler's model), with a
    ``Dropout(settings.dropout)`` after each recurrent layer when the rate is
    positive; initial weights from Keras or from ``settings.init``.  Sets the
    global Keras seed to ``seed`` first.
    """
    from .keras_io import to_keras

    settings = settings or TrainSettings()
    keras = _keras()
    keras.backend.clear_session()  # drop the graphs of earlier models (long validations in one process)
    keras.utils.set_random_seed(int(seed) % (2**32))
    weights = None
    if settings.init != "keras":
        from .sampler import Init, Sampler

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
    optimizer = keras.optimizers.get({"class_name": settings.optimizer,
                                      "config": {"learning_rate": settings.learning_rate}})
    model.compile(optimizer=optimizer, loss=settings.loss)
    return model


def one_step_mae(model, win: Windows) -> float:
    """MAE of one-step predictions on windows (mean over windows and target columns)."""
    pred = np.asarray(model.predict_on_batch(win.X), dtype=np.float64).reshape(win.y.shape)
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


def train(split: TrainTestSplit, arch: Architecture, *, look_back: int, epochs="1,10,100", seed: int = 0,
          settings: TrainSettings | None = None, recursive: bool | None = None, threads: int | None = None,
          keep_model: bool = False, verbose: int = 0) -> TrainResult:
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
        Optimizer and training settings (default: the reference's).
    recursive : bool, optional
        Also measure the recursive (blind multi-step) test MAE.  Default: when
        possible (the inputs are the targets).
    threads : int, optional
        Limit TensorFlow's threads (effective before TensorFlow starts).
    keep_model : bool
        Keep the trained Keras model in ``TrainResult.model`` (the network of the
        largest budget).

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
        from .sampler import as_architecture

        arch = as_architecture(arch, caller=caller)
    look_back = check_int(look_back, "look_back", caller, low=1)
    budgets = parse_epochs(epochs, caller)
    seed = check_seed(seed, "seed", caller)
    settings = settings or TrainSettings()
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
    model = build_model(arch, look_back=look_back, n_in=tr.n_in, n_out=tr.n_out, settings=settings, seed=seed)

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
    hist = model.fit(
        tr.X, tr.y, epochs=budgets[-1], batch_size=settings.batch_size,
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
                       model=model if keep_model else None)
