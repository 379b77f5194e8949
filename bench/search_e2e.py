"""End to end: "MRS search + train the top 5" against "Optuna TPE with training as the objective".

For one series and each seed, in one process, one training at a time:

* **Side A** (MRS search + train top k): ``mae_ort.search.search`` with Optuna's TPE over the grid
  (``--layers``, ``--units``, ``--look-back``), MAE random sampling ``log p`` as the objective
  (``--trials`` trials, ``--samples`` weight samples per row; rows go to a fresh temporary
  database), then :func:`mae_ort.study.winners.train_top` trains the ``--top`` best distinct
  rows by ``log p`` with the ``--trainer`` preset for ``--epochs`` epochs.  The chosen network is
  the one with the lowest validation loss (the trainer's early-stopping split; the test set is
  never looked at); its test MAE is reported.  Time: search seconds + training seconds.
* **Side B** (TPE on training): an Optuna study with ``TPESampler(seed=seed)`` (Optuna's defaults,
  so its first 10 trials are random startup trials) over the same grid
  (:class:`mae_ort.search.SearchSpace`), whose objective trains the suggested row with
  :func:`mae_ort.study.train.train` (same trainer, epochs and Keras seed) and returns its
  validation loss.  A row suggested again returns its first result without training (as side A's
  store reuses rows).  Budget ``epochs``: the first ``--top`` trainings (the same number of
  trained epochs as side A, at most); budget ``time``: trials keep starting until side A's total
  seconds have passed (Optuna's ``timeout`` semantics: the last training may end after it).  The
  chosen network at each budget: the lowest validation loss among its trainings.
* **Baselines** on the same test points (:func:`mae_ort.study.evidence.baseline_maes`):
  persistence and the training mean.

Writes ``e2e-<series>.json`` (every training, every seed), ``e2e-<series>.csv`` (one line per seed,
side and budget) and ``e2e-<series>.md`` (the table) to ``--out``, after each seed; a rerun with
the same settings skips the seeds already there.

    python -m bench.search_e2e --series sine --seeds 0,1,2 --out docs/search
    python -m bench.search_e2e --series eunite --seeds 0,1,2 --out docs/search
"""

from __future__ import annotations

import argparse
import csv
import json
import platform
import sys
import tempfile
import time
from pathlib import Path

from mae_ort._system import loadavg

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

#: How each series is set up (as scripts/reproduce_paper.sh): the split, the model and the MRS bounds.
SERIES = {
    "sine": dict(preset="paper", head_activation=None, threshold=0.01, lower=0.0, upper=2.0),
    "eunite": dict(preset="paper", head_activation="sigmoid", threshold=0.01, lower=0.0, upper=1.0),
}


def make_split(name: str, smoke: bool = False):
    """The train/test split of a series (the paper's sine, or EUNITE's MaxLoads min-max scaled)."""
    from mae_ort.data import csv_split, sine_split

    if name == "sine":
        return sine_split(120, 20) if smoke else sine_split()
    return csv_split(ROOT / "data" / "eunite-training.csv", ROOT / "data" / "eunite-testing.csv", input="MaxLoads",
                     scale="minmax")


def _log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)


def _warm_up(split, grid, settings, spec) -> float:
    """Load Numba's kernels and TensorFlow once, before anything is timed (both sides would pay it once)."""
    import mae_ort
    from mae_ort.search import SearchSpace
    from mae_ort.study.train import train

    t0 = time.perf_counter()
    row = SearchSpace(grid).row(units=(2,), look_back=1)
    mae_ort.sample(split.train, arch=row.arch, look_back=1, samples=5, threshold=spec["threshold"],
                   lower=spec["lower"], upper=spec["upper"], seed=0)
    train(split, row.arch, look_back=1, epochs=1, seed=0, settings=settings)
    return time.perf_counter() - t0


def side_a(split, grid, spec, settings, seed: int, args, work: Path) -> dict:
    """MRS search (TPE on log p) then train_top; the network of the lowest validation loss is chosen."""
    import mae_ort
    from mae_ort.study.winners import train_top

    db = work / f"side-a-seed{seed}.sqlite"
    t0 = time.perf_counter()
    study = mae_ort.search.search(grid, split.train, trials=args.trials, samples=args.samples, sampler="tpe", seed=seed,
                                  db=str(db), threshold=spec["threshold"], lower=spec["lower"], upper=spec["upper"])
    search_seconds = time.perf_counter() - t0
    last = study.user_attrs["mae_ort_last_run"]
    t1 = time.perf_counter()
    top = train_top(db, split, k=args.top, settings=settings, epochs=str(args.epochs), seed=seed)
    train_seconds = time.perf_counter() - t1
    table = top.table
    chosen = top.best  # train_top's choice: the lowest validation loss
    trainings = [{"units": str(r.units), "look_back": int(r.look_back), "log_p": float(r.log_p),
                  "val_loss": float(r.val_loss), "test_mae": float(r.test_mae), "epochs_run": int(r.epochs_run),
                  "seconds": float(r.train_seconds)} for r in table.itertuples()]
    return {"side": "A", "budget": "epochs", "seconds": search_seconds + train_seconds,
            "search_seconds": search_seconds, "train_seconds": train_seconds, "mrs_rows": int(last["new_rows"]),
            "trials": args.trials, "trainings": trainings, "trained_epochs": sum(t["epochs_run"] for t in trainings),
            "chosen": {"units": str(chosen["units"]), "look_back": int(chosen["look_back"]),
                       "val_loss": float(chosen["val_loss"]), "test_mae": float(chosen["test_mae"])}}


def side_b(split, grid, settings, seed: int, args, wall: float) -> list[dict]:
    """TPE whose objective is training: ``[budget epochs, budget time]`` results."""
    import optuna

    from mae_ort.search import SearchSpace
    from mae_ort.study.train import train

    space = SearchSpace(grid)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=seed))
    trainings: list[dict] = []
    seen: dict[tuple, dict] = {}
    t0 = time.perf_counter()

    def objective(trial):
        row = space.suggest(trial)
        key = (row.units, row.look_back)
        if key not in seen:
            t = time.perf_counter()
            r = train(split, row.arch, look_back=row.look_back, epochs=args.epochs, seed=seed, settings=settings)
            b = r.budgets[-1]
            rec = {"trial": trial.number, "units": row.units, "look_back": row.look_back,
                   "val_loss": float(b.monitor_loss), "test_mae": float(b.test_mae), "epochs_run": int(b.epochs_run),
                   "seconds": time.perf_counter() - t, "ended_at": time.perf_counter() - t0}
            trainings.append(rec)
            seen[key] = rec
            _log(f"  B trial {trial.number}: [{row.units}] lb={row.look_back} val {rec['val_loss']:.3g} "
                 f"test {rec['test_mae']:.4f} ({rec['seconds']:.0f} s)")
        return seen[key]["val_loss"]

    while len(trainings) < args.top and len(study.trials) < 50 * args.top:
        study.optimize(objective, n_trials=1)
    first = list(trainings)
    first_seconds = time.perf_counter() - t0
    remaining = wall - first_seconds
    if remaining > 0:
        study.optimize(objective, timeout=remaining, n_trials=10_000)
    total = time.perf_counter() - t0

    def result(budget, runs, seconds, trials):
        best = min(runs, key=lambda r: (r["val_loss"], r["trial"]))
        return {"side": "B", "budget": budget, "seconds": seconds, "trainings": runs,
                "trained_epochs": sum(r["epochs_run"] for r in runs), "trials": trials,
                "chosen": {k: best[k] for k in ("units", "look_back", "val_loss", "test_mae")}}

    return [result("epochs", first, first_seconds, max(r["trial"] for r in first) + 1),
            result("time", trainings, total, len(study.trials))]


def _config(args, series: str) -> dict:
    return {"series": series, "trials": args.trials, "samples": args.samples, "top": args.top, "epochs": args.epochs,
            "trainer": args.trainer, "layers": args.layers, "units": args.units, "look_back": args.look_back,
            "smoke": bool(args.smoke), **SERIES[series]}


def _summary_rows(seeds: list[dict]) -> list[dict]:
    rows = []
    for s in seeds:
        for r in s["runs"]:
            c = r["chosen"]
            rows.append({"seed": s["seed"], "side": r["side"], "budget": r["budget"], "test_mae": c["test_mae"],
                         "val_loss": c["val_loss"], "units": c["units"], "look_back": c["look_back"],
                         "seconds": round(r["seconds"], 1), "trained_epochs": r["trained_epochs"],
                         "trainings": len(r["trainings"]), "trials": r["trials"]})
    return rows


LABELS = {("A", "epochs"): "A: MRS search + train top {top}", ("B", "epochs"): "B: TPE on training, same trainings",
          ("B", "time"): "B: TPE on training, same wall time"}


def render(doc: dict) -> str:
    """The markdown table of one series' results."""
    cfg, seeds = doc["config"], doc["seeds"]
    rows = _summary_rows(seeds)
    lines = [f"### {cfg['series']}", "",
             "| side | budget | seeds | test MAE of the chosen network: mean (per seed) | total seconds: mean "
             "(per seed) | trained epochs: mean | trainings: mean | chosen (per seed) |",
             "|---|---|---|---|---|---|---|---|"]
    for (side, budget), label in LABELS.items():
        mine = [r for r in rows if (r["side"], r["budget"]) == (side, budget)]
        if not mine:
            continue

        def mean(key):
            return sum(r[key] for r in mine) / len(mine)

        per = ", ".join(f"{r['test_mae']:.4f}" for r in mine)
        secs = ", ".join(f"{r['seconds']:.0f}" for r in mine)
        chosen = "; ".join(f"[{r['units']}] lb {r['look_back']}" for r in mine)
        what = f"{cfg['top']} trainings" if budget == "epochs" else "side A's seconds"
        lines.append(f"| {label.format(top=cfg['top'])} | {what} | {len(mine)} | **{mean('test_mae'):.4f}** ({per}) "
                     f"| {mean('seconds'):.0f} ({secs}) | {mean('trained_epochs'):.0f} | {mean('trainings'):.1f} "
                     f"| {chosen} |")
    b = doc["baselines"]
    lines += ["", f"Baselines on the same {doc['test_points']} test points: persistence {b['persistence']:.4f}, "
              f"the training mean {b['train_mean']:.4f}, predicting 0 {b['zero']:.4f}.", ""]
    lines += [verdict(rows, cfg), ""]
    return "\n".join(lines)


def verdict(rows: list[dict], cfg: dict) -> str:
    """One plain sentence per budget: which side's chosen network has the lower test MAE, on how many seeds."""
    out = []
    a = {r["seed"]: r for r in rows if r["side"] == "A"}
    for budget, what in (("epochs", "the same number of trainings"), ("time", "the same wall time")):
        b = {r["seed"]: r for r in rows if r["side"] == "B" and r["budget"] == budget}
        common = sorted(set(a) & set(b))
        if not common:
            continue
        wins_a = sum(a[s]["test_mae"] < b[s]["test_mae"] for s in common)
        wins_b = sum(b[s]["test_mae"] < a[s]["test_mae"] for s in common)
        ma = sum(a[s]["test_mae"] for s in common) / len(common)
        mb = sum(b[s]["test_mae"] for s in common) / len(common)
        names = {"A": "A (MRS search + train top)", "B": "B (TPE on training)"}
        lower = "A" if ma < mb else "B" if mb < ma else None
        every = {"A": wins_a, "B": wins_b}.get(lower) == len(common)
        if lower is None:
            head = "**neither side wins**: the same mean test MAE"
        elif every:
            head = f"**{names[lower]} wins** on every seed"
        else:
            head = f"**no side wins on every seed**; {names[lower]} has the lower mean"
        out.append(f"At {what}, {head} (test MAE {ma:.3g} for A against {mb:.3g} for B, means); per seed A is lower "
                   f"on {wins_a}, B on {wins_b}, tied on {len(common) - wins_a - wins_b} of {len(common)}.")
    return " ".join(out)


def _write(doc: dict, out: Path) -> None:
    series = doc["config"]["series"]
    (out / f"e2e-{series}.json").write_text(json.dumps(doc, indent=1))
    rows = _summary_rows(doc["seeds"])
    if rows:
        with open(out / f"e2e-{series}.csv", "w", newline="") as fh:
            w = csv.DictWriter(fh, fieldnames=list(rows[0]))
            w.writeheader()
            w.writerows(rows)
    (out / f"e2e-{series}.md").write_text(render(doc))


def run_series(series: str, seeds: list[int], args) -> dict:
    """Every seed of one series; the results file is rewritten after each seed."""
    import optuna

    from mae_ort.screening import grid as make_grid
    from mae_ort.study.evidence import baseline_maes
    from mae_ort.study.train import TrainSettings

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    spec = SERIES[series]
    split = make_split(series, args.smoke)
    grid = make_grid(units=args.units, layers=args.layers, look_back=args.look_back, preset=spec["preset"],
                     head_activation=spec["head_activation"])
    settings = TrainSettings.preset(args.trainer)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"e2e-{series}.json"
    cfg = _config(args, series)
    doc = {"config": cfg, "seeds": []}
    if path.exists():
        old = json.loads(path.read_text())
        if old.get("config") == cfg:
            doc = old
    doc.update(baselines=baseline_maes(split, 1), test_points=int(split.test.length),
               train_points=int(split.train.length), grid=grid.describe() if hasattr(grid, "describe") else str(grid))
    done = {s["seed"] for s in doc["seeds"]}
    warm = _warm_up(split, grid, settings, spec)
    _log(f"{series}: warm-up (Numba kernels, TensorFlow) {warm:.0f} s, not counted")
    for seed in seeds:
        if seed in done:
            _log(f"{series} seed {seed}: already in {path}, skipped")
            continue
        load0 = loadavg()
        with tempfile.TemporaryDirectory(prefix="mae-ort-e2e-") as work:
            a = side_a(split, grid, spec, settings, seed, args, Path(work))
        _log(f"{series} seed {seed} A: search {a['search_seconds']:.0f} s ({a['mrs_rows']} MRS rows), training "
             f"{a['train_seconds']:.0f} s; chosen [{a['chosen']['units']}] lb {a['chosen']['look_back']} "
             f"test MAE {a['chosen']['test_mae']:.4f}")
        b = side_b(split, grid, settings, seed, args, a["seconds"])
        for r in b:
            _log(f"{series} seed {seed} B/{r['budget']}: {len(r['trainings'])} trainings, {r['seconds']:.0f} s; "
                 f"chosen [{r['chosen']['units']}] lb {r['chosen']['look_back']} test MAE "
                 f"{r['chosen']['test_mae']:.4f}")
        doc["seeds"].append({"seed": seed, "runs": [a, *b], "loadavg": [load0, loadavg()]})
        doc["seeds"].sort(key=lambda s: s["seed"])
        doc["machine"] = {"platform": platform.platform(), "python": platform.python_version()}
        _write(doc, out)
    _write(doc, out)
    return doc


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--series", choices=sorted(SERIES), required=True)
    ap.add_argument("--seeds", default="0", help="comma-separated seeds (sampler, MRS sweep and Keras seeds)")
    ap.add_argument("--trials", type=int, default=100, help="side A's MRS search trials")
    ap.add_argument("--samples", type=int, default=100, help="weight samples per MRS row")
    ap.add_argument("--top", type=int, default=5, help="side A trains the k best rows; side B's first budget")
    ap.add_argument("--epochs", type=int, default=100)
    ap.add_argument("--trainer", default="modern")
    ap.add_argument("--layers", default="1:2")
    ap.add_argument("--units", default="7:31")
    ap.add_argument("--look-back", default="1:30")
    ap.add_argument("--out", default=str(ROOT / "docs" / "search"))
    ap.add_argument("--smoke", action="store_true", help="a tiny sine split (checks the script, not the claim)")
    args = ap.parse_args(argv)
    try:
        seeds = [int(s) for s in args.seeds.split(",") if s.strip()]
    except ValueError:
        ap.error(f"--seeds must be comma-separated integers, got {args.seeds!r}")
    if not seeds:
        ap.error("--seeds is empty")
    if args.smoke and args.series != "sine":
        ap.error("--smoke runs on the sine only")
    doc = run_series(args.series, seeds, args)
    print(render(doc))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
