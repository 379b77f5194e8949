"""The paper's figures from screening rows (matplotlib, Agg backend, PNG).

* :func:`p_vs_units` -- Fig. 2: ``p`` (or ``log p``) against the units of a one-layer
  network, one line per look-back.
* :func:`p_vs_units_2layer` -- Fig. 3: ``p`` against the units of the first layer, one
  colour per second-layer width, one panel per look-back.
* :func:`heatmap` -- ``log p`` (or any numeric column) over two chosen axes, e.g.
  ``u1`` x ``u2`` at one look-back, the other axes averaged (or another aggregate).
* :func:`scatter` and :func:`scatter_scores` -- the validation report's scatter plots
  (trained MAE against the sampled statistics and scores; written by
  :func:`mae_ort.study.report.write_report`).

Each takes the DataFrame of :meth:`mae_ort.results.store.SQLiteStore.frame` (or of
:func:`mae_ort.screening.sweep.screen`) holding **one** settings id and one model family (filter
first; a mix raises an error that says how), and returns a
``matplotlib.figure.Figure``; :func:`save` writes it as PNG (atomically).

``p`` spans many decades (a linear ``p`` axis shows one or two spikes), so the line
figures draw it on a logarithmic axis unless told otherwise (rows with ``p = 0`` are
left out and counted in the title).  Rows too sparse for a figure (a small random
subset: no line with two points, a heat map with few cells filled) raise a one-line
:class:`~mae_ort.errors.DataError` that says what is missing, instead of empty panels.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from .._files import atomic_path
from ..errors import DataError, InvalidParameterError, MaeOrtError

__all__ = ["FIGURES", "p_vs_units", "p_vs_units_2layer", "heatmap", "save", "figure", "scatter", "scatter_scores"]

#: Figure names, as the CLI's ``--figure`` takes them.
FIGURES = ("p-vs-units", "p-vs-units-2layer", "heatmap")
#: How :func:`heatmap` aggregates the rows that fall on one cell.
AGGS = ("mean", "median", "max", "min")
#: The smallest share of a heat map's cells that must hold a value (else it is too sparse to read).
MIN_FILLED = 0.1

_LABELS = {
    "p": "p = P(MAE < threshold)",
    "log_p": "log p",
    "log_p_exact": "log p (exact, log space)",
    "mean": "mean MAE of random weights",
    "sd": "sd of MAE of random weights",
    "u1": "units of layer 1",
    "u2": "units of layer 2",
    "u3": "units of layer 3",
    "look_back": "look-back",
    "depth": "hidden layers",
}


def _label(col: str) -> str:
    if col in _LABELS:
        return _LABELS[col]
    if col.startswith("u") and col[1:].isdigit():
        return f"units of layer {col[1:]}"
    return col


def _figure(**kw):
    from matplotlib.figure import Figure  # the object API: no global state, no display needed

    return Figure(**kw)


def _one_study(frame, what: str):
    """Check that ``frame`` holds one settings id and one family; describe them for titles."""
    if frame is None or len(frame) == 0:
        raise DataError(f"no rows to plot for {what}")
    if "settings_id" in frame and frame["settings_id"].nunique() > 1:
        ids = ", ".join(sorted(frame["settings_id"].unique())[:5])
        raise DataError(f"the rows hold {frame['settings_id'].nunique()} sampling settings ({ids}); "
                        f"choose one (--settings ID) for {what}")
    fam = [c for c in ("cell", "activation", "recurrent_activation", "head_activation") if c in frame]
    models = frame[fam].drop_duplicates() if fam else frame.iloc[:0]
    if len(models) > 1:
        names = "; ".join(" ".join(str(v) for v in m) for m in models.itertuples(index=False))
        raise DataError(f"the rows mix {len(models)} models ({', '.join(fam)}: {names}); keep the rows of one "
                        f"for {what} (mae-ort plot: --preset, or --cell/--activation/--recurrent-activation/"
                        "--head-activation)")
    first = frame.iloc[0]
    parts = []
    if "cell" in frame:
        parts.append(str(first["cell"]).upper())
    if "recurrent_activation" in frame:
        parts.append(f"gates {first['recurrent_activation']}")
    if "series" in frame:
        parts.append(f"series {first['series']}")
    if "samples" in frame:
        parts.append(f"S={first['samples']}")
    if "threshold" in frame:
        parts.append(f"threshold={first['threshold']:g}")
    return ", ".join(parts)


def _check_y(y: str, frame, name: str = "y", caller: str = "the figure") -> str:
    if y not in frame.columns or not np.issubdtype(frame[y].dtype, np.number):
        numeric = [c for c in ("p", "log_p", "log_p_exact", "mean", "sd") if c in frame.columns]
        raise InvalidParameterError(f"The {name!r} parameter of {caller} must be a numeric column such as "
                                    f"{', '.join(numeric)}. Got {y!r} instead.")
    return y


def _log_axis(log_y, y: str) -> bool:
    """Whether the y axis is logarithmic: as asked, or by default for ``p`` (it spans many decades)."""
    return y == "p" if log_y is None else bool(log_y)


def _positive(rows, y: str, log: bool):
    """On a log axis, the rows with ``y > 0`` and a note on how many were left out."""
    if not log:
        return rows, ""
    keep = rows[rows[y].astype("float64") > 0]
    dropped = len(rows) - len(keep)
    if len(keep) == 0:
        raise DataError(f"no row has {y} > 0 to draw on a logarithmic axis; plot log_p (--y log_p) instead")
    return keep, (f" ({dropped} rows with {y} <= 0 not drawn)" if dropped else "")


def _lines_or_fail(counts, figure: str, needs: str, have: str) -> None:
    """Refuse a figure none of whose lines would have two points."""
    if not counts or max(counts) < 2:
        raise DataError(f"{figure} needs {needs}; {have}: screen the whole range (no --sample subset) or choose "
                        "another figure")


def _units_col(frame, k: int):
    col = f"u{k}"
    if col in frame:
        return frame[col].astype("int64")
    return frame["units"].map(lambda s: int(str(s).split(",")[k - 1]))


def _select(frame, look_back):
    if look_back is None:
        return frame
    lbs = [int(v) for v in (look_back if isinstance(look_back, (list, tuple, set, range)) else [look_back])]
    out = frame[frame["look_back"].isin(lbs)]
    if len(out) == 0:
        have = ", ".join(map(str, sorted(frame["look_back"].unique())[:12]))
        raise DataError(f"no rows with look-back {', '.join(map(str, lbs))}; the rows have look-backs {have}")
    return out


def _study_rows(frame, depth: int, figure: str, look_back, y: str):
    """The rows of one depth and study for ``figure``, the look-backs kept, and the checked ``y``."""
    rows = frame[frame["depth"] == depth] if "depth" in frame else frame
    if len(rows) == 0:
        words = {1: "one-layer", 2: "two-layer"}[depth]
        raise DataError(f"{figure} needs {words} rows (screen e.g. --space paper-{depth}layer)")
    what = _one_study(rows, figure)
    rows = _select(rows, look_back)
    return rows, what, _check_y(y, rows, "y", figure)


def p_vs_units(frame, *, y: str = "p", look_back=None, log_y: bool | None = None):
    """Fig. 2: ``y`` against the units of one-layer networks, one line per look-back.

    Parameters
    ----------
    frame : pandas.DataFrame
        Screening rows (one settings id, one family); rows of other depths are ignored.
    y : str
        The column to plot: ``"p"`` (the paper), ``"log_p"``, ``"mean"``, ...
    look_back : int or sequence of int, optional
        Only these look-backs (default: all).
    log_y : bool, optional
        A logarithmic y axis; default: for ``p`` (whose values span many decades) only.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataError
        No one-layer rows, several settings or models mixed, an absent look-back, no
        look-back with two widths (too sparse a subset).
    """
    rows, what, y = _study_rows(frame, 1, "p-vs-units", look_back, y)
    log = _log_axis(log_y, y)
    rows, dropped = _positive(rows, y, log)
    widths = rows.assign(_u=_units_col(rows, 1)).groupby("look_back")["_u"].nunique()
    _lines_or_fail(list(widths), "p-vs-units", "at least two widths at one look-back",
                   f"the {len(rows)} one-layer rows have at most {int(widths.max())} per look-back")
    import matplotlib as mpl

    fig = _figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    lbs = sorted(rows["look_back"].unique())
    cmap = mpl.colormaps["viridis"]
    norm = mpl.colors.Normalize(vmin=min(lbs), vmax=max(max(lbs), min(lbs) + 1))
    for lb in lbs:
        r = rows[rows["look_back"] == lb].assign(_u=lambda d: _units_col(d, 1)).sort_values("_u")
        ax.plot(r["_u"], r[y], marker="o" if len(r) < 30 else None, ms=3, lw=1.2, color=cmap(norm(lb)),
                label=f"LB {lb}")
    if log:
        ax.set_yscale("log")
    own = "cell" in rows and (rows["cell"] == "onnx").all()  # own ONNX models: u1 holds their number of weights
    ax.set_xlabel("number of weights" if own else _label("u1"))
    ax.set_ylabel(_label(y))
    ax.set_title(f"{_label(y)} against {'weights, own ONNX models' if own else 'units, one-layer networks'}"
                 f"{dropped}\n{what}")
    ax.grid(True, alpha=0.3)
    if len(lbs) <= 10:
        ax.legend(title="look-back", fontsize="small")
    else:
        sm = mpl.cm.ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(sm, ax=ax, label=_label("look_back"))
    return fig


def p_vs_units_2layer(frame, *, y: str = "p", look_back=None, log_y: bool | None = None):
    """Fig. 3: ``y`` against the first layer's units, one colour per second-layer width, one panel per look-back.

    The second-layer widths are discrete: each has its colour and an entry in the legend.

    Parameters
    ----------
    frame : pandas.DataFrame
        Screening rows (one settings id, one family); rows of other depths are ignored.
    y : str
        The column to plot (``"p"``, the paper's, ``"log_p"``, ...).
    look_back : int or sequence of int, optional
        Only these look-backs (default: all, one panel each).
    log_y : bool, optional
        A logarithmic y axis; default: for ``p`` only.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataError
        No two-layer rows, several settings or models mixed, an absent look-back, no
        second-layer width with two first-layer widths at any look-back (too sparse a
        subset).  Look-backs without such a line get no panel; the title names them.
    """
    rows, what, y = _study_rows(frame, 2, "p-vs-units-2layer", look_back, y)
    log = _log_axis(log_y, y)
    rows, dropped = _positive(rows, y, log)
    import matplotlib as mpl

    rows = rows.assign(_u1=_units_col(rows, 1), _u2=_units_col(rows, 2))
    points = rows.groupby(["look_back", "_u2"])["_u1"].nunique()
    longest = points.groupby(level="look_back").max()
    _lines_or_fail(list(longest), "p-vs-units-2layer",
                   "at least two first-layer widths for one second-layer width at one look-back",
                   f"the {len(rows)} two-layer rows have at most {int(longest.max())}")
    lbs = [int(lb) for lb, n in longest.items() if n >= 2]
    missing = [int(lb) for lb, n in longest.items() if n < 2]
    rows = rows[rows["look_back"].isin(lbs)]
    ncol = min(2, len(lbs))
    nrow = -(-len(lbs) // ncol)
    fig = _figure(figsize=(6 * ncol + 1, 4 * nrow), layout="constrained")
    axes = fig.subplots(nrow, ncol, sharex=True, sharey=True, squeeze=False).ravel()
    u2s = [int(u) for u in sorted(rows["_u2"].unique())]
    cmap = mpl.colormaps["plasma"]
    colours = {u2: cmap(0.85 * k / max(1, len(u2s) - 1)) for k, u2 in enumerate(u2s)}  # discrete, no yellow
    handles = {}
    for ax, lb in zip(axes, lbs):
        panel = rows[rows["look_back"] == lb]
        for u2 in u2s:
            r = panel[panel["_u2"] == u2].sort_values("_u1")
            if len(r):
                (line,) = ax.plot(r["_u1"], r[y], lw=1.0, color=colours[u2], label=f"{u2}",
                                  marker="o" if len(r) < 30 else None, ms=2.5)
                handles.setdefault(u2, line)
        ax.set_title(f"look-back {lb}")
        ax.set_xlabel(_label("u1"))
        ax.xaxis.label.set_visible(ax.get_subplotspec().is_last_row() or lb == lbs[-1])
        ax.set_ylabel(_label(y))
        ax.grid(True, alpha=0.3)
        if log:
            ax.set_yscale("log")
    for ax in axes[len(lbs):]:
        ax.set_visible(False)
    order = sorted(handles)
    fig.legend([handles[u] for u in order], [str(u) for u in order], title=_label("u2"), loc="outside right upper",
               fontsize="small", ncol=1 + len(order) // 26)
    note = f"; look-back {', '.join(map(str, missing))}: too few rows for a line" if missing else ""
    fig.suptitle(f"{_label(y)} against first-layer units, two-layer networks{dropped}{note}\n{what}")
    return fig


def heatmap(frame, *, x: str = "u1", y: str = "u2", value: str = "log_p", look_back=None, depth=None,
            agg: str = "mean"):
    """A heat map of ``value`` over two axes, the other axes aggregated.

    Parameters
    ----------
    frame : pandas.DataFrame
        Screening rows (one settings id, one family).
    x, y : str
        Columns on the axes: ``u1``, ``u2``, ``u3``, ``look_back``, ``depth``.
    value : str
        The coloured column (``log_p`` by default).
    look_back : int or sequence of int, optional
        Only these look-backs (default: all, aggregated unless an axis is ``look_back``).
    depth : int, optional
        Only networks of this depth (default: the deepest one that has both axes).
    agg : {'mean', 'median', 'max', 'min'}
        How rows that share an (x, y) cell are combined.

    Returns
    -------
    matplotlib.figure.Figure

    Raises
    ------
    DataError, InvalidParameterError
        Unknown axes or value, or no rows.
    """
    what = _one_study(frame, "heatmap")
    if agg not in AGGS:
        raise InvalidParameterError(f"The 'agg' parameter of heatmap must be one of {', '.join(map(repr, AGGS))}. "
                                    f"Got {agg!r} instead.")
    if x == y:
        raise InvalidParameterError(f"heatmap needs two different axes; got x={x!r} and y={y!r}")
    rows = _select(frame, look_back)
    layers = [int(c[1:]) for c in (x, y) if c.startswith("u") and c[1:].isdigit()]
    for c in (x, y):
        if not (c in ("look_back", "depth") or (c.startswith("u") and c[1:].isdigit())):
            raise InvalidParameterError(f"heatmap axes must be u1, u2, u3, ..., look_back or depth; got {c!r}")
    if depth is None and layers:
        deep = rows[rows["depth"] >= max(layers)]
        if len(deep) == 0:
            raise DataError(f"no rows with {max(layers)} or more layers for the axis u{max(layers)}")
        depth = int(deep["depth"].max())
    if depth is not None:
        rows = rows[rows["depth"] == int(depth)]
        if len(rows) == 0:
            raise DataError(f"no rows of depth {depth}")
    value = _check_y(value, rows, "value", "heatmap")
    rows = rows.copy()
    for c in (x, y):
        if c.startswith("u"):
            rows[c] = _units_col(rows, int(c[1:]))
    finite = rows[np.isfinite(rows[value].astype("float64"))]
    table = finite.pivot_table(index=y, columns=x, values=value, aggfunc=agg)
    if table.size == 0:
        raise DataError("no finite values to plot in the heat map")
    filled = int(table.notna().to_numpy().sum())
    if filled < 2 or filled < MIN_FILLED * table.size:
        raise DataError(f"heatmap of {x} x {y}: only {filled} of its {table.size} cells ({table.shape[1]} x "
                        f"{table.shape[0]}) have rows; it needs at least 2 and {MIN_FILLED:.0%}: screen more rows "
                        "(a larger --sample) or choose coarser axes (look_back, depth)")
    import matplotlib as mpl  # noqa: F401 - colormaps registered

    fig = _figure(figsize=(8, 6.5), layout="constrained")
    ax = fig.add_subplot()
    xs, ys = table.columns.to_numpy(), table.index.to_numpy()
    im = ax.pcolormesh(_edges(xs), _edges(ys), table.to_numpy(dtype="float64"), cmap="viridis", shading="flat")
    fig.colorbar(im, ax=ax, label=f"{_label(value)} ({agg})")
    ax.set_xlabel(_label(x))
    ax.set_ylabel(_label(y))
    if len(xs) <= 16:
        ax.set_xticks(xs)
    if len(ys) <= 16:
        ax.set_yticks(ys)
    lbs = sorted(rows["look_back"].unique())
    others = [c for c in ("u1", "u2", "u3") if c not in (x, y) and int(c[1:]) <= (depth or 1)]
    if "look_back" not in (x, y) and len(lbs) > 1:
        others.append("look-backs " + ",".join(map(str, lbs)))
    note = f"; {agg} over {', '.join(others)}" if others else ""
    lb_note = f", look-back {lbs[0]}" if "look_back" not in (x, y) and len(lbs) == 1 else ""
    ax.set_title(f"{_label(value)} by {x} and {y}{f', depth {depth}' if depth else ''}{lb_note}{note}\n{what}")
    return fig


def _edges(v: np.ndarray) -> np.ndarray:
    v = np.asarray(v, dtype="float64")
    if len(v) == 1:
        return np.array([v[0] - 0.5, v[0] + 0.5])
    mid = (v[1:] + v[:-1]) / 2
    return np.concatenate([[v[0] - (mid[0] - v[0])], mid, [v[-1] + (v[-1] - mid[-1])]])


def figure(name: str, frame, **options):
    """Draw a figure by name (one of :data:`FIGURES`) with its keyword options."""
    funcs = {"p-vs-units": p_vs_units, "p-vs-units-2layer": p_vs_units_2layer, "heatmap": heatmap}
    if name not in funcs:
        raise InvalidParameterError(f"The 'figure' parameter must be one of {', '.join(map(repr, FIGURES))}. "
                                    f"Got {name!r} instead.")
    return funcs[name](frame, **options)


def save(fig, path, *, dpi: int = 120) -> Path:
    """Write ``fig`` as PNG (Agg) to ``path`` (through a temporary file, replaced at once); returns the path.

    Raises
    ------
    DataError
        The folder does not exist or the file cannot be written.
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    p = Path(path)
    if not p.parent.exists():
        raise DataError(f"cannot write {str(p)!r}: the folder {str(p.parent)!r} does not exist")
    FigureCanvasAgg(fig)
    tmp = p.with_name(p.name + ".partial")
    try:
        fig.savefig(tmp, dpi=dpi, format="png")
        os.replace(tmp, p)  # never a half-written file at ``path``
    except OSError as e:
        raise DataError(f"cannot write {str(p)!r}: {e.strerror or e}") from e
    finally:
        if tmp.exists():
            tmp.unlink()
    return p


# -- the report's scatter plots (mae_ort.study.report) ------------------------------------------
def scatter(df, depth: int, path, *, mae: str = "test_mae",
            statistics=("mean", "sd", "log_p_exact", "log_p_mle")) -> Path:
    """One study's scatter plot: trained MAE against each statistic (rows) for each budget (columns)."""
    import matplotlib

    from .report import STATISTICS, _corr, _f  # the report's own tables (it draws this figure)

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
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return path


def scatter_scores(g, path, *, title: str) -> Path:
    """The best score and log p against the trained MAE, one panel per budget, coloured by look-back."""
    import matplotlib

    from .report import SCORES, _f  # the report's own tables (it draws this figure)

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    from .evidence import correlation, direction

    budgets = sorted(set(int(e) for e in g.epochs))
    big = g[g.epochs == budgets[-1]]
    cands = [s for s in SCORES if s in g.columns and s != "log_p" and np.isfinite(big[s].to_numpy(dtype=float)).any()]
    best = min(cands, key=lambda s: np.nan_to_num(correlation(big[s], big.mae) * direction(s), nan=9.0)) \
        if cands else None
    shown = ["log_p"] + ([best] if best else [])
    fig, axes = plt.subplots(len(shown), len(budgets), figsize=(3.2 * len(budgets) + 0.8, 2.6 * len(shown) + 0.6),
                             squeeze=False, constrained_layout=True)
    lbs = sorted(set(int(v) for v in g.look_back))
    sc = None
    for i, s in enumerate(shown):
        for j, e in enumerate(budgets):
            ax = axes[i][j]
            ge = g[g.epochs == e]
            sc = ax.scatter(ge[s], ge.mae, c=ge.look_back, cmap="viridis", s=14, vmin=min(lbs),
                            vmax=max(lbs) if max(lbs) > min(lbs) else min(lbs) + 1)
            ax.set_title(f"{e} epoch{'s' if e != 1 else ''}: ρ = {_f(correlation(ge[s], ge.mae), 2)}", fontsize=9)
            ax.set_xlabel(SCORES.get(s, s), fontsize=8)
            if j == 0:
                ax.set_ylabel("trained test MAE", fontsize=8)
            ax.tick_params(labelsize=7)
    if sc is not None:
        fig.colorbar(sc, ax=axes, shrink=0.6, label="look-back")
    fig.suptitle(title, fontsize=11)
    path = Path(path)
    try:
        with atomic_path(path) as tmp:
            fig.savefig(tmp, dpi=110)
    finally:
        plt.close(fig)
    return path
