"""The ``train`` command: train the k best screened rows by a score and save the best network."""

from __future__ import annotations

import click

from .._progress import Progress
from ..data import TARGET_FORMS
from ..model.architecture import model_fields
from ..study.train import TRAINERS
from ..study.winners import RANK_BY
from .options import (
    build_split,
    exit_interrupted,
    model_filter_options,
    season_option,
    series_options,
    split_options,
    strict_list,
)

__all__ = ["COMMANDS", "train_command"]


@click.command("train")
@click.option("--db", required=True, help="The results database with screened rows.")
@click.option("--top", "k", type=int, default=5, show_default=True, help="How many of the best rows to train.")
@click.option("--by", type=click.Choice(RANK_BY), default=None,
              help="The score that ranks the rows, best first as mae-ort rank --by orders it "
                   "(mae_ort.sampling.scores.RANK_ASCENDING) [default: readout where the rows have it (screen "
                   "--scores readout), else log_p].")
@click.option("--trainer", type=click.Choice(list(TRAINERS)), default="paper", show_default=True,
              help="Named trainer (see mae-ort validate --help).")
@click.option("--epochs", default="100", show_default=True, callback=strict_list,
              help="Epoch budgets; the best network is judged at the largest.")
@click.option("--seed", type=int, default=0, show_default=True, help="Keras seed of every training.")
@click.option("--out", default=None,
              help="Folder for the trained models: models/, best.keras, best.onnx (trained weights as initializers).")
@click.option("--settings", "settings_id", default=None, help="Sampling settings id (or prefix), when several.")
@click.option("--depth", default=None, callback=strict_list, help="Only rows of these depths, e.g. 2 or 1:3.")
@click.option("--look-back", "look_back", default=None, callback=strict_list, help="Only rows of these look-backs.")
@click.option("--target-form", "target_form", type=click.Choice(TARGET_FORMS), default=None,
              help="Only rows screened with this target form [the screened rows' own]. Each network is trained in "
                   "its rows' form: delta adds its output to the target's last value, and best.keras and best.onnx "
                   "forecast the level.")
@series_options
@split_options
@click.option("--jobs", type=int, default=1, show_default=True, help="Training processes.")
@click.option("--threads", type=int, default=None, help="Threads per training [cores // jobs].")
@click.option("--quiet", is_flag=True, help="No progress lines.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document instead of the table: the trained rows, the best one, the files written "
                   "(non-finite numbers as null).")
@season_option
@model_filter_options
def train_command(db, k, by, trainer, epochs, seed, out, settings_id, depth, look_back, target_form, csv_path,
                  input_cols, target_cols, scale, test_csv, test_points, jobs, threads, quiet, season, preset, cell,
                  activation, recurrent_activation, head_activation, as_json):
    """Train the best screened architectures by a training-free score; save the best as .keras and .onnx."""
    from ..screening.space import parse_ints
    from ..study.winners import train_top

    split = build_split(csv_path, input_cols, target_cols, scale, test_csv, test_points)
    model = model_fields(preset=preset, cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                         head_activation=head_activation)
    progress = Progress("train", unit="trainings", enabled=not quiet, tty=False, every=0)
    try:
        res = train_top(db, split, k=k, by=by, trainer=trainer, epochs=epochs, seed=seed, out=out, jobs=jobs,
                        threads=threads, settings_id=settings_id,
                        depth=list(parse_ints(depth, "depth", "train")) if depth else None,
                        look_back=list(parse_ints(look_back, "look_back", "train")) if look_back else None,
                        model=model, progress=progress, target_form=target_form, season=season)
    except KeyboardInterrupt as e:
        exit_interrupted(e, f"interrupted: finished trainings are stored in {db}; rerun the same command to resume")
    if as_json:
        from .jsonout import echo_json

        echo_json({"db": str(db), "rows": res.table, "best": res.best, "seconds": res.seconds, "paths": res.paths})
        return
    click.echo(res.table.to_string(index=False, float_format=lambda v: f"{v:.6g}"))
    b = res.best
    why = "lowest validation loss" if b["chosen_by"] == "val_loss" else "lowest training MAE (no validation split)"
    click.echo(f"best ({why}): {b['model']} look_back={b['look_back']}: test MAE {b['test_mae']:.6g} "
               f"({res.seconds:.1f} s)")
    from ..study.baselines import summary_line

    click.echo(f"baselines on the same test points: {summary_line(res.baselines, digits=6)}")
    beater = res.beaten_by()
    if beater is not None:
        click.echo(f"a baseline beats the best network: {beater.label} test MAE {beater.test_mae:.6g} against the "
                   f"network's {b['test_mae']:.6g}")
    for kind, path in res.paths.items():
        click.echo(f"wrote {kind}: {path}")


COMMANDS = (("train", train_command),)
