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

Table 4 is measured by :func:`mae_ort.study.jobs.measure_costs`: each training and each sampling runs
in a fresh Python process whose wall time and peak resident set size (``VmHWM`` on
Linux, else ``ru_maxrss``) are read, so the figures include what the process imports (TensorFlow for
training, onnxruntime/Numba for sampling), as the paper's did.
"""

from __future__ import annotations

import datetime as _dt
import json
import math
from pathlib import Path

import numpy as np

from .._checks import check_option
from .._files import atomic_path, write_atomic
from .._system import library_versions, machine_line
from ..errors import MaeOrtError
from ..model.architecture import MODEL_FIELDS
from .figures import scatter, scatter_scores

__all__ = [
    "PAPER",
    "PAPER_TABLE4",
    "STATISTICS",
    "add_fits",
    "correlations",
    "study_table",
    "differences",
    "forecast_verdict",
    "write_report",
]

#: The paper's Tables 1-3: ``(layers, epochs) -> (r Mean, r Sd, r log p, mean MAE, sd MAE)``
#: (Pearson correlations with the MAE after training; Camero, Toutouh and Alba, 2018, Tables 1-3).
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
    column.  Returns a new DataFrame.  Rows of one sampling row (``scored_id``: one per trained
    budget and seed) are fitted once.
    """
    import warnings

    from ..sampling.stats import fit_truncnorm

    df = df.copy()
    cols = {"log_p": [], "log_p_exact": [], "log_p_mle": []}
    fitted: dict = {}
    for row in df.itertuples(index=False):
        maes = getattr(row, "maes", None)
        ok = maes is not None and not (isinstance(maes, float) and math.isnan(maes)) and len(maes) >= 2
        if ok:
            key = getattr(row, "scored_id", None)
            got = fitted.get(key) if key is not None else None
            if got is None:
                x = np.asarray([np.nan if v is None else v for v in maes], dtype=np.float64)
                kw = dict(threshold=float(row.threshold), lower=float(row.lower), upper=float(row.upper))
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    m = fit_truncnorm(x, fit="moments", **kw)
                    e = fit_truncnorm(x, fit="mle", **kw)
                got = (m.log_p, m.log_p_exact, e.log_p)
                if key is not None:
                    fitted[key] = got
            for name, value in zip(cols, got):
                cols[name].append(value)
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


# -- the report -----------------------------------------------------------------------------
def _table4_markdown(costs, trained, sampled_seconds, *, paper: bool = True) -> str:
    """Table 4 as markdown; ``paper=False`` (a series other than the paper's sine) leaves out the paper's
    columns, which measured its sine networks."""
    head = "| | process | wall time (s) | job time (s) | peak RSS (MB) |"
    lines = [head + (" paper: time (s) | paper: memory (MB) |" if paper else ""),
             "|---|---|---|---|---|" + ("---|---|" if paper else "")]
    paper_cols = {k: f" {v['seconds']:.0f} | {v['mb']:.0f} |" if paper else "" for k, v in PAPER_TABLE4.items()}
    if costs is not None and len(costs):
        for kind in ("training", "sampling"):
            c = costs[costs.kind == kind]
            if not len(c):
                continue
            what = (f"{kind} ({', '.join(str(int(e)) for e in sorted(set(c.epochs)))} epochs)" if kind == "training"
                    else f"{kind} ({int(c.samples.max())} samples)")
            lines.append(f"| {what} | measured, mean of {len(c)} | {c.process_seconds.mean():.1f} | "
                         f"{c.work_seconds.mean():.2f} | {c.peak_rss_bytes.mean() / 1e6:.0f} |" + paper_cols[kind])
    if trained is not None:
        lines.append(f"| training, validation runs | mean over trained architectures (largest budget) | – | "
                     f"{trained:.2f} | – |{paper_cols['training']}")
    if sampled_seconds is not None:
        lines.append(f"| sampling, screening runs | mean over the same architectures | – | {sampled_seconds:.2f} "
                     f"| – |{paper_cols['sampling']}")
    return "\n".join(lines)


#: The sampling settings of the paper (its comparison is drawn only beside rows sampled with them).
PAPER_SETTINGS = {"cell": "lstm", "activation": "tanh", "recurrent_activation": "hard_sigmoid_keras2",
                  "head_activation": "tanh", "samples": 100, "threshold": 0.01, "lower": 0.0, "upper": 2.0,
                  "fit": "moments", "init": "normal:0,1"}

#: Scores of the report, in table order: column -> label.  ``log_p`` is the canonical (exact,
#: log-space) value; ``log_p_floored`` the reference implementation's (kept in the CSV).
SCORES = {
    "log_p": "log p", "mean": "Mean", "sd": "Sd", "min": "min MAE", "q05": "MAE q5", "q10": "MAE q10",
    "log_p_mle": "log p (mle)", "hidden_cov": "hidden covariance (layer 1)", "naswot": "activation patterns (NASWOT)",
    "n_weights": "parameters", "readout": "readout", "readout_window": "readout on [1; window; state]",
    "readout_keras": "readout (Keras init)",
    "lookback_ridge": "look-back ridge",
}


def paper_mismatch(df) -> list[str]:
    """The sampling settings in which ``df``'s rows differ from the paper's (empty: comparable)."""
    out = []
    for col, want in PAPER_SETTINGS.items():
        if col not in df.columns:
            continue
        have = sorted(set(df[col].dropna().tolist()), key=str)
        if have != [want] and not (isinstance(want, float) and have and all(abs(float(h) - want) < 1e-12
                                                                            for h in have)):
            out.append(f"{col} {', '.join(map(str, have))} (paper: {want})")
    if "series" in df.columns and set(df.series) != {"sine"}:
        out.append(f"series {', '.join(sorted(set(df.series)))} (paper: the sine)")
    return out


def score_frame(fits, *, mae: str = "test_mae", forward: bool = True):
    """One row per trained architecture, trainer and budget, with every score and the trained MAE.

    ``fits`` is the joined data with its fits recomputed (:func:`add_fits`).  Scores
    (:data:`mae_ort.sampling.scores.SCORES`): from the stored MAEs (``log_p`` exact,
    ``log_p_floored``, ``log_p_mle``, ``mean``, ``sd``, ``min``, ``q05``, ``q10``), the parameter
    count and, with ``forward``, the scores of one extra forward pass of the row's first weight
    sample (``hidden_cov``, ``hidden_cov_l{k}``, ``naswot``) and the echo-state readout scores
    (``readout`` on the row's own weight samples, ``readout_keras``, ``lookback_ridge``), computed by
    :func:`mae_ort.sampling.scores.scores_of` on the training part the row was sampled on.
    Repeated trainings (several seeds, ``validate --repeats``) are summarised by their **median** in
    ``mae`` and counted in ``repeats``; ``mae_seeds`` keeps every seed's MAE (JSON ``{"seed": mae}``), from
    which :func:`ceilings` measures the trainer's noise.
    """
    from ..data import split_from_spec
    from ..model.architecture import Architecture
    from ..sampling.scores import READOUT_SCORES, scores_of
    from ..sampling.settings import SamplingSettings

    f = fits.copy()
    f["log_p_floored"] = f["log_p"]
    f["log_p"] = f["log_p_exact"]
    extra: dict[int, dict] = {}
    splits: dict[str, object] = {}
    for r in f.drop_duplicates("scored_id").itertuples():
        arch = Architecture.from_row(r)
        maes = np.asarray([np.nan if v is None else v for v in r.maes], dtype=np.float64)
        settings = SamplingSettings(samples=len(maes), threshold=r.threshold, lower=r.lower, upper=r.upper,
                                    fit=r.fit, init=r.init, seed=int(r.sample_seed),
                                    seeding=int(getattr(r, "seeding", 1)),
                                    target_form=str(getattr(r, "target_form", "level")))
        spec = (json.loads(r.split) or {}).get("spec") or {}
        key = json.dumps(spec, sort_keys=True)
        if key not in splits:
            try:
                splits[key] = split_from_spec(spec) if spec else None
            except MaeOrtError:  # the data moved (a copied database): the scores of the stored MAEs only
                splits[key] = None
        split = splits[key]
        names = ["min", "q05", "q10", "n_weights"] + (["hidden_cov", "naswot"] if forward and split else [])
        names += [f"hidden_cov_l{k}" for k in range(2, arch.depth + 1)] if forward and split else []
        names += list(READOUT_SCORES) if forward and split else []
        if split is not None:
            win = split.train_windows(int(r.look_back), settings.target_form)
            sc = scores_of(arch, win, maes, settings=settings, which=names)
        else:  # a split built by hand: the MAE scores only
            from ..data import Windows

            win = Windows(np.zeros((1, int(r.look_back), 1), np.float32), np.zeros((1, 1), np.float32))
            sc = scores_of(arch, win, maes, settings=settings, which=["min", "q05", "q10", "n_weights"])
        extra[int(r.scored_id)] = dict(sc)
    for name in sorted({k for d in extra.values() for k in d}):
        f[name] = [extra[int(i)].get(name, np.nan) for i in f.scored_id]
    f["trainer"] = _trainer_labels(f)
    keys = ["trainer", "train_key", "depth", "epochs", "sampling_id"]
    f = f.sort_values(keys + ["seed"]).reset_index(drop=True)
    g = f.groupby(keys, sort=True)
    out = g.first().reset_index()
    by_arch = _over_seeds(f, keys, mae)
    drop = [c for c in ("mae", "repeats", "mae_seeds") if c in out]
    return out.drop(columns=drop).merge(by_arch, on=keys, how="left")


def _trainer_labels(f) -> list[str]:
    """Each row's trainer name (:meth:`TrainSettings.trainer`), suffixed with its key where two settings share one."""
    names = {k: _trainer_name(t) for k, t in zip(f.train_key, f.train_settings)}
    shared = {n for n in names.values() if sum(1 for m in names.values() if m == n) > 1}
    return [names[k] if names[k] not in shared else f"{names[k]}-{k[:6]}" for k in f.train_key]


def _over_seeds(f, keys: list[str], mae: str):
    """Per group of ``keys`` (one architecture, trainer and budget): the median of ``mae`` over its seeds
    (``mae``), how many seeds (``repeats``) and every seed's value (``mae_seeds``, JSON)."""
    import pandas as pd

    rows = []
    for key, g in f.groupby(keys, sort=True):
        v = g[mae].to_numpy(dtype=np.float64)
        fin = v[np.isfinite(v)]
        rows.append(dict(zip(keys, key), mae=float(np.median(fin)) if fin.size else math.nan, repeats=int(fin.size),
                         mae_seeds=json.dumps({str(int(sd)): (float(x) if math.isfinite(x) else None)
                                               for sd, x in zip(g.seed, v)})))
    return pd.DataFrame(rows, columns=keys + ["mae", "repeats", "mae_seeds"])


def _paper_first(groups):
    """Groups keyed by (trainer, ...), the paper trainer's first, then by name and the rest of the key."""
    return sorted(groups, key=lambda kv: (kv[0][0] != "paper", kv[0]))


def _paper_style_rows(fits, sf, mae: str = "test_mae"):
    """The rows of the paper-style tables: one trainer (``paper`` when present, else the first by name) and one
    row per architecture and budget (its first seed's row), whose ``mae`` column is the median over its seeds
    (the first seed's value when it was trained once, as the paper trained each architecture)."""
    labels = dict(zip(sf.train_key, sf.trainer))
    fits = fits.assign(trainer=[labels.get(k, "custom") for k in fits.train_key])
    names = sorted(set(fits.trainer), key=lambda n: (n != "paper", n))
    mine = fits[fits.trainer == names[0]]
    median = mine.groupby(["sampling_id", "epochs"])[mae].transform("median")
    one = mine.assign(**{mae: median})
    one = one[one.seed == one.groupby("sampling_id").seed.transform("min")].reset_index(drop=True)
    one.attrs["trainer"] = names[0]
    return one


def _trainer_name(settings_json: str) -> str:
    from .train import TrainSettings

    try:
        return TrainSettings(**json.loads(settings_json)).trainer()
    except Exception:  # settings of another version: unnamed
        return "custom"


def _within(x: np.ndarray, y: np.ndarray, groups: np.ndarray, method: str):
    """Ranks (or values, for Pearson) centred within each group: the association left once groups are removed."""
    from scipy.stats import rankdata

    xs, ys = np.array(x, dtype=np.float64), np.array(y, dtype=np.float64)
    ok = np.isfinite(xs) & np.isfinite(ys)
    xs, ys, groups = xs[ok], ys[ok], np.asarray(groups)[ok]
    for gv in np.unique(groups):
        m = groups == gv
        if method != "pearson":
            xs[m], ys[m] = rankdata(xs[m]), rankdata(ys[m])
        xs[m] -= xs[m].mean()
        ys[m] -= ys[m].mean()
    return xs, ys


def evidence(sf, *, scores=None, boot: int = 1000, seed: int = 0):
    """Correlations of every score with the trained MAE, pooled and within look-back, with 95 % intervals.

    Returns
    -------
    DataFrame
        Long form: ``trainer, depth, epochs, score, scope`` (``pooled``, ``within look-back``
        or ``look-back L``), ``method``, ``value``, ``low``, ``high``, ``n``, ``good``
        (``value * direction``: negative when the score points the right way).
    """
    import pandas as pd

    from .evidence import bootstrap_correlation, direction

    scores = [c for c in (scores or SCORES) if c in sf.columns and np.isfinite(sf[c].to_numpy(dtype=float)).any()]
    rows = []
    for (trainer, depth, epochs), g in _paper_first(sf.groupby(["trainer", "depth", "epochs"], sort=True)):
        y = g["mae"].to_numpy(dtype=float)
        for s in scores:
            x = g[s].to_numpy(dtype=float)
            d = direction(s)
            base = dict(trainer=trainer, depth=int(depth), epochs=int(epochs), score=s)
            for method in ("pearson", "spearman", "kendall"):
                v, lo, hi, n = bootstrap_correlation(x, y, method, boot=boot, seed=seed)
                rows.append(dict(base, scope="pooled", method=method, value=v, low=lo, high=hi, n=n, good=v * d))
            if g.look_back.nunique() > 1:  # Spearman of the ranks centred within each look-back
                xs, ys = _within(x, y, g.look_back.to_numpy(), "spearman")
                v, lo, hi, n = bootstrap_correlation(xs, ys, "pearson", boot=boot, seed=seed)
                rows.append(dict(base, scope="within look-back", method="spearman", value=v, low=lo, high=hi, n=n,
                                 good=v * d))
                for lb, h in g.groupby("look_back"):
                    v, lo, hi, n = bootstrap_correlation(h[s], h["mae"], "spearman", boot=boot, seed=seed)
                    rows.append(dict(base, scope=f"look-back {int(lb)}", method="spearman", value=v, low=lo,
                                     high=hi, n=n, good=v * d))
    return pd.DataFrame(rows, columns=["trainer", "depth", "epochs", "score", "scope", "method", "value", "low",
                                       "high", "n", "good"])


def decisions(sf, *, scores=None, ks=(1, 3, 5)):
    """The decision view of every score (see :func:`mae_ort.study.evidence.decision_view`), long form."""
    import pandas as pd

    from .evidence import decision_view, direction

    scores = [c for c in (scores or SCORES) if c in sf.columns and np.isfinite(sf[c].to_numpy(dtype=float)).any()]
    rows = []
    for (trainer, depth, epochs), g in _paper_first(sf.groupby(["trainer", "depth", "epochs"], sort=True)):
        for s in scores:
            for d in decision_view(g[s], g["mae"], direction=direction(s), ks=ks):
                rows.append(dict(trainer=trainer, depth=int(depth), epochs=int(epochs), score=s, **d))
    return pd.DataFrame(rows)


def seed_matrix(g):
    """Architectures x seeds: the trained MAE of each row of ``g`` (a :func:`score_frame` group) with each seed."""
    per = [{int(k): (np.nan if v is None else float(v)) for k, v in json.loads(t).items()} for t in g.mae_seeds]
    seeds = sorted({k for d in per for k in d})
    return np.array([[d.get(sd, np.nan) for sd in seeds] for d in per], dtype=np.float64).reshape(len(per),
                                                                                               len(seeds))


def ceilings(sf, *, boot: int = 1000, seed: int = 0):
    """The trainer's noise ceiling per trainer, depth and budget: the mean Spearman (and Kendall) agreement of
    the architectures' rankings by two seeds, over all seed pairs, with a bootstrap interval over architectures
    (:func:`mae_ort.study.evidence.noise_ceiling`); studies with at least 3 architectures trained twice."""
    import pandas as pd

    from .evidence import noise_ceiling

    rows = []
    for (trainer, depth, epochs), g in _paper_first(sf.groupby(["trainer", "depth", "epochs"], sort=True)):
        m = seed_matrix(g)
        if m.shape[1] >= 2 and (np.isfinite(m).sum(axis=1) >= 2).sum() >= 3:
            c = noise_ceiling(m, boot=boot, seed=seed)
            if c["pairs"]:
                rows.append(dict(trainer=trainer, depth=int(depth), epochs=int(epochs), **c))
    return pd.DataFrame(rows)


def with_ceiling(ev, ceil):
    """``ev`` (:func:`evidence`) with the study's noise ceiling beside every score: ``ceiling``,
    ``ceiling_low``, ``ceiling_high`` (Spearman, mean over seed pairs; nan where trained once)."""
    cols = ["ceiling", "ceiling_low", "ceiling_high"]
    if not len(ceil):
        return ev.assign(**{c: np.nan for c in cols})
    c = ceil[["trainer", "depth", "epochs", "spearman", "spearman_low", "spearman_high"]]
    c = c.rename(columns=dict(zip(["spearman", "spearman_low", "spearman_high"], cols)))
    return ev.merge(c, on=["trainer", "depth", "epochs"], how="left")


def _ci(v, lo, hi) -> str:
    if v is None or not math.isfinite(v):
        return "–"
    return f"{v:+.2f} [{lo:+.2f}, {hi:+.2f}]" if math.isfinite(lo) else f"{v:+.2f}"


def _pick(ev, trainer, depth, epochs, score, scope="pooled", method="spearman"):
    r = ev[(ev.trainer == trainer) & (ev.depth == depth) & (ev.epochs == epochs) & (ev.score == score)
           & (ev.scope == scope) & (ev.method == method)]
    return r.iloc[0] if len(r) else None


def verdict(ev, dec, ceil, sf, *, min_n: int = 5, baseline: dict | None = None) -> list[str]:
    """A few plain sentences per study (trainer and depth) at its largest budget; with ``baseline`` (the trivial
    predictors' test MAEs), whether the trained networks beat them."""
    lines = []
    for (trainer, depth), g in _paper_first(sf.groupby(["trainer", "depth"], sort=True)):
        e = int(g.epochs.max())
        n = int(g[g.epochs == e].sampling_id.nunique())
        head = f"**{depth}-layer study, {trainer} trainer, {e} epochs ({n} architectures)**: "
        trained = float(g[g.epochs == e].mae.mean())
        if baseline:
            from .baselines import LABELS

            best_trivial = min(v for v in baseline.values() if math.isfinite(v))
            which = min((k for k in baseline if math.isfinite(baseline[k])), key=lambda k: baseline[k])
            name = LABELS.get(which, which)
            head += (f"the networks {'beat' if trained < best_trivial else 'do not beat'} {name} on average "
                     f"(mean test MAE {trained:.4f} against {best_trivial:.4f}). ")
        if n < min_n:
            lines.append(head + f"Too few trained architectures for correlations (need {min_n}).")
            continue
        lp = _pick(ev, trainer, depth, e, "log_p")
        within = _pick(ev, trainer, depth, e, "log_p", "within look-back")
        cands = ev[(ev.trainer == trainer) & (ev.depth == depth) & (ev.epochs == e) & (ev.scope == "pooled")
                   & (ev.method == "spearman") & np.isfinite(ev.good.to_numpy(dtype=float))]
        text = head
        if lp is not None and math.isfinite(lp.value):
            sure = lp.high < 0 or lp.low > 0
            sign = ("predicts the trained MAE" if lp.value < 0 and lp.high < 0 else
                    "points the wrong way: a higher log p goes with a higher trained MAE" if lp.low > 0 else
                    "does not clearly predict the trained MAE")
            text += (f"Log p {sign} (Spearman ρ = {_ci(lp.value, lp.low, lp.high)}, 95 % bootstrap "
                     f"interval{'' if sure else ', which includes 0'})")
            if within is not None and math.isfinite(within.value):
                text += f"; within look-back ρ = {_ci(within.value, within.low, within.high)}"
            text += ". "
        if len(cands):
            best = cands.sort_values("good").iloc[0]
            text += (f"The best-ranking score is {SCORES.get(best.score, best.score)} "
                     f"(ρ = {_ci(best.value, best.low, best.high)})")
            db = dec[(dec.trainer == trainer) & (dec.depth == depth) & (dec.epochs == e)
                     & (dec.score == best.score)] if len(dec) else dec
            if len(db):
                tops = ", ".join(f"top {int(r.k)} {r.picked_best:.4f}" for r in db.sort_values("k").itertuples())
                r0 = db.iloc[0]
                text += (f"; training its picks gives a best MAE of {tops}, against {r0.best:.4f} for the best of "
                         f"all (a random pick of 5: {float(db[db.k == db.k.max()].random_mean.iloc[0]):.4f})")
            text += ". "
        c = ceil[(ceil.trainer == trainer) & (ceil.depth == depth) & (ceil.epochs == e)] if len(ceil) else ceil
        if len(c):
            c = c.iloc[0]
            text += (f"Noise ceiling: the rankings by two seeds agree at ρ = "
                     f"{_ci(c.spearman, c.spearman_low, c.spearman_high)} (mean over {int(c.pairs)} seed "
                     f"pair{'s' if int(c.pairs) > 1 else ''}, n = {int(c.n)}). ")
        d = dec[(dec.trainer == trainer) & (dec.depth == depth) & (dec.epochs == e) & (dec.score == "log_p")
                & (dec.k == 5)] if len(dec) else dec
        if len(d):
            d = d.iloc[0]
            text += (f"Training the top 5 by log p gives a best MAE of {d.picked_best:.4f}, against {d.best:.4f} "
                     f"for the best of all and {d.random_mean:.4f} ± {d.random_sd:.4f} for 5 picked at random.")
        lines.append(text.strip())
    return lines


def forecast_verdict(sf, baselines) -> list[str]:
    """Per study (trainer and depth) at its largest budget: whether the best trained network (its median test MAE over
    the seeds) beats each baseline and by how much, and the scale-free error: the best network's and the median
    network's test MAE relative to persistence's (below 1: better than "the next value is the last one").

    ``sf`` is :func:`score_frame`'s; ``baselines`` :func:`mae_ort.study.baselines.evaluate`'s.  The linear
    autoregression is taken at its best look-back among the study's (the strongest one a forecaster would fit) and
    at the best network's own look-back.  Empty without baselines.
    """
    from .baselines import LABELS

    fixed = [b for b in baselines if b.look_back is None and math.isfinite(b.test_mae)]
    if not baselines:
        return []
    pers = next((b.test_mae for b in fixed if b.name == "persistence"), math.nan)
    lines = []
    for (trainer, depth), g in _paper_first(sf.groupby(["trainer", "depth"], sort=True)):
        g = g[(g.epochs == g.epochs.max()) & np.isfinite(g.mae.to_numpy(dtype=float))]
        head = f"**{int(depth)}-layer study, {trainer} trainer, forecast quality**: "
        if not len(g):
            lines.append(head + "no network finished training.")
            continue
        best = g.loc[g.mae.idxmin()]
        seeds = int(best.repeats) if "repeats" in g else 1
        arch = f"units {best.units}, look-back {int(best.look_back)}" if "units" in g else ""
        text = (head + f"the best trained network ({arch}; median over {seeds} seed{'s' if seeds != 1 else ''}) "
                f"has test MAE {best.mae:.4f}")
        cmp = [(LABELS.get(b.name, b.name) + (f" [{b.model}]" if b.name in ("ets", "arima") else ""), b.test_mae)
               for b in fixed]
        ridge = [b for b in baselines if b.name == "ridge_ar" and math.isfinite(b.test_mae)
                 and b.look_back in set(int(v) for v in g.look_back)]
        if ridge:
            rb = min(ridge, key=lambda b: b.test_mae)
            cmp.append((f"the linear autoregression at its best look-back ({rb.look_back})", rb.test_mae))
            own = [b for b in ridge if b.look_back == int(best.look_back)]
            if own and own[0].look_back != rb.look_back:
                cmp.append((f"the linear autoregression at the network's look-back ({own[0].look_back})",
                            own[0].test_mae))
        parts = [f"{'beats' if best.mae < v else 'does not beat'} {name} ({v:.4f}, "
                 f"{100 * (best.mae - v) / v:+.1f} %)" for name, v in cmp if v > 0]
        text += ("; it " + "; ".join(parts)) if parts else ""
        if math.isfinite(pers) and pers > 0:
            text += (f". Relative to persistence (MAE / persistence's MAE): best network {best.mae / pers:.3f}, "
                     f"median network {float(g.mae.median()) / pers:.3f}")
        lines.append(text + ".")
    return lines


def write_report(db, out, *, test_mode: str = "one-step", title: str | None = None, notes: str | None = None,
                 where: dict | None = None, paper: bool = True, boot: int = 1000, model: dict | None = None,
                 season: int | None = None) -> Path:
    """Write the report of a database's trained architectures into folder ``out``.

    Parameters
    ----------
    db : str or Path
        The database with sampling rows and trained rows.
    out : str or Path
        The folder (created); ``README.md``, CSV files and PNG plots are written there.
    test_mode : {'one-step', 'recursive'}
        Which trained test MAE to correlate.
    title, notes : str, optional
        A heading and a paragraph of notes (e.g. the scale of the run) for ``README.md``.
    where : dict, optional
        Filters passed to :func:`mae_ort.study.validation.joined`.
    paper : bool
        Put the paper's numbers beside ours, where the rows were sampled with the paper's
        settings (the report says so otherwise); ``False`` for other series.
    boot : int
        Bootstrap resamples of every interval.
    model : dict, optional
        Only the trained rows of this model (fields of :data:`mae_ort.model.MODEL_FIELDS`); rows of
        several models without it are refused.
    season : int, optional
        The season of the forecasting baselines (:mod:`mae_ort.study.baselines`); default the one
        stored by ``validate --season``.

    Returns
    -------
    Path
        The ``README.md`` written.

    Raises
    ------
    MaeOrtError
        No trained rows; the database cannot be read.
    """
    from .evidence import direction
    from .validation import joined, load_costs

    test_mode = check_option(test_mode, "test_mode", "write_report", ("one-step", "recursive"))
    df = joined(db, **(where or {}))
    if df.empty:
        raise MaeOrtError(f"{db}: no trained architectures yet; run `mae-ort validate --db {db}` first")
    for field, value in (model or {}).items():
        df = df[df[field] == value]
    models = df[list(MODEL_FIELDS)].drop_duplicates()
    if df.empty:
        raise MaeOrtError(f"{db}: no trained architectures of the model {model}")
    if len(models) > 1:
        listing = "; ".join("/".join(m) for m in models.itertuples(index=False))
        raise MaeOrtError(f"{db}: the trained rows hold {len(models)} models (cell/activation/gates/head: {listing}); "
                          "report one with --preset, --cell, --activation, --recurrent-activation or "
                          "--head-activation")
    df = df.reset_index(drop=True)
    mae = "test_mae" if test_mode == "one-step" else "test_mae_recursive"
    if not np.isfinite(df[mae].to_numpy(dtype=float)).any():
        raise MaeOrtError(f"{db}: no {test_mode} test MAE recorded (recursive needs the inputs to be the targets)")
    if df.groupby(["sampling_id", "train_key", "epochs"]).split_key.nunique().max() > 1:
        listing = "; ".join(f"--split-key {k}" for k in sorted(set(df.split_key)))
        raise MaeOrtError(f"{db}: some architectures were trained on different data; choose one: {listing}")
    mismatch = paper_mismatch(df)
    show_paper = paper and not mismatch
    baselines = _baselines(df, season)  # before any file: a bad season writes nothing
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    fitted = add_fits(df)  # the fits (an MLE per row) once, for the scores and the paper-style tables
    sf = score_frame(fitted, mae=mae)
    ev = evidence(sf, boot=boot)
    dec = decisions(sf)
    ceil = ceilings(sf, boot=boot)
    ev = with_ceiling(ev, ceil)
    _csv(ev, out / "evidence.csv")
    _csv(dec, out / "decisions.csv")
    if len(ceil):
        _csv(ceil, out / "noise_ceiling.csv")
    if baselines:
        import pandas as pd

        from .baselines import as_records

        _csv(pd.DataFrame(as_records(baselines)), out / "baselines.csv")
    keep = [c for c in sf.columns if c != "maes"]
    _csv(sf[keep], out / "trained.csv")
    fits = _paper_style_rows(fitted, sf, mae)
    corr = correlations(fits, mae=mae)
    _csv(corr, out / "correlations.csv")

    figures = []
    for (trainer, depth), g in _paper_first(sf.groupby(["trainer", "depth"], sort=True)):
        name = f"scatter-{trainer}-depth{int(depth)}.png"
        figures.append(scatter_scores(g, out / name, title=f"{int(depth)}-layer study, {trainer} trainer"))
    for depth in sorted(set(int(d) for d in fits.depth)):  # the paper-style figure (one trainer, one seed)
        figures.append(scatter(fits, depth, out / f"scatter-depth{depth}.png", mae=mae))
    costs = load_costs(db)
    if len(costs):
        _csv(costs, out / "table4.csv")
    big = df[df.epochs == df.epochs.max()]
    trained_s = float(big.train_seconds.mean()) if "train_seconds" in big and len(big) else None
    sampled_s = None
    if "sample_seconds" in df and np.isfinite(df.sample_seconds.to_numpy(dtype=float)).any():
        sampled_s = float(df.drop_duplicates("sampling_id").sample_seconds.mean())

    v = library_versions()
    lines = [f"# {title or 'Validation report: does the training-free score pick networks that train well?'}", ""]
    lines += [f"- Date: {_dt.datetime.now().astimezone().strftime('%Y-%m-%d %H:%M %Z')}",
              f"- Machine: {machine_line()}",
              "- Versions: " + ", ".join(f"{k} {val}" for k, val in v.items()),
              f"- Database: `{Path(db).name}`; test MAE: {test_mode}; "
              f"{df.sampling_id.nunique()} trained architecture(s), trainers "
              + ", ".join(sorted(set(sf.trainer))) + "; budgets " + ", ".join(map(str, sorted(set(df.epochs)))),
              ""]
    if notes:
        lines += [notes.strip(), ""]
    lines += ["## Verdict", ""]
    lines += [f"- {t}" for t in forecast_verdict(sf, baselines)]
    trivial = {b.name: b.test_mae for b in baselines if b.look_back is None} or None
    lines += [f"- {t}" for t in verdict(ev, dec, ceil, sf, baseline=trivial)] + [""]
    higher = [SCORES[k] for k in SCORES if direction(k) > 0 and k in set(ev.score)]
    lower = [SCORES[k] for k in SCORES if direction(k) < 0 and k in set(ev.score)]
    lines += ["Correlations are with the trained test MAE. Each score has a direction "
              "(`mae_ort.sampling.scores.SCORES`): a score that works has a **negative** ρ where larger should "
              f"train better ({', '.join(higher)}; for Mean and Sd that is the paper's finding, its negative "
              "correlations)" + (f" and a **positive** one where smaller should ({', '.join(lower)})" if lower else "")
              + ". Intervals are 95 % percentile bootstrap intervals over architectures "
              f"({boot} resamples). *Within look-back* removes the look-back's own effect (Spearman of the ranks "
              "centred within each look-back), which on the sine separates the architectures by itself. log is the "
              "natural logarithm.", ""]
    if paper and mismatch:
        lines += ["The paper's numbers are not shown beside ours: these rows were not sampled with the paper's "
                  "settings (" + "; ".join(mismatch) + ").", ""]
    lines += ["## Did the networks train? (calibration)", "",
              _calibration_table(sf, baselines, df, paper=show_paper), ""]
    for (trainer, depth), g in _paper_first(sf.groupby(["trainer", "depth"], sort=True)):
        lines += [f"## {int(depth)}-layer study, {trainer} trainer", "",
                  _study_scores_table(ev, trainer, int(depth), ceil), "",
                  _decision_table(dec, trainer, int(depth)), ""]
        c = ceil[(ceil.trainer == trainer) & (ceil.depth == depth)] if len(ceil) else ceil
        if len(c):
            lines += ["Noise ceiling (the architectures' rankings by two seeds, mean over all seed pairs; "
                      "every trained MAE above is the median over the seeds): "
                      + "; ".join(f"{int(r.epochs)} epochs ρ = {_ci(r.spearman, r.spearman_low, r.spearman_high)}, "
                                  f"τ = {_ci(r.kendall, r.kendall_low, r.kendall_high)} ({int(r.seeds)} seeds, "
                                  f"n = {int(r.n)})"
                                  for r in c.itertuples()) + ".", ""]
        lines += [f"![scatter](scatter-{trainer}-depth{int(depth)}.png)", ""]
    if show_paper:
        lines += [f"## Beside the paper's Tables 1-3 (Pearson r; {fits.attrs['trainer']} trainer)", ""]
        c1 = corr
        for depth in sorted(set(int(d) for d in c1.depth)):
            lines += [f"### {depth}-layer study" + (f" (paper's Table {depth})" if depth <= 3 else ""), "",
                      study_table(c1, depth, paper=True), ""]
        diff = differences(c1)
        lines += ["### Where our numbers differ from the paper's", ""]
        lines += [f"- {d}" for d in diff] if diff else ["- Within 0.2 of the paper everywhere, with the same signs."]
        lines += [""]
    lines += ["## Table 4: time and memory per architecture", "",
              _table4_markdown(costs if len(costs) else None, trained_s, sampled_s, paper=show_paper), "",
              "Wall time is the whole process (imports included); job time is the training or sampling call alone; "
              "peak RSS is the process's maximum resident set size (`VmHWM`).", ""]
    lines += ["Files: `evidence.csv` (every correlation with its interval, long form), `decisions.csv` (top-k picks), "
              + ("`noise_ceiling.csv`, " if len(ceil) else "") + ("`baselines.csv`, " if baselines else "")
              + "`trained.csv` (one row per architecture, trainer and budget, with every score), `correlations.csv` "
              "(the paper's layout), " + ("`table4.csv`, " if len(costs) else "")
              + ", ".join(f"`{p.name}`" for p in figures) + ".", ""]
    path = out / "README.md"
    write_atomic(path, "\n".join(lines))  # the last file: a README is only there once the rest is
    return path


def _csv(frame, path: Path) -> None:
    """Write ``frame`` as CSV through a temporary file (never half-written)."""
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


def _baselines(df, season) -> list:
    """The forecasting baselines of the trained rows' data (the first split that can be rebuilt), the linear
    autoregression at every trained look-back; the season given, else the one ``validate --season`` stored."""
    from ..data import split_from_spec
    from .baselines import evaluate

    for split_json in sorted(set(df.split)):
        info = json.loads(split_json) or {}
        spec = info.get("spec") or {}
        if not spec:
            continue
        try:
            split = split_from_spec(spec)
        except MaeOrtError:  # e.g. a CSV file moved since: the report goes on without baselines
            continue
        return evaluate(split, look_backs=sorted(set(int(v) for v in df.look_back)),
                        season=info.get("season") if season is None else season, caller="report")
    return []


def _calibration_table(sf, baselines, df, *, paper: bool) -> str:
    from .baselines import RIDGE_LAMBDA, ridge_at

    ridge = bool([b for b in baselines if b.name == "ridge_ar"])
    head = ["trainer", "layers", "epochs", "n", "trained MAE mean", "sd"] + (["paper: Mean MAE"] if paper else []) \
        + (["linear AR on the same windows", "networks beating it"] if ridge else [])
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for (trainer, depth, epochs), g in _paper_first(sf.groupby(["trainer", "depth", "epochs"], sort=True)):
        ref = PAPER.get((int(depth), int(epochs)))
        cells = [trainer, str(int(depth)), str(int(epochs)), str(len(g)), _f(g.mae.mean()), _f(g.mae.std())]
        if paper:
            cells.append(_f(ref[3]) if ref else "–")
        if ridge:
            r, m = ridge_at(baselines, g.look_back), g.mae.to_numpy(dtype=float)
            ok = np.isfinite(r) & np.isfinite(m)
            cells += [_f(r[ok].mean()) if ok.any() else "–", f"{int((m[ok] < r[ok]).sum())} of {int(ok.sum())}"]
        lines.append("| " + " | ".join(cells) + " |")
    if baselines:
        fixed = [b for b in baselines if b.look_back is None]
        lines += ["", "Baselines on the same test points, one step ahead, fitted on the training part: "
                  + "; ".join(f"{b.label}" + (f" ({b.model})" if b.name in ("seasonal_naive", "ets", "arima") else "")
                              + f" → {b.test_mae:.4f}" for b in fixed if math.isfinite(b.test_mae))
                  + ". A trained network that does not beat them has not learned."]
        if ridge:
            lines += ["", f"The linear autoregression (ridge λ = {RIDGE_LAMBDA:g} on the look-back window of every "
                      "input and a constant) is matched to each network's look-back: "
                      + ", ".join(f"look-back {b.look_back} → {_f(b.test_mae, 4)}" for b in baselines
                                  if b.name == "ridge_ar") + "."]
        failed = [b for b in baselines if not math.isfinite(b.test_mae)]
        if failed:
            lines += ["", "Not fitted: " + "; ".join(f"{b.label}: {b.error}" for b in failed) + "."]
    return "\n".join(lines)


def _study_scores_table(ev, trainer, depth, ceil=None) -> str:
    g = ev[(ev.trainer == trainer) & (ev.depth == depth) & (ev.method == "spearman")]
    budgets = sorted(set(g.epochs))
    head = ["score"] + [f"{e} ep. ρ" for e in budgets] + [f"{budgets[-1]} ep. within look-back ρ"]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in [s for s in SCORES if s in set(g.score)]:
        cells = [SCORES[s]]
        for e in budgets:
            r = g[(g.score == s) & (g.epochs == e) & (g.scope == "pooled")]
            cells.append(_ci(r.value.iloc[0], r.low.iloc[0], r.high.iloc[0]) if len(r) else "–")
        r = g[(g.score == s) & (g.epochs == budgets[-1]) & (g.scope == "within look-back")]
        cells.append(_ci(r.value.iloc[0], r.low.iloc[0], r.high.iloc[0]) if len(r) else "–")
        lines.append("| " + " | ".join(cells) + " |")
    c = ceil[(ceil.trainer == trainer) & (ceil.depth == depth)] if ceil is not None and len(ceil) else None
    if c is not None and len(c):  # the trainer against itself, in the same columns: how far a score could go
        cells = ["noise ceiling: two seeds' rankings agree (|ρ| a score can hope for)"]
        for e in budgets:
            r = c[c.epochs == e]
            cells.append(_ci(r.spearman.iloc[0], r.spearman_low.iloc[0], r.spearman_high.iloc[0]) if len(r) else "–")
        lines.append("| " + " | ".join(cells + ["–"]) + " |")
    return "Spearman ρ of each score with the trained test MAE [95 % interval]:\n\n" + "\n".join(lines)


def _decision_table(dec, trainer, depth) -> str:
    g = dec[(dec.trainer == trainer) & (dec.depth == depth)]
    if not len(g):
        return ""
    e = int(g.epochs.max())
    g = g[g.epochs == e]
    ks = sorted(set(int(k) for k in g.k))
    head = ["pick the top k by"] + [f"k = {k}: best trained MAE" for k in ks]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for s in [s for s in SCORES if s in set(g.score)]:
        lines.append("| " + " | ".join([SCORES[s]] + [_f(g[(g.score == s) & (g.k == k)].picked_best.iloc[0], 4)
                                                       for k in ks]) + " |")
    any_s = g[g.score == g.score.iloc[0]]
    lines.append("| " + " | ".join(["random pick (expected ± sd)"] + [
        f"{any_s[any_s.k == k].random_mean.iloc[0]:.4f} ± {any_s[any_s.k == k].random_sd.iloc[0]:.4f}" for k in ks])
        + " |")
    lines.append("| " + " | ".join(["best of all trained"] + [_f(any_s[any_s.k == k].best.iloc[0], 4) for k in ks])
                 + " |")
    return f"Decision view at {e} epochs: the best trained MAE among the k architectures a score ranks first:\n\n" \
        + "\n".join(lines)
