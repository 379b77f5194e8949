"""Is the ``forecast`` trainer's budget enough?  10 small architectures on two real series, trained with its
epoch budget and early-stopping patience, then with both doubled: does the median test MAE move by under 2 %?

Usage (from the repository root, Keras installed; one core)::

    OMP_NUM_THREADS=1 python scripts/trainer_convergence.py [--budget 150] [--target-form delta] [--trace-scale 4]
        [--set batch_size=64 ...] [--series eunite] [--out docs]

``--target-form delta``: every network forecasts the change from the last value (``train(target_form=)``).

Series: the Mauna Loa weekly CO2 (``data/co2-weekly.csv``, column ``co2``) and the EUNITE daily maximum load
(``data/eunite-training.csv``, column ``MaxLoads``), each min-max scaled on its training part, the last 20 % of
the file as the test part (one-step test MAE in scaled units).  Every architecture is an LSTM with a linear head
(the CO2 test part rises above the training range), seed 0.

How both settings come from one training: with the same seed, the training with the preset's budget ``B`` and
patience ``P`` is, epoch for epoch, the training with ``2B`` and ``2P`` until the first one stops (early
stopping only reads the validation loss; Keras' ``EarlyStopping`` rule: an epoch improves when its validation
loss is below the best so far by more than ``min_delta``; training stops once ``patience`` epochs in a row have
not improved; the best epoch's weights are kept).  So each architecture is trained once with ``2B`` and ``2P``,
recording the validation loss and the test MAE after every epoch, and each setting's result is the test MAE at
the best epoch that its own stopping rule reaches on that record (:func:`replay`).  For the first architecture
of each series the preset is also trained for real with :func:`mae_ort.study.train.train`; the summary shows
the difference from the replayed value (``check_real_minus_replayed``), which is round-off when the replay is
right.

Writes ``<out>/trainer-convergence.csv`` (one row per series: the two medians, their change, how many
architectures' test MAE changed at all, and persistence's test MAE for scale),
``<out>/trainer-convergence-runs.csv`` (one row per architecture and setting) and
``<out>/trainer-convergence-traces.csv`` (validation loss and test MAE after every epoch, keyed by the
settings without the patience in ``run``, the form in ``target_form``, the length and patience it was trained
with in ``trace_epochs`` and ``trace_patience``); an architecture whose record there covers the doubled setting
is not trained again, so an interrupted run resumes and ``--trace-scale 4`` records serve budget ``2B`` too.
The summary files keep the rows of other series, forms and settings (:func:`merge_rows`).
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

#: (units per layer, look-back): one and two layers of 4-32 units, look-backs 2-16.
ARCHITECTURES = [((4,), 4), ((8,), 8), ((16,), 2), ((16,), 8), ((32,), 4),
                 ((32,), 16), ((4, 4), 8), ((8, 8), 4), ((16, 8), 16), ((16, 16), 8)]


def splits() -> dict:
    """The two real series as train/test splits (the last 20 % of each file as test)."""
    from mae_ort.data import csv_split

    out = {}
    for name, path, column, index_col in (("co2", "data/co2-weekly.csv", "co2", "date"),
                                          ("eunite", "data/eunite-training.csv", "MaxLoads", None)):
        n = len(pd.read_csv(ROOT / path))
        out[name] = csv_split(ROOT / path, input=column, index_col=index_col, test_points=n - int(0.8 * n),
                              scale="minmax")
    return out


def replay(val_loss, test_mae, *, budget: int, patience: int, min_delta: float) -> dict:
    """What a training with this budget and patience returns, read off a longer training's per-epoch record.

    Keras' ``EarlyStopping(mode="min", restore_best_weights=True)`` rule, epoch by epoch: ``wait += 1``; an
    epoch whose loss is below the best by more than ``min_delta`` becomes the best and resets ``wait``; else
    training stops when ``wait >= patience``.  Returns the test MAE of the best epoch, the epochs run and the
    best epoch (1-based).
    """
    best, best_epoch, wait, ran = None, 0, 0, 0
    for e in range(min(budget, len(val_loss))):
        ran = e + 1
        wait += 1
        if best is None or val_loss[e] + min_delta < best:
            best, best_epoch, wait = val_loss[e], e, 0
            continue
        if wait >= patience and e > 0:
            break
    return {"test_mae": float(test_mae[best_epoch]), "epochs_run": ran, "best_epoch": best_epoch + 1}


def merge_rows(path: Path, new: pd.DataFrame, keys: list[str]) -> pd.DataFrame:
    """Write ``new`` to the CSV at ``path``, replacing the rows there with the same ``keys`` and keeping the rest
    (so runs for another series, target form or setting stay side by side)."""
    if path.exists():
        old = pd.read_csv(path)
        mine = set(map(tuple, new[keys].astype(str).to_numpy()))
        kept = old[[tuple(row) not in mine for row in old[keys].astype(str).to_numpy()]]
        new = pd.concat([kept, new], ignore_index=True).sort_values(keys, kind="stable", ignore_index=True)
    new.to_csv(path, index=False)
    return new


def trace(split, units, look_back: int, *, settings, epochs: int, patience: int, seed: int = 0,
          target_form: str = "level") -> pd.DataFrame:
    """Train once (``epochs``, ``patience``), recording the validation loss and the one-step test MAE after
    every epoch; the model and its data are those of :func:`mae_ort.study.train.train`."""
    from mae_ort.data import target_inputs
    from mae_ort.model.architecture import Architecture
    from mae_ort.study.train import _keras, build_model, model_inputs, one_step_mae

    keras = _keras()
    tr, te = split.train_windows(look_back), split.test_windows(look_back)
    fit_windows = tr.n - int(tr.n * settings.validation_split)
    model = build_model(Architecture(units, head_activation="linear"), look_back=look_back, n_in=tr.n_in,
                        n_out=tr.n_out, settings=settings, seed=seed,
                        steps_per_execution=max(1, min(64, -(-fit_windows // settings.batch_size))),
                        target_form=target_form, last_from=target_inputs(split.train))
    tests: list[float] = []

    class EveryEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, epoch, logs=None):
            tests.append(one_step_mae(self.model, te))

    stop = keras.callbacks.EarlyStopping(monitor="val_loss", patience=patience, min_delta=settings.min_delta,
                                         mode="min")
    t0 = time.perf_counter()
    hist = model.fit(model_inputs(model, tr), tr.y, epochs=epochs, batch_size=settings.batch_size,
                     validation_split=settings.validation_split, shuffle=settings.shuffle,
                     callbacks=[stop, EveryEpoch()], verbose=0)
    seconds = time.perf_counter() - t0
    val = hist.history["val_loss"]
    return pd.DataFrame({"epoch": np.arange(1, len(val) + 1), "val_loss": val, "test_mae": tests,
                         "seconds": seconds})


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--budget", type=int, default=150, help="the preset's epoch budget")
    ap.add_argument("--trainer", default="forecast")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="override a training setting of the trainer, e.g. --set batch_size=16 --set patience=50")
    ap.add_argument("--target-form", choices=["level", "delta"], default="level",
                    help="level: the network forecasts the value; delta: the change from the last value [level]")
    ap.add_argument("--trace-scale", type=int, default=2,
                    help="train each architecture once with this many times the budget and patience; every "
                         "setting up to that is replayed from the record [2]")
    ap.add_argument("--series", choices=["co2", "eunite"], action="append", default=None,
                    help="only this series (repeatable) [both]")
    ap.add_argument("--out", default=str(ROOT / "docs"))
    a = ap.parse_args(argv)
    overrides = {}
    for item in a.set:
        field, _, value = item.partition("=")
        try:
            overrides[field.strip()] = int(value) if value.strip().lstrip("-").isdigit() else float(value)
        except ValueError:
            ap.error(f"--set {item!r}: give FIELD=NUMBER")
    from mae_ort._system import limit_threads

    limit_threads(1)  # one core, before TensorFlow starts
    from mae_ort.model.architecture import Architecture
    from mae_ort.study.train import TrainSettings, train

    if a.trace_scale < 2:
        ap.error("--trace-scale must be at least 2 (the doubled setting is replayed from the record)")
    settings = TrainSettings.preset(a.trainer, **overrides)
    budget, patience = a.budget, settings.patience
    # which training a trace belongs to: the settings but patience (it only decides when to stop), the form
    run_key = TrainSettings(**{**settings.to_dict(), "patience": None}).key()
    trace_epochs, trace_patience = a.trace_scale * budget, a.trace_scale * patience
    out = Path(a.out)
    out.mkdir(parents=True, exist_ok=True)
    traces_path = out / "trainer-convergence-traces.csv"
    traces = pd.read_csv(traces_path) if traces_path.exists() else pd.DataFrame()
    t0 = time.perf_counter()
    runs, checks = [], {}
    for series, split in splits().items():
        if a.series and series not in a.series:
            continue
        for i, (units, look_back) in enumerate(ARCHITECTURES):
            name = "-".join(map(str, units))
            mine = traces.iloc[:0]
            if len(traces):  # a record that ran at least as long and as patiently as the doubled setting
                mine = traces[(traces.run == run_key) & (traces.target_form == a.target_form)
                              & (traces.series == series) & (traces.units == name) & (traces.look_back == look_back)
                              & (traces.trace_epochs >= 2 * budget) & (traces.trace_patience >= 2 * patience)]
                if len(mine):
                    longest = mine.sort_values(["trace_epochs", "trace_patience"]).iloc[-1]
                    mine = mine[(mine.trace_epochs == longest.trace_epochs)
                                & (mine.trace_patience == longest.trace_patience)]
            if not len(mine):
                mine = trace(split, units, look_back, settings=settings, epochs=trace_epochs,
                             patience=trace_patience, target_form=a.target_form)
                for col, value in (("trace_patience", trace_patience), ("trace_epochs", trace_epochs),
                                   ("look_back", look_back), ("units", name), ("series", series),
                                   ("target_form", a.target_form), ("run", run_key)):
                    mine.insert(0, col, value)
                mine.to_csv(traces_path, mode="a", header=not traces_path.exists(), index=False)
                print(f"{series} {name} lb={look_back}: {len(mine)} epochs, {mine.seconds.iloc[0]:.1f} s "
                      f"[{time.perf_counter() - t0:.0f} s]", flush=True)
            val, test = mine.val_loss.to_numpy(), mine.test_mae.to_numpy()
            for b, p in ((budget, patience), (2 * budget, 2 * patience)):
                runs.append(dict(series=series, target_form=a.target_form, units=name, look_back=look_back,
                                 budget=b, patience=p,
                                 **replay(val, test, budget=b, patience=p, min_delta=settings.min_delta)))
            if i == 0:  # the replay against a real training with the preset
                r = train(split, Architecture(units, head_activation="linear"), look_back=look_back, epochs=budget,
                          seed=0, settings=settings, recursive=False, threads=1, target_form=a.target_form)
                checks[series] = r.budgets[-1].test_mae - runs[-2]["test_mae"]
    runs = pd.DataFrame(runs)
    runs.insert(2, "trainer", settings.trainer())
    runs.insert(3, "batch_size", settings.batch_size)
    runs.insert(4, "learning_rate", settings.learning_rate)
    merge_rows(out / "trainer-convergence-runs.csv", runs, ["series", "target_form", "trainer", "batch_size",
                                                             "learning_rate", "budget", "patience"])
    from mae_ort.study.evidence import baseline_maes

    rows = []
    every = splits()
    for series, g in runs.groupby("series", sort=True):
        a1, a2 = g[g.budget == budget], g[g.budget == 2 * budget]
        m1, m2 = float(np.median(a1.test_mae)), float(np.median(a2.test_mae))
        change = 100.0 * (m2 - m1) / m1
        rows.append(dict(series=series, target_form=a.target_form, architectures=len(a1), trainer=settings.trainer(),
                         batch_size=settings.batch_size, learning_rate=settings.learning_rate,
                         budget=budget, patience=patience,
                         median_test_mae=round(m1, 6), stopped_early=int((a1.epochs_run < budget).sum()),
                         budget_doubled=2 * budget, patience_doubled=2 * patience,
                         median_test_mae_doubled=round(m2, 6), stopped_early_doubled=int((a2.epochs_run
                                                                                          < 2 * budget).sum()),
                         change_percent=round(change, 3), under_2_percent=abs(change) < 2.0,
                         architectures_changed=int((a1.test_mae.to_numpy() != a2.test_mae.to_numpy()).sum()),
                         persistence_test_mae=round(baseline_maes(every[series], 1)["persistence"], 6),
                         check_real_minus_replayed=float(f"{checks[series]:.3g}")))
    table = pd.DataFrame(rows)
    merge_rows(out / "trainer-convergence.csv", table, ["series", "target_form", "trainer", "batch_size",
                                                        "learning_rate", "budget", "patience"])
    print(table.to_string(index=False))
    print(f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS')}; {time.perf_counter() - t0:.0f} s")
    return 0 if bool(table.under_2_percent.all()) else 1


if __name__ == "__main__":
    sys.exit(main())
