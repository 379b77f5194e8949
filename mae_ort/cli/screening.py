"""The ``screen``, ``rank``, ``export`` and ``plot`` commands of ``mae-ort``.

Bad input raises
:class:`~mae_ort.errors.MaeOrtError` (or a click usage error), which ``mae_ort.cli.main``
prints on one line with exit code 2.  Ctrl-C during ``screen`` keeps every finished row
and exits with code 130; SIGTERM does the same with code 143.  mae-ort's warnings
(e.g. :class:`~mae_ort.screening.sweep.OutsideBoundsWarning`) print as one line
``warning: ...`` on stderr.

The reading commands (``rank``, ``export``, ``plot``) open the database read-only and
filter by settings, look-back, depth and model (``--preset`` or ``--cell``,
``--activation``, ``--recurrent-activation``, ``--head-activation``): one database may
hold several models (the paper's Keras 2 gates and Keras 3's, say) under one settings id.
``rank`` shows each row's whole model; ``plot`` refuses a mix of models and names them.
"""

from __future__ import annotations

import contextlib
import math
import os
import warnings
from pathlib import Path

import click

from .._progress import Progress
from ..errors import DataError, InvalidParameterError, MaeOrtError, MaeOrtWarning
from ..model.architecture import MODEL_FIELDS, PRESETS, Architecture, head_for, model_fields
from ..sampling.scores import DEFAULT_RANKING, RANK_ASCENDING, TAIL_SCORES, check_score, ranking
from ..sampling.settings import SEEDING
from ..screening.space import SPACE_PRESETS
from ..study.figures import AGGS, FIGURES
from .jsonout import echo_json
from .options import (
    MODEL_FILTERS,
    apply_options,
    exit_interrupted,
    load_series,
    model_options,
    own_model_options,
    sampling_options,
    series_options,
    space_options,
    space_plan,
    split_list,
    strict_list,
)

__all__ = ["COMMANDS", "screen_command", "rank_command", "export_command", "plot_command"]

_SPACES = tuple(SPACE_PRESETS)
_RANK_BY = RANK_ASCENDING
_ORDER = {True: "ascending", False: "descending"}


def _build_space(space_name, units, layers, look_back, list_path, subset, seed, preset, cell, activation,
                 recurrent_activation, head_activation):
    from ..screening.space import grid, preset_space, read_rows

    model = dict(cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                 head_activation=head_activation)
    if list_path is not None:
        if space_name or units or layers or look_back:
            raise InvalidParameterError("--list gives the rows itself; leave out --space, --units, --layers and "
                                        "--look-back")
        space = read_rows(list_path, preset=preset, **model)
    elif space_name is not None:
        over = dict(model, units=list(units) if units else None, layers=layers, look_back=look_back)
        if preset is not None:
            over["preset"] = preset
        space = preset_space(space_name, **over)
    elif units:
        space = grid(units=list(units), layers=layers or str(len(units)), look_back=look_back or "1,10,20,30",
                     preset=preset, name="grid", **model)
    else:
        raise InvalidParameterError("say what to screen: --space NAME (" + ", ".join(_SPACES)
                                    + "), --units RANGE (with --layers and --look-back) or --list FILE")
    if subset is not None:
        space = space.subset(subset, seed=seed)
    return space


@click.command("screen")
@space_options
@click.option("--list", "list_path", default=None,
              help="Screen the rows of a CSV or JSON-lines file (columns units, e.g. \"31,31\", and look_back).")
@click.option("--sample", "subset", type=int, default=None,
              help="Screen a random subset of this many rows (chosen by --sample-seed; for one seed a larger subset "
                   "contains a smaller one).")
@click.option("--sample-seed", type=int, default=None, help="Seed of the --sample choice [default: --seed].")
@click.option("--db", required=True, help="The results database (SQLite), created if missing; reruns resume.")
@click.option("--workers", type=int, default=None,
              help="Worker processes [one per core, 1 thread each; short sweeps run in this process]; 0 or 1 "
                   "runs in this process. --threads is per worker.")
@click.option("--scheduler", default=None, help="Run on a Dask cluster, e.g. tcp://scheduler-host:8786.")
@click.option("--connect-timeout", type=float, default=10.0, show_default=True,
              help="Seconds to wait for the Dask scheduler.")
@click.option("--top", type=int, default=5, show_default=True,
              help="Rows of the best-by-log-p table printed at the end.")
@click.option("--race", type=int, default=None,
              help="With --samples auto: race for the top K by log p; rows whose 95 % upper bound cannot reach the "
                   "K-th best lower bound stop early (status raced).")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document instead of the summary and the table (the best --top rows under the "
                   "table's column names; non-finite numbers as null).")
@click.option("--share/--no-share", default=True, show_default=True,
              help="Compute the layers that rows share once (the same results; --no-share for comparisons).")
@click.option("--seeding", type=click.Choice(["1", "2"]), default=str(SEEDING), show_default=True,
              help="Seeding version: 2 shares the weights of common first layers; 1 is mae-ort 0.1's rows.")
@click.option("--scores", "score_names", default=None,
              help="Also store these scores with every row: 'all' or some of readout,readout_window,readout_keras,"
                   "lookback_ridge,hidden_cov,naswot (stored rows that lack one get it without resampling their "
                   "MAEs).")
@click.option("--id-col", "id_col", default=None,
              help="A long-format --csv: the column naming each line's series; every series is scaled and screened "
                   "on its own into --db [unique_id where the file has it; then --index-col defaults to ds and "
                   "--target to y].")
@model_options
@series_options
@sampling_options
@own_model_options
def screen_command(space_name, units, layers, look_back, list_path, subset, sample_seed, db, workers, scheduler,
                   connect_timeout, top, race, quiet, share, seeding, score_names, id_col, preset, cell, activation,
                   recurrent_activation,
                   head_activation, csv_path, input_cols, target_cols, scale, samples, threshold, lower, upper, fit,
                   init, seed, target_form, runtime, device, threads,
                   memory_budget, onnx_path, onnx_input, layout, onnx_output, feature, weight_scale, freeze, as_json):
    """Sample every architecture x look-back of a search space, or your own ONNX models (--onnx), into a database
    (resumable)."""
    from .._checks import parse_bytes
    from ..screening.sweep import screen

    if onnx_path is not None:
        _screen_own(onnx_path, look_back, db, top, quiet, csv_path, input_cols, target_cols, scale, samples,
                    threshold, lower, upper, fit, init, seed, device, threads, parse_bytes(memory_budget),
                    onnx_input, layout, onnx_output, feature, weight_scale, freeze, as_json, target_form)
        return
    stored_scores = _stored_score_names(score_names, "--scores")
    space = _build_space(space_name, units, layers, look_back, list_path, subset,
                         seed if sample_seed is None else sample_seed, preset, cell, activation,
                         recurrent_activation, head_for(head_activation, target_form))
    table = _long_table(csv_path, id_col, input_cols, target_cols, scale)
    series = load_series(csv_path, input_cols, target_cols, scale) if table is None else table
    budget = parse_bytes(memory_budget)
    pass_readout = bool({"readout", "readout_window"} & set(stored_scores))
    longest = series if table is None else max(table, key=lambda s: s.length)
    plan = space_plan(space, longest, samples, budget, readout=pass_readout, threads=threads,
                      parallel=workers, caller="screen")  # refuses a space whose largest member cannot fit
    label = space.name.split(" (")[0][:20]  # the header lines have the full description and the estimate
    reporter = Progress(f"screen {label}", unit="rows", enabled=not quiet,
                        header=f"{space.describe()}{f' on {len(table)} series' if table else ''}; db {db}\n{plan}")
    try:
        with _one_line_warnings():
            # The database is opened (and created) by screen, after the space, the series and the
            # scheduler are checked: a refused screen leaves no empty file behind.
            df = screen(space, series, store=db, samples=samples, threshold=threshold, lower=lower, upper=upper,
                        fit=fit, init=init, seed=seed, workers=workers, threads=threads, scheduler=scheduler,
                        connect_timeout=connect_timeout, runtime=runtime, device=device, memory_budget=budget,
                        progress=reporter, share=share, seeding=int(seeding), race=race, scores=stored_scores,
                        target_form=target_form)
    except KeyboardInterrupt as e:
        reporter.close()
        exit_interrupted(e, f"interrupted: {reporter.done} new row(s) of {reporter.total} stored in {db}; rerun the "
                            "same command to resume")
    finally:
        reporter.close()
    if table is not None:
        _report_long(df, space, db, top)
        return
    a = df.attrs
    if as_json:
        echo_json(_screen_document(df, db, space.name, "log_p", top))
        return
    others = a["computed_rows"] - a["new_rows"]
    shared = f" ({others} computed here were stored first by another screen)" if others > 0 else ""
    click.echo(f"{len(df)} rows of {space.name} in {db} (settings {a['settings_id']}): {a['new_rows']} new, "
               f"{len(df) - a['new_rows']} already done, {a['seconds']:.1f} s{shared}")
    if len(df) and "status" in df and (df["status"] != "fixed").any():
        counts = ", ".join(f"{n} {k}" for k, n in df["status"].value_counts().sort_index().items())
        click.echo(f"samples drawn: {int(df['drawn'].sum())} ({counts}; median {int(df['drawn'].median())} a row, "
                   f"{int(df['drawn'].min())}..{int(df['drawn'].max())})")
    if top > 0 and len(df):
        click.echo(_table(df, by="log_p", top=top))


def _screen_document(df, db, name: str, by: str, top: int) -> dict:
    """``screen --json``: what the summary line says, and the best ``top`` rows by ``by``."""
    a = df.attrs
    return {"db": str(db), "space": name, "settings_id": a["settings_id"], "rows": len(df), "new_rows": a["new_rows"],
            "already_done": len(df) - a["new_rows"], "seconds": a["seconds"],
            "by": by, "best": _best(df, by=by, top=top) if top > 0 and len(df) else []}


def _screen_own(path, look_back, db, top, quiet, csv_path, input_cols, target_cols, scale, samples, threshold, lower,
                upper, fit, init, seed, device, threads, memory_budget, onnx_input, layout, onnx_output, feature,
                weight_scale, freeze, as_json=False, target_form="level") -> None:
    """``screen --onnx``: every own model of a file, folder or glob into the database (resumable)."""
    from ..screening.own import screen_own

    ctx = click.get_current_context()
    cmdline = click.core.ParameterSource.COMMANDLINE
    extra = [p for p in ("space_name", "units", "layers", "list_path", "subset", "race", "score_names", "workers",
                         "scheduler", "preset", "cell", "activation", "recurrent_activation", "head_activation",
                         "runtime", "seeding", "id_col") if ctx.get_parameter_source(p) == cmdline]
    if extra:
        names = ", ".join("--" + {"space_name": "space", "list_path": "list", "subset": "sample",
                                  "score_names": "scores"}.get(p, p).replace("_", "-") for p in extra)
        raise InvalidParameterError(f"--onnx screens your own models: leave out {names}")
    lbs = _ints(look_back, "--look-back", "screen")
    series = load_series(csv_path, input_cols, target_cols, scale)
    reporter = Progress("screen onnx", unit="models", enabled=not quiet, header=f"own ONNX models {path}; db {db}")
    frozen = split_list(freeze, "--freeze") or ()
    try:
        with _one_line_warnings():
            df = screen_own(path, series, store=db, look_back=lbs, samples=samples, threshold=threshold, lower=lower,
                            upper=upper, fit=fit, init=init, seed=seed, scale=weight_scale, frozen=frozen,
                            input=onnx_input, layout=layout, output=onnx_output, feature=feature, device=device,
                            threads=threads, memory_budget=memory_budget, progress=reporter,
                            target_form=target_form)
    except KeyboardInterrupt as e:
        reporter.close()
        exit_interrupted(e, f"interrupted: {reporter.done} model(s) of {reporter.total} done in {db}; rerun the same "
                            "command to resume")
    finally:
        reporter.close()
    a = df.attrs
    by = "readout" if "score_readout" in df and df["score_readout"].notna().all() else "log_p"
    if as_json:
        echo_json(_screen_document(df, db, "own models", by, top))
        return
    click.echo(f"{len(df)} rows of own models in {db} (settings {a['settings_id']}): {a['new_rows']} new, "
               f"{len(df) - a['new_rows']} already done, {a['seconds']:.1f} s")
    if top > 0 and len(df):
        click.echo(_table(df, by=by, top=top))


def _long_table(csv_path, id_col, input_cols, target_cols, scale):
    """The long-format table of ``--csv`` (``--id-col``, or a ``unique_id`` column), or None for one series."""
    from ..long_format import long_id_column, read_long
    from .options import csv_options_in_use

    if csv_path is None:
        if id_col is not None:
            raise InvalidParameterError("--id-col needs --csv (a long-format table: one line per series and time)")
        return None
    fmt = csv_options_in_use()
    id_col = long_id_column(csv_path, id_col, sep=fmt["sep"])
    if id_col is None:
        return None
    with _one_line_warnings():
        return read_long(csv_path, id_col=id_col, index_col=fmt["index_col"], input=split_list(input_cols),
                         target=split_list(target_cols, "--target"), scale=scale, sep=fmt["sep"],
                         decimal=fmt["decimal"], header=fmt["header"])


def _report_long(df, space, db, top: int) -> None:
    """The closing lines of a long-format screen: counts, skipped series, the ranking across series."""
    a = df.attrs
    n = len(a["series"])
    skipped = f"; skipped (too short): {', '.join(a['skipped'])}" if a["skipped"] else ""
    click.echo(f"{len(df)} rows of {space.name} on {n} series in {db}: {a['new_rows']} new, "
               f"{len(df) - a['new_rows']} already done, {a['seconds']:.1f} s{skipped}")
    if top > 0 and len(df):
        click.echo(_across_text(df, by="log_p", top=top, db=db, per_series=False))


def _across_text(df, *, by, top: int, db=None, per_series: bool = True) -> str:
    """``rank --across-series``: each series' best row and the mean rank across series (per sampling settings)."""
    from ..screening.many import CONFIG_COLUMNS, best_per_series, configurations, rank_across_series

    name, col, ascending, _ = ranking(df, by, where=repr(db))
    fmt = dict(index=False, float_format=lambda v: f"{v:.6g}")
    out = []
    parts = configurations(df)
    for part in parts:
        if len(parts) > 1:
            out.append("settings: " + " ".join(f"{c}={part[c].iloc[0]}" for c in CONFIG_COLUMNS if c in part))
        if per_series:
            best = best_per_series(part, col, ascending)
            best.insert(1, "model", [_describe_row(r) for r in best.to_dict("records")])
            cols = ["series", "model", "look_back", col, *(["log_p"] if col != "log_p" else []), "mean", "id"]
            out.append(f"best per series (by {name}):")
            out.append(best[[c for c in dict.fromkeys(cols) if c in best]].to_string(**fmt))
        ranked = rank_across_series(part, col, ascending)
        n_series, left_out = part["settings_id"].nunique(), ranked.attrs["left_out"]
        ranked.insert(1, "model", [_describe_row(r) for r in ranked.to_dict("records")])
        cols = ["rank", "model", "look_back", "mean_rank", "sd_rank", "best_rank", "worst_rank", "n_best",
                "n_series", f"mean_{col}"]
        out.append(f"across {n_series} series (mean rank by {name}, 1 = best; sd_rank: the ranks' spread):")
        out.append(ranked.head(top)[cols].to_string(**fmt))
        if left_out:
            out.append(f"note: {left_out} architecture(s) that some series lacks are not ranked across series")
    return "\n".join(out)


@contextlib.contextmanager
def _one_line_warnings():
    """Print mae-ort's warnings raised inside as one line each (``warning: ...``) on stderr, once each.

    Other warnings are shown as Python shows them.  They are printed when the block ends,
    normally or not (before an error line).
    """
    caught: list = []
    try:
        with warnings.catch_warnings(record=True) as caught:
            yield
    finally:
        seen = set()
        for w in caught:
            if issubclass(w.category, MaeOrtWarning):
                text = " ".join(str(w.message).split())
                if text not in seen:
                    seen.add(text)
                    click.echo(f"warning: {text}", err=True)
            else:
                warnings.showwarning(w.message, w.category, w.filename, w.lineno)


def _stored_score_names(text, option: str) -> tuple[str, ...]:
    """The stored score names of a ``--scores`` option ('all' or a list); one line naming a wrong token."""
    from .._checks import split_items
    from ..sampling.scores import STORED_SCORES

    if text is None:
        return ()
    tokens = split_items(text, option)
    for i, t in enumerate(tokens, 1):
        if t not in STORED_SCORES and t != "all":
            raise InvalidParameterError(f"The '{option}' option takes 'all' or names among "
                                        f"{', '.join(STORED_SCORES)}. Got {t!r} (item {i}) instead.")
    return tuple(n for n in STORED_SCORES if n in tokens or "all" in tokens)


def _best(df, *, by: str, top: int, db=None):
    """The ``top`` rows by ``by`` as a frame: rank, the whole model (one column), look-back, scores, counts, id."""
    _, by, ascending, _ = ranking(df, by, where=repr(db))
    keys = [by] + (["log_p_exact", "mean"] if by == "log_p" else [])
    asc = [ascending] + ([RANK_ASCENDING["log_p_exact"], RANK_ASCENDING["mean"]] if by == "log_p" else [])
    best = df.sort_values(keys, ascending=asc, na_position="last").head(top).reset_index(drop=True)
    best.insert(0, "rank", range(1, len(best) + 1))
    if "units" in best:
        best.insert(1, "model", [_describe_row(r) for r in best.to_dict("records")])
    cols = ["rank", "model", "look_back", "log_p", "log_p_exact", "p", "mean", "sd",
            *[c for c in best.columns if c.startswith("score_")], "n_nonfinite", "n_outside", "id"]
    if "status" in df and (df["status"] != "fixed").any():  # samples="auto": how many samples, why it stopped
        cols[-1:-1] = ["drawn", "status"]
    if "settings_id" in best and df["settings_id"].nunique() > 1:
        cols.append("settings_id")
    return best[[c for c in cols if c in best]]


def _table(df, *, by: str, top: int, db=None) -> str:
    """:func:`_best`'s rows as text, the model column and its header left-aligned."""
    best = _best(df, by=by, top=top, db=db)
    if "model" in best:
        width = max(len(m) for m in [*best["model"], "model"])
        best = best.rename(columns={"model": "model".ljust(width)})
        best[best.columns[1]] = [m.ljust(width) for m in best[best.columns[1]]]
    return best.to_string(index=False, float_format=lambda v: f"{v:.6g}")


def _describe_row(r: dict) -> str:
    """A row's whole model in one line: an architecture's, or an own ONNX model's file and number of weights."""
    if r.get("cell") == "onnx":
        name = r.get("model_file") if isinstance(r.get("model_file"), str) else f"onnx {r['activation'][:8]}"
        return f"{name} ({r['units']} weights)"
    return Architecture.from_row(r).describe()


def _model_text(fields: dict) -> str:
    """One model without its widths, e.g. ``lstm tanh/hard_sigmoid_keras2 -> tanh`` (own ONNX models: ``onnx``)."""
    if fields.get("cell") == "onnx":
        return "onnx (own models)"
    a = Architecture((1,), **fields)
    return a.cell + a.describe()[len(a.label()):]


def _model_choice(fields: dict) -> str:
    """The options that choose one model: ``--preset paper``, or its cell and activations."""
    if fields.get("cell") == "onnx":
        return "rows of screen --onnx"
    for name, preset in PRESETS.items():
        if all(fields[f] == preset[f] for f in MODEL_FIELDS):
            return f"--preset {name}"
    return " ".join(f"--{f.replace('_', '-')} {fields[f]}" for f in MODEL_FIELDS)


def _models(df) -> list[dict]:
    """The distinct models (cell and activations) of some rows, in order of appearance; own ONNX models count as
    one (their rows differ in the file, as built-in rows in their widths)."""
    fields = df[list(MODEL_FIELDS)].copy()
    own = fields["cell"] == "onnx"
    if own.any():
        fields.loc[own, list(MODEL_FIELDS)] = "onnx"
    return fields.drop_duplicates().to_dict("records")


def _models_text(df) -> str:
    return ", ".join(f"{_model_text(m)} ({_model_choice(m)})" for m in _models(df))


def _ints(text, option: str, command: str):
    """Integers of a filter option (``1,10`` or ``1:30``), errors naming the option and the command."""
    from ..screening.space import parse_ints

    return list(parse_ints(text, option, command)) if text else None


def _rows(db, command: str, settings, look_back, depth, model: dict, *, maes: bool = False):
    """The rows of ``db`` that the filters keep (read-only); a one-line error when none are left."""
    from ..results.store import open_store

    lbs = _ints(look_back, "--look-back", command)
    depths = _ints(depth, "--depth", command)
    store = open_store(db, create=False, readonly=True)
    try:
        sid = store.settings_id(settings) if settings is not None else None
        df = store.frame(sid, look_back=lbs, depth=depths, maes=maes)
    finally:
        store.close()
    if len(df) == 0 and not (settings or look_back or depth):
        raise DataError(f"{db!r} holds no rows yet")
    kept = df
    for field, value in model.items():
        kept = kept[kept[field] == value]
    if len(kept) == 0:
        if len(df) and model:
            raise DataError(f"no rows in {db!r} are of the model {_model_text({**_models(df)[0], **model})}; "
                            f"it holds {_models_text(df)}")
        raise DataError(f"no rows in {db!r} match the filters")
    return kept.reset_index(drop=True)


def _writable(out: str, what: str = "--out") -> Path:
    """Check, before any work, that ``out`` can be written (its folder exists and takes files)."""
    import tempfile

    p = Path(out)
    if p.is_dir():
        raise DataError(f"cannot write {out!r}: it is a folder; give {what} a file name inside it")
    folder = p.parent
    if not folder.exists():
        raise DataError(f"cannot write {out!r}: the folder {str(folder)!r} does not exist")
    if not folder.is_dir():
        raise DataError(f"cannot write {out!r}: {str(folder)!r} is not a folder")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=f".{p.name}.", suffix=".probe")
        os.close(fd)
        os.unlink(probe)
    except OSError as e:
        raise DataError(f"cannot write {out!r}: {e.strerror or e}; choose another {what}") from None
    return p


_filters = [
    click.option("--db", required=True, help="The results database (opened read-only)."),
    click.option("--settings", default=None, help="Only the rows of these sampling settings (an id or its prefix)."),
    click.option("--look-back", "look_back", default=None, callback=strict_list,
                 help="Only these look-backs, e.g. 1,10 or 1:30."),
    click.option("--depth", default=None, callback=strict_list, help="Only these depths, e.g. 2 or 1:3."),
    *MODEL_FILTERS,
]


def _filter_options(f):
    return apply_options(f, _filters)


@click.command("rank")
@_filter_options
@click.option("--top", type=int, default=20, show_default=True, help="How many rows to show.")
@click.option("--by", default=None,
              help="Order by any score, best first as mae_ort.sampling.scores.SCORES says: "
                   f"{', '.join(f'{k} ({_ORDER[v]})' for k, v in RANK_ASCENDING.items())}; the low MAE tail (min, "
                   "q05, q10) from the stored MAEs, the other scores as stored by screen --scores [default: readout "
                   "where the rows have it (the score that ranked trained networks best in the committed "
                   "reports), else log_p].")
@click.option("--list-settings", is_flag=True, help="List the sampling settings in the database instead.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document instead of the table: the rows under the table's column names, "
                   "non-finite numbers as null.")
@click.option("--across-series", is_flag=True,
              help="Rows of several series (a long-format screen): each series' best row, then the architectures "
                   "by their mean rank across the series, with its spread (--top of them).")
def rank_command(db, settings, look_back, depth, preset, cell, activation, recurrent_activation, head_activation,
                 top, by, list_settings, as_json, across_series):
    """Show the best architectures of a database (by log p), each with its whole model.

    n_outside counts a row's MAEs outside the truncation bounds: such a row's log p can mislead.
    """
    if list_settings:
        from ..results.store import open_store

        with open_store(db, create=False, readonly=True) as store:
            frame = store.settings_frame()
        if len(frame) == 0:
            raise DataError(f"{db!r} holds no settings yet")
        frame = frame.drop(columns=["series_fingerprint"])
        if as_json:
            echo_json({"db": str(db), "settings": frame})
        else:
            click.echo(frame.to_string(index=False))
        return
    if top < 1:
        raise InvalidParameterError(f"The '--top' option must be an int in the range [1, inf). Got {top} instead.")
    model = model_fields(preset=preset, cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                         head_activation=head_activation, caller="rank")
    if by is not None:
        check_score(by, "--by")  # an unknown score: one line listing every accepted one, before opening anything
    df = _rows(db, "rank", settings, look_back, depth, model, maes=by in TAIL_SCORES)
    if across_series:
        click.echo(_across_text(df, by=by, top=top, db=db))
        return
    by, _, _, fell_back = ranking(df, by, where=repr(db))
    if fell_back:
        how = ("screen --onnx again with --feature TENSOR" if (df["cell"] == "onnx").all() else
               f"screen them again with --scores {DEFAULT_RANKING}: their MAEs are kept")
        click.echo(f"note: ranked by log p: these rows have no stored {DEFAULT_RANKING} score, the default "
                   f"where present ({how})", err=True)
    if as_json:
        echo_json({"db": str(db), "by": by, "rows": _best(df, by=by, top=top, db=db)})
    else:
        click.echo(_table(df, by=by, top=top, db=db))
    outside = int((df["n_outside"] > 0).sum())
    if outside:
        click.echo(f"note: {outside} of {len(df)} rows have MAEs outside the truncation bounds (n_outside > 0); "
                   "their log p can mislead: screen them again with a wider --upper", err=True)


@click.command("export")
@_filter_options
@click.option("--out", required=True, help="Output file: .parquet or .csv.")
@click.option("--maes/--no-maes", default=True, show_default=True,
              help="Include the raw MAEs (a list column in Parquet, JSON text in CSV).")
def export_command(db, settings, look_back, depth, preset, cell, activation, recurrent_activation, head_activation,
                   out, maes):
    """Write a database's rows (joined with their settings) to Parquet or CSV."""
    import json

    p = Path(out)
    kind = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv"}.get(p.suffix.lower())
    if kind is None:
        raise InvalidParameterError(f"The '--out' option must end in .parquet or .csv. Got {out!r} instead.")
    if kind == "parquet":
        try:
            import pyarrow  # noqa: F401
        except ImportError as e:  # pragma: no cover - the parquet extra is missing
            raise MaeOrtError("Parquet export needs pyarrow: pip install 'mae-ort[parquet]' (or use .csv)") from e
    _writable(out)
    model = model_fields(preset=preset, cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                         head_activation=head_activation, caller="rank")
    df = _rows(db, "export", settings, look_back, depth, model, maes=maes)
    tmp = p.with_name(p.name + ".partial")
    try:
        if kind == "parquet":
            if maes:
                df["maes"] = [m.tolist() for m in df["maes"]]
            df.to_parquet(tmp, index=False)
        else:
            if maes:
                df["maes"] = [json.dumps([float(v) if math.isfinite(v) else None for v in m])
                              for m in df["maes"]]
            df.to_csv(tmp, index=False)
        os.replace(tmp, p)
    except OSError as e:
        raise DataError(f"cannot write {out!r}: {e.strerror or e}") from e
    finally:
        if tmp.exists():
            tmp.unlink()
    click.echo(f"wrote {len(df)} rows to {out}")


@click.command("plot")
@_filter_options
@click.option("--figure", "figure_name", type=click.Choice(FIGURES),
              required=True, help="p-vs-units: the paper's Fig. 2; p-vs-units-2layer: Fig. 3; heatmap: log p over "
                                  "two axes.")
@click.option("--out", required=True, help="PNG file to write.")
@click.option("--y", "y", default="p", show_default=True,
              help="Plotted column of the line figures: p, log_p, log_p_exact, mean, sd.")
@click.option("--log-y/--linear-y", "log_y", default=None,
              help="Logarithmic or linear y axis of the line figures [logarithmic for p, else linear].")
@click.option("--axes", default="u1,u2", show_default=True,
              help="Heat map axes: two of u1, u2, u3, look_back, depth (x,y).")
@click.option("--value", default="log_p", show_default=True, help="Heat map colour column.")
@click.option("--agg", type=click.Choice(AGGS), default="mean", show_default=True,
              help="Heat map: how rows sharing a cell are combined.")
def plot_command(db, settings, look_back, depth, preset, cell, activation, recurrent_activation, head_activation,
                 figure_name, out, y, log_y, axes, value, agg):
    """Plot p against units (the paper's figures 2 and 3) or a heat map of log p, as PNG.

    The rows must be of one model: in a database of several, choose one with --preset or
    --cell/--activation/--recurrent-activation/--head-activation.
    """
    from ..study.figures import figure, save

    if Path(out).suffix.lower() != ".png":
        raise InvalidParameterError(f"The '--out' option must be a .png file. Got {out!r} instead.")
    parts = [a.strip() for a in axes.split(",")]
    if figure_name == "heatmap" and len(parts) != 2:
        raise InvalidParameterError(f"The '--axes' option must name two axes such as u1,u2. Got {axes!r} instead.")
    lbs = _ints(look_back, "--look-back", "plot")
    depths = _ints(depth, "--depth", "plot")
    if figure_name == "heatmap" and depths is not None and len(depths) != 1:
        raise InvalidParameterError(f"The '--depth' option of a heat map must be one depth. Got {depth!r} instead.")
    _writable(out)
    model = model_fields(preset=preset, cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                         head_activation=head_activation, caller="rank")
    if figure_name == "heatmap":
        df = _rows(db, "plot", settings, None, None, model)
    else:
        df = _rows(db, "plot", settings, look_back, depth, model)
    if len(_models(df)) > 1:
        raise DataError(f"{db!r} holds {len(_models(df))} models: {_models_text(df)}; plot one, chosen with "
                        "--preset or --cell/--activation/--recurrent-activation/--head-activation")
    if (df["cell"] == "onnx").all():  # own ONNX models: one family, plotted against their number of weights (u1)
        df = df.assign(activation="onnx", recurrent_activation="onnx")
    if figure_name == "heatmap":
        fig = figure("heatmap", df, x=parts[0], y=parts[1], value=value, look_back=lbs,
                     depth=depths[0] if depths else None, agg=agg)
    else:
        fig = figure(figure_name, df, y=y, log_y=log_y)
    save(fig, out)
    click.echo(f"wrote {out}")


COMMANDS = (("screen", screen_command), ("rank", rank_command), ("export", export_command), ("plot", plot_command))
