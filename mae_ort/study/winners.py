"""From a ranking to a trained network: train the k best screened rows by a score and keep the best.

:func:`train_top` takes the ``k`` rows of a database that a training-free score ranks first,
trains them with a named trainer (in parallel jobs, resumable: trained rows are stored
beside the sampling rows as :func:`mae_ort.study.validation.validate` stores them), and,
with ``out``, saves every trained Keras model and the best one both as ``best.keras`` and
as a plain ONNX inference graph ``best.onnx`` (its trained weights as initializers; it runs
on onnxruntime alone and is checked against Keras' ``predict`` when written).
"""

from __future__ import annotations

import json
import math
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._checks import check_int, check_option, check_seed
from .._files import atomic_path, write_atomic
from .._system import default_threads
from ..data import TrainTestSplit, sine_split, target_inputs
from ..errors import DataError, InvalidParameterError, MaeOrtError
from ..model.architecture import Architecture
from ..results.store import open_store
from ..sampling.scores import RANKABLE, TAIL_SCORES, ranking
from .train import TrainSettings, parse_epochs
from .validation import candidates, joined, split_key, train_rows

__all__ = ["RANK_BY", "TopResult", "train_top"]

#: The scores a ranking may use (ordered as :data:`mae_ort.sampling.scores.RANK_ASCENDING` says).
RANK_BY = RANKABLE


@dataclass
class TopResult:
    """The outcome of :func:`train_top`.

    Attributes
    ----------
    table : pandas.DataFrame
        The k rows, best score first: architecture (``model`` as one readable column),
        look-back, the score, ``sampling_id`` and, at the largest budget, the trained
        ``test_mae``, ``val_loss`` (the best loss on the trainer's early-stopping split,
        the monitored loss; ``nan`` without one), ``epochs_run`` and ``train_seconds``.
        ``chosen_by`` names what chose :attr:`best`.
    best : dict
        The chosen network's row: the lowest ``val_loss`` (the test set never chooses: its MAE
        is reported, not optimised); without an early-stopping split (``validation_split=0``),
        the lowest training MAE (``train_mae``).
    paths : dict
        ``{"keras": Path, "onnx": Path, "models": Path}`` when ``out`` was given.
    seconds : float
    baselines : list of Baseline
        The forecasting baselines on the same test points (:func:`mae_ort.study.baselines.evaluate`),
        the linear autoregression at the best network's look-back.
    """

    table: object
    best: dict
    paths: dict = field(default_factory=dict)
    seconds: float = 0.0
    baselines: list = field(default_factory=list)

    def beaten_by(self):
        """The best baseline when it beats the chosen network's test MAE, else None."""
        from .baselines import best_baseline

        b = best_baseline(self.baselines, look_back=int(self.best["look_back"]))
        mae = self.best.get("test_mae")
        return b if b is not None and mae is not None and math.isfinite(mae) and b.test_mae < mae else None


def train_top(db, split: TrainTestSplit | None = None, *, k: int = 5, by: str = "log_p", trainer: str = "paper",
              settings: TrainSettings | None = None, epochs="100", seed: int = 0, out=None, jobs: int = 1,
              threads: int | None = None, settings_id: str | None = None, depth=None, look_back=None,
              model: dict | None = None, progress=None, target_form: str | None = None,
              season: int | None = None) -> TopResult:
    """Train the ``k`` best screened rows of ``db`` by a score; keep the best trained network.

    Parameters
    ----------
    db : str or Path
        A results database with screened rows.
    split : TrainTestSplit, optional
        Training and test data (default: the paper's sine); the rows ranked are those
        screened on its training part.
    k : int
        How many rows to train.
    by : str, optional
        The ranking score, one of :data:`RANK_BY`, best first as ``mae-ort rank --by`` orders it; ``None``:
        the default ranking where the rows have it (:func:`mae_ort.sampling.scores.ranking`).
    trainer, settings
        The named trainer (:data:`mae_ort.study.train.TRAINERS`) or explicit settings.
    epochs : str or sequence of int
        Epoch budgets; the best is judged at the largest.
    seed : int
        Keras seed of every training.
    out : str or Path, optional
        A folder: ``models/`` (every trained model), ``best.keras`` and ``best.onnx``.
    jobs, threads
        Training processes and threads each.
    settings_id, depth, look_back, model
        Which screened rows compete (see :func:`mae_ort.study.validation.candidates`).
    target_form : {'level', 'delta'}, optional
        Only rows screened with this target form (default: the screened rows' own).  Every network
        is trained in its rows' form; ``best.keras`` and ``best.onnx`` forecast the level either way
        (with ``delta`` both add the target's last value back: read from the window when the target
        is an input, else from a second input ``last`` of shape (N, n_out)).
    progress : callable, optional
        ``progress(done, total, message)`` after each training.
    season : int, optional
        The season of the forecasting baselines (seasonal naive, ETS, ARIMA).

    Returns
    -------
    TopResult

    Raises
    ------
    MaeOrtError
        Bad parameters, no screened rows, ``k`` larger than the stored rows, an ``out``
        folder that cannot be written (checked before training).
    """
    from .baselines import check_season, evaluate

    caller = "train_top"
    t0 = time.perf_counter()
    split = split or sine_split()
    season = check_season(season, split.train.length, caller)
    k = check_int(k, "k", caller, low=1)
    by = None if by is None else check_option(by, "by", caller, RANK_BY)
    budgets = parse_epochs(epochs, caller)
    seed = check_seed(seed, "seed", caller)
    settings = settings or TrainSettings.preset(trainer)
    jobs = check_int(jobs, "jobs", caller, low=1)
    threads = max(1, default_threads() // jobs) if threads is None else check_int(threads, "threads", caller, low=1)
    out_dir = None
    if out is not None:
        out_dir = Path(out)
        try:
            (out_dir / "models").mkdir(parents=True, exist_ok=True)
            probe = out_dir / ".mae-ort-write-test"
            probe.write_text("")
            probe.unlink()
        except OSError as e:
            raise DataError(f"cannot write to the output folder {str(out_dir)!r}: {e.strerror or e}") from e
    cand = candidates(db, split, settings_id=settings_id, depth=depth, look_back=look_back, model=model,
                      maes=by in TAIL_SCORES, target_form=target_form)
    if k > len(cand):
        raise InvalidParameterError(f"The 'k' parameter of {caller} (--top) asks for {k} rows; the database holds "
                                    f"{len(cand)} matching screened row(s)")
    # None: the evidence-chosen default where the rows have it (mae_ort.sampling.scores.ranking)
    by, col, ascending, _ = ranking(cand, by, where=repr(str(db)))
    order = cand.sort_values(col, ascending=ascending, na_position="last", kind="stable")
    top = order.head(k).reset_index(drop=True)
    with open_store(str(db), create=False) as store:
        train_rows(store, split, top, budgets=budgets, settings=settings, seeds=(seed,), jobs=jobs, threads=threads,
                   save_dir=None if out_dir is None else out_dir / "models", progress=progress,
                   save_tag=_model_tag(split, settings), season=season)
    trained = joined(db, sampling_ids=[int(i) for i in top.id], split_key=split_key(split),
                     train_key=settings.key(), seed=seed)
    last = trained[trained.epochs == max(budgets)].set_index("sampling_id")
    table = top[["id", "units", "look_back", col]].rename(columns={"id": "sampling_id", col: by})
    table.insert(0, "rank", range(1, len(table) + 1))
    table.insert(1, "model", [Architecture.from_row(r).describe() for r in top.itertuples()])
    m = last.reindex(table.sampling_id.astype(int).to_numpy())  # the largest budget's row of each (NaN: none)
    table["test_mae"] = m.test_mae.astype(float).to_numpy()
    if "test_mae_recursive" in last:
        table["test_mae_recursive"] = m.test_mae_recursive.astype(float).to_numpy()
    # the monitored loss is the validation loss only with an early-stopping split (else the training loss)
    table["val_loss"] = m.monitor_loss.astype(float).to_numpy() if settings.validation_split > 0 else math.nan
    table["epochs_run"] = m.epochs_run.fillna(0).astype(int).to_numpy()
    table["train_seconds"] = m.train_seconds.astype(float).to_numpy()
    table["train_mae"] = m.train_mae.astype(float).to_numpy()
    chosen_by = "val_loss" if np.isfinite(table.val_loss.to_numpy(float)).any() else "train_mae"
    table["chosen_by"] = chosen_by
    best = table.sort_values(chosen_by, kind="stable", na_position="last").iloc[0].to_dict()
    base = evaluate(split, look_backs=(int(best["look_back"]),), season=season, caller=caller)
    paths = {}
    if out_dir is not None:
        paths = _save_best(out_dir, best, top, split, settings, budgets, seed, threads, base)
    return TopResult(table=table, best=best, paths=paths, seconds=time.perf_counter() - t0, baselines=base)


def _model_tag(split, settings) -> str:
    """What a saved model depends on besides its row and seed: the data and the training settings."""
    return f"{split_key(split)[:8]}-{settings.key()[:8]}"


def _save_best(out_dir: Path, best: dict, top, split, settings, budgets, seed: int, threads: int,
               baselines=()) -> dict:
    """``best.keras`` (copied from ``models/``, or trained again in this process when a resumed run lacks
    it) and ``best.onnx``, checked against Keras' ``predict`` on the test windows."""
    from ..model.keras_interop import NETWORK_NAME, custom_objects, from_keras
    from ..runtimes.inference import save_inference_model
    from .baselines import as_records, best_baseline
    from .train import _keras, model_inputs, train

    sid = int(best["sampling_id"])
    row = top[top.id == sid].iloc[0]
    arch = Architecture.from_row(row)
    look_back = int(row.look_back)
    target_form = str(getattr(row, "target_form", "level"))
    last_from = target_inputs(split.train) if target_form == "delta" else None
    saved = out_dir / "models" / f"{sid}-{_model_tag(split, settings)}-seed{seed}.keras"
    keras = _keras()
    retrained = not saved.exists()
    if retrained:  # a resumed run whose trainings were stored without their models: train the best again
        model = train(split, arch, look_back=look_back, epochs=budgets, seed=seed, settings=settings,
                      threads=threads, keep_model=True, target_form=target_form).model
        with atomic_path(saved) as tmp:
            model.save(tmp)
    else:
        model = keras.models.load_model(saved, compile=False, custom_objects=custom_objects())
    with atomic_path(out_dir / "best.keras") as tmp:
        shutil.copyfile(saved, tmp)
    km = from_keras(model.get_layer(NETWORK_NAME) if target_form == "delta" else model)
    te = split.test_windows(look_back)
    onnx_path = save_inference_model(km.arch, look_back, [w[0] for w in km.weights], out_dir / "best.onnx",
                                     n_in=te.n_in, n_out=te.n_out, target_form=target_form, target_inputs=last_from)
    import onnxruntime as ort

    feeds = {"X": te.X} if target_form == "level" or last_from is not None else {"X": te.X, "last": te.last}
    got = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"]).run(["y_pred"], feeds)[0]
    want = np.asarray(model.predict_on_batch(model_inputs(model, te)), dtype=np.float32).reshape(got.shape)
    err = float(np.max(np.abs(got - want)))
    if not err <= 1e-4 * max(1.0, float(np.max(np.abs(want)))):
        raise MaeOrtError(f"the ONNX graph of the best network differs from Keras' predict by {err:g}; "
                          "please report this")
    saved_mae = float(np.mean(np.abs(got.astype(np.float64) - te.y.astype(np.float64))))
    top_base = best_baseline(baselines, look_back=look_back)
    write_atomic(out_dir / "best.json", json.dumps({**{k: (v if not isinstance(v, float) or np.isfinite(v) else None)
                                                        for k, v in best.items()},
                                                   "saved_model_test_mae": saved_mae, "retrained": retrained,
                                                   "look_back": look_back, "architecture": arch.to_dict(),
                                                   "target_form": target_form,
                                                   "onnx_inputs": sorted(feeds),
                                                   "trainer": settings.trainer(), "settings": settings.to_dict(),
                                                   "epochs": list(budgets), "seed": seed,
                                                   "onnx_max_abs_diff_vs_keras": err,
                                                   "baselines": as_records(baselines),
                                                   "best_baseline": as_records([top_base])[0] if top_base else None},
                                                  indent=2, default=str))
    return {"keras": out_dir / "best.keras", "onnx": onnx_path, "models": out_dir / "models",
            "json": out_dir / "best.json"}
