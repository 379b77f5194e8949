"""Validation report: does ``log p`` predict the trained error?  The paper's Tables 1-4.

Reads the sampling rows and the trained rows of one database (joined by
:func:`mae_ort.study.validation.joined`) and writes, into one folder:

* ``README.md``: the correlation tables laid out like the paper's Tables 1-3 (one
  per depth: per epoch budget, Pearson ``r`` and Spearman ``rho`` of the sampled
  Mean, Sd and ``log p`` of each available fit with the trained test MAE, and that
  MAE's mean and sd), with the paper's numbers beside ours, a plain list of where
  they differ, Table 4 (time and peak memory of training vs sampling), and the
  date, machine and package versions;
* ``correlations.csv`` (long form: one row per depth, budget, statistic, method),
  ``trained.csv`` (the joined data), ``table4.csv``;
* ``scatter-depth<D>.png``: one figure per study, trained MAE against each statistic
  for each budget.

Table 4 is measured by :func:`measure_costs`: each training and each sampling runs
in a fresh Python process whose wall time and peak resident set size (``VmHWM`` on
Linux, else ``ru_maxrss``) are read, so the figures include what the process imports (TensorFlow for
training, onnxruntime/Numba for sampling), as the paper's did.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
import os
import subprocess
import sys
import time
from pathlib import Path

import numpy as np

from .._checks import check_int, check_option
from .._system import library_versions, machine_line, peak_rss_bytes, thread_environment
from ..errors import MaeOrtError

__all__ = [
    "PAPER",
    "PAPER_TABLE4",
    "STATISTICS",
    "add_fits",
    "correlations",
    "study_table",
    "differences",
    "scatter",
    "measure_costs",
    "measure_table4",
    "write_report",
]

#: The paper's Tables 1-3: ``(layers, epochs) -> (r Mean, r Sd, r log p, mean MAE, sd MAE)``
#: (Pearson correlations with the MAE after training; FACTS.md).
PAPER: dict[tuple[int, int], tuple[float, float, float, float, float]] = {
    (1, 1): (-0.447, -0.317, -0.211, 0.618, 0.017),
    (1, 10): (-0.726, -0.431, -0.321, 0.517, 0.111),
    (1, 100): (-0.790, -0.641, -0.650, 0.133, 0.146),
    (1, 1000): (-0.668, -0.458, -0.515, 0.036, 0.079),
    (2, 1): (-0.086, -0.135, -0.171, 0.617, 0.009),
    (2, 10): (-0.450, -0.632, -0.635, 0.591, 0.018),
    (2, 100): (-0.709, -0.827, -0.905, 0.147, 0.145),
    (2, 1000): (-0.695, -0.843, -0.922, 0.106, 0.147),
    (3, 1): (-0.334, -0.447, -0.475, 0.616, 0.003),
    (3, 10): (-0.546, -0.724, -0.745, 0.605, 0.010),
    (3, 100): (-0.720, -0.869, -0.906, 0.180, 0.159),
    (3, 1000): (-0.130, -0.873, -0.911, 0.143, 0.164),
}

#: The paper's Table 4, per architecture: training (1000 epochs) and MAE random sampling.
PAPER_TABLE4 = {"training": {"seconds": 996.0, "mb": 127.0}, "sampling": {"seconds": 6.0, "mb": 150.0}}

#: Statistics correlated with the trained MAE: column -> label.  ``log_p`` is the
#: reference's (moments fit, floored at log(1e-300)); ``log_p_exact`` the same fit
#: in log space; ``log_p_mle`` the maximum-likelihood fit.
STATISTICS = {
    "mean": "Mean",
    "sd": "Sd",
    "log_p": "log p (moments, floored)",
    "log_p_exact": "log p (moments, exact)",
    "log_p_mle": "log p (mle)",
}
_PAPER_INDEX = {"mean": 0, "sd": 1, "log_p": 2, "log_p_exact": 2, "log_p_mle": 2}


# -- data ---------------------------------------------------------------------------------
def add_fits(df):
    """Add ``log_p``, ``log_p_exact`` and ``log_p_mle`` from each row's raw MAEs.

    Rows need ``maes`` (a sequence of S values) and ``threshold``, ``lower``,
    ``upper``; rows without MAEs keep the stored ``log_p`` under their own fit's
    column.  Returns a new DataFrame.
    """
    import warnings

    from ..sampling.stats import fit_truncnorm

    df = df.copy()
    cols = {"log_p": [], "log_p_exact": [], "log_p_mle": []}
    for row in df.itertuples(index=False):
        maes = getattr(row, "maes", None)
        ok = maes is not None and not (isinstance(maes, float) and math.isnan(maes)) and len(maes) >= 2
        if ok:
            x = np.asarray([np.nan if v is None else v for v in maes], dtype=np.float64)
            kw = dict(threshold=float(row.threshold), lower=float(row.lower), upper=float(row.upper))
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                m = fit_truncnorm(x, fit="moments", **kw)
                e = fit_truncnorm(x, fit="mle", **kw)
            cols["log_p"].append(m.log_p)
            cols["log_p_exact"].append(m.log_p_exact)
            cols["log_p_mle"].append(e.log_p)
        else:
            fit = getattr(row, "fit", "moments")
            stored = float(getattr(row, "log_p", np.nan))
            cols["log_p"].append(stored if fit == "moments" else np.nan)
            exact = float(getattr(row, "log_p_exact", np.nan) or np.nan)
            cols["log_p_exact"].append(exact if fit == "moments" else np.nan)
            cols["log_p_mle"].append(stored if fit == "mle" else np.nan)
    for k, v in cols.items():
        df[k] = np.asarray(v, dtype=np.float64)
    return df


def _corr(x, y, method: str) -> tuple[float, float, int]:
    from scipy import stats

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    x, y = x[ok], y[ok]
    n = int(x.size)
    if n < 3 or np.ptp(x) == 0 or np.ptp(y) == 0:
        return math.nan, math.nan, n
    r = stats.pearsonr(x, y) if method == "pearson" else stats.spearmanr(x, y)
    return float(r[0]), float(r[1]), n


def correlations(df, *, mae: str = "test_mae", statistics=None):
    """Pearson and Spearman correlations of each statistic with the trained MAE.

    Parameters
    ----------
    df : DataFrame
        One row per trained architecture and budget, with ``depth``, ``epochs``,
        the statistic columns and the ``mae`` column.
    mae : str
        The column of the trained error.
    statistics : list of str, optional
        Columns to correlate (default: those of :data:`STATISTICS` present with at
        least one finite value).

    Returns
    -------
    DataFrame
        Long form: ``depth, epochs, statistic, method, value, pvalue, n, paper``
        (``paper``: the paper's Pearson value, for the Pearson rows it has), plus
        ``mae_mean, mae_sd`` of the group.
    """
    import pandas as pd

    if statistics is None:
        statistics = [s for s in STATISTICS if s in df.columns and np.isfinite(df[s].to_numpy(dtype=float)).any()]
    rows = []
    for (depth, epochs), g in df.groupby(["depth", "epochs"], sort=True):
        y = g[mae].to_numpy(dtype=float)
        fin = y[np.isfinite(y)]
        for s in statistics:
            for method in ("pearson", "spearman"):
                value, pvalue, n = _corr(g[s].to_numpy(dtype=float), y, method)
                paper = PAPER.get((int(depth), int(epochs)))
                rows.append(dict(
                    depth=int(depth), epochs=int(epochs), statistic=s, method=method, value=value,
                    pvalue=pvalue, n=n, paper=(paper[_PAPER_INDEX[s]] if paper and method == "pearson" else math.nan),
                    mae_mean=float(fin.mean()) if fin.size else math.nan,
                    mae_sd=float(fin.std(ddof=1)) if fin.size > 1 else math.nan,
                ))
    return pd.DataFrame(rows, columns=["depth", "epochs", "statistic", "method", "value", "pvalue", "n", "paper",
                                       "mae_mean", "mae_sd"])


def _f(v, digits: int = 3) -> str:
    if v is None or (isinstance(v, float) and not math.isfinite(v)):
        return "–"
    return f"{v:.{digits}f}"


_SHORT = {"mean": "Mean", "sd": "Sd", "log_p": "log p", "log_p_exact": "log p exact", "log_p_mle": "log p mle"}


def study_table(corr, depth: int, *, paper: bool = True) -> str:
    """The Markdown table of one study (depth), laid out like the paper's Tables 1-3.

    Per epoch budget: for Mean, Sd and log p, the paper's Pearson ``r`` then ours
    and our Spearman ``rho``; further log p fits (exact, mle) follow with ours only;
    then the trained MAE's mean and sd, the paper's and ours.  ``paper=False``
    leaves the paper's columns out (another series than the paper's sine).
    """
    g = corr[corr.depth == depth]
    present = set(g.statistic)
    head = ["epochs", "n"]
    for s in ("mean", "sd", "log_p"):
        if s in present:
            head += ([f"{_SHORT[s]} r (paper)"] if paper else []) + [f"{_SHORT[s]} r", f"{_SHORT[s]} ρ"]
    for s in ("log_p_exact", "log_p_mle"):
        if s in present:
            head += [f"{_SHORT[s]} r", f"{_SHORT[s]} ρ"]
    head += ["MAE mean (paper)", "MAE mean", "MAE sd (paper)", "MAE sd"] if paper else ["MAE mean", "MAE sd"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for epochs in sorted(set(g.epochs)):
        e = g[g.epochs == epochs]
        ref = PAPER.get((int(depth), int(epochs))) if paper else None

        def ours(s, method):
            row = e[(e.statistic == s) & (e.method == method)]
            return _f(row.value.iloc[0]) if len(row) else "–"

        cells = [str(int(epochs)), str(int(e.n.max()) if len(e) else 0)]
        for s in ("mean", "sd", "log_p"):
            if s in present:
                cells += ([_f(ref[_PAPER_INDEX[s]]) if ref else "–"] if paper else []) + [ours(s, "pearson"),
                                                                                          ours(s, "spearman")]
        for s in ("log_p_exact", "log_p_mle"):
            if s in present:
                cells += [ours(s, "pearson"), ours(s, "spearman")]
        if paper:
            cells += [_f(ref[3]) if ref else "–", _f(e.mae_mean.iloc[0]), _f(ref[4]) if ref else "–",
                      _f(e.mae_sd.iloc[0])]
        else:
            cells += [_f(e.mae_mean.iloc[0]), _f(e.mae_sd.iloc[0])]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def differences(corr, *, tolerance: float = 0.2) -> list[str]:
    """Plain sentences on where our Pearson correlations (Mean, Sd, log p) and MAEs differ from the paper's.

    A correlation differs when its sign differs or it is more than ``tolerance``
    away; the trained MAE's mean differs when it is more than ``tolerance`` away
    (both on the paper's scale, the unit sine).
    """
    out = []
    p = corr[corr.method == "pearson"]
    for (depth, epochs), g in p.groupby(["depth", "epochs"], sort=True):
        paper = PAPER.get((int(depth), int(epochs)))
        if paper is None:
            out.append(f"{depth} layer(s), {epochs} epochs: the paper has no such row; nothing to compare.")
            continue
        for s in ("mean", "sd", "log_p"):  # the paper's three (its log p is the floored moments fit)
            row = g[g.statistic == s]
            if not len(row):
                continue
            ours, theirs = float(row.value.iloc[0]), paper[_PAPER_INDEX[s]]
            if not math.isfinite(ours):
                out.append(f"{depth} layer(s), {epochs} epochs, {STATISTICS[s]}: no correlation computable "
                           f"(n={int(row.n.iloc[0])}, or a constant column); the paper has r = {theirs:.3f}.")
            elif np.sign(ours) != np.sign(theirs):
                out.append(f"{depth} layer(s), {epochs} epochs, {STATISTICS[s]}: opposite sign — "
                           f"ours r = {ours:.3f}, the paper's {theirs:.3f}.")
            elif abs(ours - theirs) > tolerance:
                how = "weaker" if abs(ours) < abs(theirs) else "stronger"
                out.append(f"{depth} layer(s), {epochs} epochs, {STATISTICS[s]}: ours r = {ours:.3f}, the paper's "
                           f"{theirs:.3f} ({how} by {abs(ours - theirs):.2f}).")
        mm = float(g.mae_mean.iloc[0])
        if math.isfinite(mm) and abs(mm - paper[3]) > tolerance:
            out.append(f"{depth} layer(s), {epochs} epochs: trained MAE mean {mm:.3f}, the paper's {paper[3]:.3f}.")
    return out


def _critical_r(n: int, alpha: float = 0.05) -> float:
    """The smallest |r| significant at level ``alpha`` (two-sided) with ``n`` pairs."""
    from scipy import stats

    t = stats.t.ppf(1 - alpha / 2, n - 2)
    return float(t / math.sqrt(n - 2 + t * t))


# -- figures --------------------------------------------------------------------------------
def scatter(df, depth: int, path, *, mae: str = "test_mae",
            statistics=("mean", "sd", "log_p_exact", "log_p_mle")) -> Path:
    """One study's scatter plot: trained MAE against each statistic (rows) for each budget (columns)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    g = df[df.depth == depth]
    stats_ = [s for s in statistics if s in g.columns and np.isfinite(g[s].to_numpy(dtype=float)).any()]
    budgets = sorted(set(int(e) for e in g.epochs))
    if not stats_ or not budgets:
        raise MaeOrtError(f"nothing to plot for depth {depth}: no trained rows with sampling statistics")
    fig, axes = plt.subplots(len(stats_), len(budgets), figsize=(3.2 * len(budgets) + 0.8, 2.6 * len(stats_) + 0.6),
                             squeeze=False, constrained_layout=True)
    lbs = sorted(set(int(v) for v in g.look_back))
    cmap = plt.get_cmap("viridis")
    for i, s in enumerate(stats_):
        for j, e in enumerate(budgets):
            ax = axes[i][j]
            ge = g[g.epochs == e]
            sc = ax.scatter(ge[s], ge[mae], c=ge.look_back, cmap=cmap, s=14, vmin=min(lbs),
                            vmax=max(lbs) if max(lbs) > min(lbs) else min(lbs) + 1)
            r, _, n = _corr(ge[s], ge[mae], "pearson")
            ax.set_title(f"{e} epoch{'s' if e != 1 else ''}: r = {_f(r, 2)} (n={n})", fontsize=9)
            ax.set_xlabel(STATISTICS[s], fontsize=8)
            if j == 0:
                ax.set_ylabel("trained test MAE", fontsize=8)
            ax.tick_params(labelsize=7)
    fig.colorbar(sc, ax=axes, shrink=0.6, label="look-back")
    fig.suptitle(f"{depth}-layer study: sampled statistics vs trained MAE", fontsize=11)
    path = Path(path)
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return path


# -- Table 4 --------------------------------------------------------------------------------
def _child_main() -> None:  # pragma: no cover - runs in a child process
    """Run one measured job described by JSON on stdin; print JSON with seconds and peak RSS."""
    job = json.loads(sys.stdin.read())
    t0 = time.perf_counter()
    from ..data import split_from_spec
    from ..model.architecture import Architecture
    from .train import TrainSettings, train

    split = split_from_spec(job["split"])
    arch = Architecture(**job["arch"])
    t1 = time.perf_counter()
    if job["kind"] == "training":
        settings = TrainSettings(**job.get("settings", {}))
        train(split, arch, look_back=job["look_back"], epochs=job["epochs"], seed=job.get("seed", 0),
              settings=settings, recursive=False)
    else:
        from ..sampling import sample

        series = split.test if job.get("sample_on") == "test" else split.train
        sample(series, arch=arch, look_back=job["look_back"], **job.get("sampling", {}))
    work = time.perf_counter() - t1
    print(json.dumps({"work_seconds": work, "setup_seconds": t1 - t0, "peak_rss_bytes": peak_rss_bytes()}))


def _run_child(job: dict, *, threads: int | None, timeout: float | None) -> dict:
    env = dict(os.environ)
    env.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")
    if threads:
        env.update(thread_environment(threads))
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, "-c", "from mae_ort.study.report import _child_main; _child_main()"],
                            stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, text=True)
    try:
        out, err = proc.communicate(json.dumps(job), timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        raise MaeOrtError(f"the measured {job['kind']} run took longer than {timeout} s") from None
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        last = (err.strip().splitlines() or ["(no output)"])[-1]
        raise MaeOrtError(f"the measured {job['kind']} run failed: {last}")
    res = json.loads(out.strip().splitlines()[-1])
    res["process_seconds"] = wall
    return res


def measure_costs(split_spec: dict, arch, *, look_back: int, epochs: int = 1000, samples: int = 100, seed: int = 0,
                  settings: dict | None = None, sampling: dict | None = None, sample_on: str = "train",
                  threads: int | None = None, timeout: float | None = None,
                  kinds=("training", "sampling")) -> list[dict]:
    """Measure training and sampling of one architecture, each in a fresh process (Table 4).

    Parameters
    ----------
    split_spec : dict
        The split (:attr:`mae_ort.study.train.TrainTestSplit.spec`).
    arch : Architecture or dict
    look_back, epochs, samples, seed : int
        Training runs for ``epochs`` epochs (early stopping as ``settings``);
        sampling draws ``samples`` weight samples.
    settings, sampling : dict, optional
        Keyword arguments of :class:`~mae_ort.study.train.TrainSettings` and of
        :func:`mae_ort.sample` (threshold, lower, upper, fit, init, runtime ...).
    threads : int, optional
        Thread limit of both processes (default: all cores).
    kinds : sequence of {'training', 'sampling'}
        Which of the two to measure.

    Returns
    -------
    list of dict
        Two rows (``kind`` = ``training``, ``sampling``) with ``work_seconds`` (the
        job itself), ``process_seconds`` (the whole process, imports included) and
        ``peak_rss_bytes`` (the process's peak resident set size).
    """
    from ..model.architecture import Architecture

    arch_d = arch.to_dict() if isinstance(arch, Architecture) else dict(arch)
    look_back = check_int(look_back, "look_back", "measure_costs", low=1)
    epochs = check_int(epochs, "epochs", "measure_costs", low=1)
    samples = check_int(samples, "samples", "measure_costs", low=2)
    sample_on = check_option(sample_on, "sample_on", "measure_costs", ("train", "test"))
    base = {"split": split_spec, "arch": arch_d, "look_back": look_back, "seed": seed}
    rows = []
    for kind, extra in (("training", {"epochs": epochs, "settings": settings or {}}),
                        ("sampling", {"sampling": {"samples": samples, "seed": seed, **(sampling or {})},
                                      "sample_on": sample_on})):
        if kind not in kinds:
            continue
        res = _run_child({**base, "kind": kind, **extra}, threads=threads, timeout=timeout)
        units = ",".join(map(str, arch_d["units"]))
        rows.append({"kind": kind, "units": units, "look_back": look_back,
                     "epochs": epochs if kind == "training" else None,
                     "samples": samples if kind == "sampling" else None, **res})
    return rows


def measure_table4(db, *, count: int = 3, epochs: int | None = None, threads: int | None = None,
                   where: dict | None = None, seed: int = 0, progress=None) -> int:
    """Measure Table 4 for ``count`` trained architectures of ``db`` and store the results.

    Architectures are picked with :func:`mae_ort.study.validation.pick_rows` (spread over
    the depths present) among those not yet measured with ``epochs``; training
    uses the stored training settings and data, sampling the screened row's
    settings.  Returns the number of architectures measured now.
    """
    import pandas as pd

    from ..model.architecture import Architecture
    from .validation import joined, load_costs, pick_rows, save_costs

    count = check_int(count, "count", "measure_table4", low=1)
    df = joined(db, **(where or {}))
    if df.empty:
        raise MaeOrtError(f"{db}: no trained architectures to measure; run `mae-ort validate --db {db}` first")
    epochs = int(df.max_epochs.max()) if epochs is None else check_int(epochs, "epochs", "measure_table4", low=1)
    costs = load_costs(db)
    measured = set(costs[(costs.kind == "training") & (costs.epochs == epochs)].sampling_id.dropna().astype(int))
    rows = df.drop_duplicates("sampling_id")
    rows = rows[~rows.sampling_id.isin(measured)]
    depths = sorted(set(int(d) for d in rows.depth))
    already = len(measured & set(df.sampling_id.astype(int)))
    want = max(0, count - already)
    if not want or rows.empty:
        return 0
    per = max(1, math.ceil(want / max(1, len(depths))))
    chosen = pd.concat([pick_rows(rows[rows.depth == d], min(per, int((rows.depth == d).sum())), seed=seed)
                        for d in depths]).head(want)
    done = 0
    for r in chosen.itertuples():
        split = json.loads(r.split)
        spec = split.get("spec") or {}
        if not spec:
            raise MaeOrtError("the trained rows do not say how to rebuild their data (a split built by hand); "
                              "Table 4 needs a sine or CSV split")
        arch = Architecture.from_row(r).to_dict()
        sampling = {"threshold": float(r.threshold), "lower": float(r.lower), "upper": float(r.upper),
                    "fit": r.fit, "init": r.init}
        res = measure_costs(spec, arch, look_back=int(r.look_back), epochs=epochs, samples=int(r.samples),
                            seed=int(r.seed), settings=json.loads(r.train_settings), sampling=sampling,
                            threads=threads)
        save_costs(db, res, sampling_id=int(r.sampling_id))
        done += 1
        if progress is not None:
            t, s_ = res
            progress(done, len(chosen), f"{r.cell}[{r.units}] lb={r.look_back}: training {t['process_seconds']:.1f} s "
                                        f"{t['peak_rss_bytes'] / 1e6:.0f} MB, sampling {s_['process_seconds']:.1f} s "
                                        f"{s_['peak_rss_bytes'] / 1e6:.0f} MB")
    return done


# -- the report -----------------------------------------------------------------------------
def _table4_markdown(costs, trained, sampled_seconds) -> str:
    lines = ["| | process | wall time (s) | job time (s) | peak RSS (MB) | paper: time (s) | paper: memory (MB) |",
             "|---|---|---|---|---|---|---|"]
    if costs is not None and len(costs):
        for kind in ("training", "sampling"):
            c = costs[costs.kind == kind]
            if not len(c):
                continue
            what = (f"{kind} ({', '.join(str(int(e)) for e in sorted(set(c.epochs)))} epochs)" if kind == "training"
                    else f"{kind} ({int(c.samples.max())} samples)")
            lines.append(f"| {what} | measured, mean of {len(c)} | {c.process_seconds.mean():.1f} | "
                         f"{c.work_seconds.mean():.2f} | {c.peak_rss_bytes.mean() / 1e6:.0f} | "
                         f"{PAPER_TABLE4[kind]['seconds']:.0f} | {PAPER_TABLE4[kind]['mb']:.0f} |")
    paper = {k: f"{v['seconds']:.0f} | {v['mb']:.0f}" for k, v in PAPER_TABLE4.items()}
    if trained is not None:
        lines.append(f"| training, validation runs | mean over trained architectures (largest budget) | – | "
                     f"{trained:.2f} | – | {paper['training']} |")
    if sampled_seconds is not None:
        lines.append(f"| sampling, screening runs | mean over the same architectures | – | {sampled_seconds:.2f} "
                     f"| – | {paper['sampling']} |")
    return "\n".join(lines)


def write_report(db, out, *, test_mode: str = "one-step", title: str | None = None, notes: str | None = None,
                 where: dict | None = None, paper: bool = True) -> Path:
    """Write the report of a database's trained architectures into folder ``out``.

    Parameters
    ----------
    db : str or Path
        The database with sampling rows and trained rows.
    out : str or Path
        Output folder (created).
    test_mode : {'one-step', 'recursive'}
        Which trained test MAE to correlate.
    title, notes : str, optional
        A heading and a paragraph of notes (e.g. the scale of the run) for ``README.md``.
    where : dict, optional
        Filters passed to :func:`mae_ort.study.validation.joined`.
    paper : bool
        Put the paper's numbers beside ours and list the differences (for the
        paper's sine); ``False`` for other series.

    Returns
    -------
    Path
        The ``README.md`` written.

    Raises
    ------
    MaeOrtError
        No trained rows; the database cannot be read.
    """

    from .validation import joined, load_costs

    test_mode = check_option(test_mode, "test_mode", "write_report", ("one-step", "recursive"))
    df = joined(db, **(where or {}))
    if df.empty:
        raise MaeOrtError(f"{db}: no trained architectures yet; run `mae-ort validate --db {db}` first")
    runs = df[["split_key", "train_key", "seed"]].drop_duplicates()
    if df.duplicated(["sampling_id", "epochs"]).any():
        listing = "; ".join(f"--split-key {a} --train-key {b} --seed {c}" for a, b, c in runs.itertuples(index=False))
        raise MaeOrtError(f"{db}: some architectures were trained more than once (other data, settings or seeds); "
                          f"choose one run: {listing}")
    mae = "test_mae" if test_mode == "one-step" else "test_mae_recursive"
    if not np.isfinite(df[mae].to_numpy(dtype=float)).any():
        raise MaeOrtError(f"{db}: no {test_mode} test MAE recorded (recursive needs the inputs to be the targets)")
    df = add_fits(df)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    corr = correlations(df, mae=mae)
    corr.to_csv(out / "correlations.csv", index=False)
    keep = [c for c in df.columns if c != "maes"]
    df[keep].to_csv(out / "trained.csv", index=False)
    figures = []
    for depth in sorted(set(int(d) for d in df.depth)):
        figures.append(scatter(df, depth, out / f"scatter-depth{depth}.png", mae=mae))
    costs = load_costs(db)
    if len(costs):
        costs.to_csv(out / "table4.csv", index=False)
    big = df[df.epochs == df.epochs.max()]
    trained_s = float(big.train_seconds.mean()) if "train_seconds" in big and len(big) else None
    sampled_s = None
    if "sample_seconds" in df and np.isfinite(df.sample_seconds.to_numpy(dtype=float)).any():
        sampled_s = float(df.drop_duplicates("sampling_id").sample_seconds.mean())

    v = library_versions()
    lines = [f"# {title or 'Validation report: sampled statistics vs trained MAE'}", ""]
    lines += [f"- Date: {_dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
              f"- Machine: {machine_line()}",
              "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
              f"- Database: `{Path(db).name}`; test MAE: {test_mode}; "
              f"{df.sampling_id.nunique()} trained architecture(s), budgets "
              + ", ".join(map(str, sorted(set(df.epochs)))),
              ""]
    settings = sorted(set(df.train_settings)) if "train_settings" in df else []
    if settings:
        lines += ["Training settings: " + "; ".join(f"`{s}`" for s in settings), ""]
    if notes:
        lines += [notes.strip(), ""]
    lines += ["Correlations with the trained test MAE (r: Pearson, ρ: Spearman; the paper reports Pearson r only). "
              "*log p* is the reference implementation's (moments fit, floored at log 1e-300), *log p exact* the "
              "same fit computed in log space, *log p mle* the maximum-likelihood fit; all from the same stored MAEs. "
              "A useful predictor has a **negative** correlation for log p (more probable good random networks, "
              "lower trained error); the paper found negative ones for Mean and Sd too. "
              "MAE mean and sd are those of the trained test MAE over the trained architectures.", ""]
    for depth in sorted(set(int(d) for d in corr.depth)):
        heading = f"## {depth}-layer study" + (f" (paper's Table {depth})" if paper and depth <= 3 else "")
        n = int(corr[corr.depth == depth].n.max())
        lines += [heading, "", study_table(corr, depth, paper=paper), ""]
        if n >= 4:
            lines += [f"With n = {n} architectures, |r| below {_critical_r(n):.2f} is not significant at the 5 % "
                      "level (two-sided).", ""]
        lines += [f"![scatter](scatter-depth{depth}.png)", ""]
    if paper:
        diff = differences(corr)
        lines += ["## Where our numbers differ from the paper's", ""]
        lines += [f"- {d}" for d in diff] if diff else ["- Within 0.2 of the paper everywhere, with the same signs."]
        lines += [""]
    lines += ["## Table 4: time and memory per architecture", "",
              _table4_markdown(costs if len(costs) else None, trained_s, sampled_s), "",
              "Wall time is the whole process (imports included); job time is the training or sampling call alone; "
              "peak RSS is the process's maximum resident set size (`VmHWM`).", ""]
    lines += ["Files: `correlations.csv` (all correlations, long form), `trained.csv` (joined data), "
              + ("`table4.csv`, " if len(costs) else "") + ", ".join(f"`{p.name}`" for p in figures) + ".", ""]
    path = out / "README.md"
    path.write_text("\n".join(lines))
    return path
