"""The ``validate`` and ``report`` commands of ``mae-ort``.

Bad input raises :class:`~mae_ort.errors.MaeOrtError` (or a click usage error), which
``mae_ort.cli.main`` prints on one line with exit code 2.  Ctrl-C or SIGTERM during
``validate`` keeps every finished architecture, stops the training processes and exits
with code 130 (143 for SIGTERM); rerun the same command to resume.
"""

from __future__ import annotations

import click

from .._progress import Progress
from ..data import TARGET_FORMS
from ..errors import InvalidParameterError, MaeOrtError
from ..model.architecture import model_fields
from ..study.train import LOSSES, OPTIMIZERS, TEST_MODES, TRAINERS
from .options import (
    build_split,
    exit_interrupted,
    model_filter_options,
    season_option,
    series_options,
    split_options,
    strict_list,
)

__all__ = ["COMMANDS", "validate_command", "report_command"]

def _ints(text, name):
    if text is None:
        return None
    from ..screening.space import parse_ints

    return list(parse_ints(text, name, "validate"))


def _patience(text):
    if text is None or str(text).lower() in ("none", "off"):
        return None
    try:
        return int(text)
    except ValueError:
        raise InvalidParameterError(f"The 'patience' parameter of validate must be an int >= 0 or 'none'. "
                                    f"Got {text!r} instead.") from None


def _pick(text):
    if str(text).lower() == "all":
        return "all"
    try:
        return int(text)
    except ValueError:
        raise InvalidParameterError(f"The 'pick' parameter of validate must be a positive int or 'all'. "
                                    f"Got {text!r} instead.") from None


@click.command("validate")
@click.option("--db", required=True, help="The results database with screened rows (mae-ort screen --db).")
@click.option("--pick", default="30", show_default=True,
              help="Architectures to train, picked uniformly at random (seeded) from the screened rows, or 'all'.")
@click.option("--epochs", default="1,10,100", show_default=True, callback=strict_list,
              help="Epoch budgets; each architecture is trained once, for the largest, and tested at each.")
@click.option("--seed", type=int, default=0, show_default=True, help="Seed of the pick and of Keras (set_random_seed).")
@click.option("--settings", "settings_id", default=None,
              help="Sampling settings id (or prefix) when several were screened on this series.")
@click.option("--depth", default=None, callback=strict_list, help="Only these depths, e.g. 2 or 1:3.")
@click.option("--look-back", "look_back", default=None, callback=strict_list,
              help="Only these look-backs, e.g. 1,10 or 1:30.")
@click.option("--target-form", "target_form", type=click.Choice(TARGET_FORMS), default=None,
              help="Only rows screened with this target form [the screened rows' own]. Each network is trained in "
                   "its rows' form: delta adds its output to the target's last value, and is tested on the level.")
@series_options
@split_options
@click.option("--trainer", type=click.Choice(list(TRAINERS)), default="paper", show_default=True,
              help="Named trainer: paper (Adam 5e-5, batch 5, dropout 0.3, early stopping), reference (the same at "
                   "batch 512), modern (Adam 1e-3, batch 32, shuffled), forecast (real series, --target-form delta: "
                   "Adam 5e-3, batch 16, patience 20, --epochs 150; docs/trainer-convergence.md). The options below "
                   "override its settings.")
@click.option("--repeats", type=int, default=1, show_default=True,
              help="Trainings per architecture (seeds --seed, --seed+1, ...), summarised by their median test MAE; "
                   "2 or more measure the trainer's noise (the report's noise ceiling).")
@click.option("--optimizer", type=click.Choice(OPTIMIZERS), default=None, help="Keras optimizer [the trainer's].")
@click.option("--learning-rate", type=float, default=None, help="[the trainer's]")
@click.option("--loss", type=click.Choice(LOSSES), default=None, help="[the trainer's]")
@click.option("--dropout", type=float, default=None,
              help="Dropout after each recurrent layer, training only (0 = none) [the trainer's].")
@click.option("--batch-size", type=int, default=None, help="[the trainer's]")
@click.option("--validation-split", type=float, default=None,
              help="Last fraction of the training windows used for early stopping [the trainer's].")
@click.option("--shuffle/--no-shuffle", default=None, help="[the trainer's]")
@click.option("--patience", default=None, help="Early-stopping patience in epochs, or 'none' [the trainer's].")
@click.option("--min-delta", type=float, default=None, help="[the trainer's]")
@click.option("--restore-best/--no-restore-best", default=None,
              help="Keep the best-validation-loss weights [the trainer's].")
@click.option("--init", "train_init", default=None, help="Initial weights: keras, or e.g. uniform:-0.5,0.5.")
@click.option("--sample-on", type=click.Choice(["train", "test"]), default="train", show_default=True,
              help="Compare with sampling on the training part, or also sample on the test part "
                   "(the reference's, leaky).")
@click.option("--test-mode", type=click.Choice(TEST_MODES), default="one-step", show_default=True,
              help="Test MAE of one-step windows or of blind recursive prediction (both are stored when possible).")
@click.option("--jobs", type=int, default=1, show_default=True, help="Training processes.")
@click.option("--threads", type=int, default=None, help="Threads per training [cores // jobs].")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@season_option
@model_filter_options
def validate_command(db, pick, epochs, seed, settings_id, depth, look_back, target_form, csv_path, input_cols,
                     target_cols, scale, test_csv, test_points, trainer, repeats, optimizer, learning_rate, loss,
                     dropout, batch_size,
                     validation_split, shuffle, patience, min_delta, restore_best, train_init, sample_on, test_mode,
                     jobs, threads, quiet, season, preset, cell, activation, recurrent_activation, head_activation):
    """Train architectures picked from a screened database; store their test MAEs beside the sampling rows."""
    from ..study.train import TrainSettings, parse_epochs
    from ..study.validation import validate

    budgets = parse_epochs(epochs, "validate")
    given = dict(optimizer=optimizer, learning_rate=learning_rate, loss=loss, dropout=dropout, batch_size=batch_size,
                 validation_split=validation_split, shuffle=shuffle, min_delta=min_delta, restore_best=restore_best,
                 init=train_init)
    overrides = {k: v for k, v in given.items() if v is not None}
    if patience is not None:
        overrides["patience"] = _patience(patience)
    settings = TrainSettings.preset(trainer, **overrides)
    model = model_fields(preset=preset, cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                         head_activation=head_activation)
    split = build_split(csv_path, input_cols, target_cols, scale, test_csv, test_points)
    progress = Progress("validate", unit="architectures", enabled=not quiet, tty=False, every=0)

    try:
        df = validate(db, split, pick=_pick(pick), epochs=budgets, seed=seed, settings=settings, repeats=repeats,
                      settings_id=settings_id, depth=_ints(depth, "depth"), look_back=_ints(look_back, "look_back"),
                      model=model, sample_on=sample_on, test_mode=test_mode, jobs=jobs, threads=threads,
                      progress=progress, target_form=target_form, season=season)
    except KeyboardInterrupt as e:
        exit_interrupted(e, f"interrupted: finished architectures are stored in {db}; rerun the same command to "
                            "resume")
    a = df.attrs
    click.echo(f"{a['trained'] + a['skipped']} training(s) ({a['trainer']} trainer, {a['repeats']} per architecture) "
               f"of settings {a['settings_id']} in {db}: {a['trained']} now, {a['skipped']} already done, "
               f"{a['seconds']:.1f} s")
    mae = "test_mae" if test_mode == "one-step" else "test_mae_recursive"
    if len(df):
        from scipy import stats

        lines = []
        # one value per architecture: the median over its seeds (as the report)
        per = df.groupby(["sampling_id", "depth", "epochs"], as_index=False).agg(
            log_p_exact=("log_p_exact", "first"), look_back=("look_back", "first"),
            **{mae: (mae, "median")})
        over = f" (median over {a['repeats']} seeds)" if a["repeats"] > 1 else ""
        for (d, e), g in per.groupby(["depth", "epochs"]):
            ok = g[["log_p_exact", mae]].dropna()
            r = stats.spearmanr(ok.log_p_exact, ok[mae])[0] if len(ok) >= 3 else float("nan")
            lines.append(f"  depth {d}, {e:>4} epochs: {test_mode} test MAE{over} mean {g[mae].mean():.4f} "
                         f"sd {g[mae].std():.4f}; Spearman(log p exact, MAE) = {r:.3f} (n={len(ok)})"
                         + _beat_ridge(g[mae], g.look_back, a.get("baselines")))
        click.echo("\n".join(lines))
    if a.get("baselines"):
        from ..study.baselines import summary_line

        click.echo(f"  baselines on the same test points (one step ahead, fitted on the training part): "
                   f"{summary_line(a['baselines'])}")


def _beat_ridge(maes, look_backs, baselines) -> str:
    """``; k of n beat the linear autoregression at their look-back`` (empty without baselines)."""
    import numpy as np

    from ..study.baselines import ridge_at

    if not baselines:
        return ""
    ridge, m = ridge_at(baselines, look_backs), np.asarray(maes, dtype=float)
    ok = np.isfinite(ridge) & np.isfinite(m)
    return f"; {int((m[ok] < ridge[ok]).sum())} of {int(ok.sum())} beat the linear autoregression at their look-back"


@click.command("report")
@click.option("--db", required=True, help="The results database with trained rows (mae-ort validate).")
@click.option("--out", required=True, help="Output folder (README.md, CSV files, PNG scatter plots).")
@click.option("--test-mode", type=click.Choice(TEST_MODES), default="one-step", show_default=True)
@click.option("--sample-on", type=click.Choice(["train", "test"]), default="train", show_default=True,
              help="Which sampling rows to correlate: the screened ones, or those on the test part.")
@click.option("--depth", default=None, callback=strict_list, help="Only these depths.")
@click.option("--seed", type=int, default=None, help="Only the trainings with this seed.")
@click.option("--train-key", default=None, help="Only the trainings with these settings (see trained.csv).")
@click.option("--split-key", default=None, help="Only the trainings on this data.")
@click.option("--measure", type=int, default=0, show_default=True,
              help="Table 4: measure training and sampling of this many trained architectures (fresh processes).")
@click.option("--measure-epochs", type=int, default=None, help="Epochs of the measured trainings [the largest budget].")
@click.option("--measure-threads", type=int, default=None, help="Threads of the measured processes [all cores].")
@click.option("--title", default=None, help="Heading of README.md.")
@click.option("--notes", "notes_file", default=None, help="A Markdown file whose text goes under the heading.")
@click.option("--paper/--no-paper", default=True, show_default=True,
              help="Put the paper's numbers beside ours (the paper's sine); --no-paper for other series.")
@click.option("--quiet", is_flag=True, help="No progress lines (of --measure).")
@season_option
@model_filter_options
def report_command(db, out, test_mode, sample_on, depth, seed, train_key, split_key, measure, measure_epochs,
                   measure_threads, title, notes_file, paper, season, preset, cell, activation, recurrent_activation,
                   head_activation, quiet):
    """Correlation tables (Markdown + CSV), scatter plots and the time/memory table of a validation."""
    from pathlib import Path

    from ..study.jobs import measure_table4
    from ..study.report import write_report

    where = {"sample_on": sample_on, "depth": _ints(depth, "depth"), "seed": seed, "train_key": train_key,
             "split_key": split_key}
    if measure < 0:
        raise InvalidParameterError(f"The 'measure' parameter of report must be an int >= 0. Got {measure} instead.")
    notes = None
    if notes_file is not None:
        p = Path(notes_file)
        if not p.is_file():
            raise MaeOrtError(f"cannot read the notes file {notes_file!r}: no such file")
        notes = p.read_text()
    if measure:
        def progress(done, total, message):
            click.echo(f"[table 4 {done}/{total}] {message}", err=True)

        measure_table4(db, count=measure, epochs=measure_epochs, threads=measure_threads, where=where,
                       progress=None if quiet else progress)
    model = model_fields(preset=preset, cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                         head_activation=head_activation)
    path = write_report(db, out, test_mode=test_mode, title=title, notes=notes, where=where, paper=paper, model=model,
                        season=season)
    click.echo(f"wrote {path}")


COMMANDS = (("validate", validate_command), ("report", report_command))
