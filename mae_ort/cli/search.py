"""The ``search`` command of ``mae-ort``: an Optuna study over a grid, scored by MAE random sampling.

Bad input (an unknown sampler or objective, ``--trials 0``, a storage that cannot be
opened or whose database driver is missing, a study name already used with another grid or
other settings, Optuna itself missing) prints one line
starting with ``error:`` and exits with code 2, before anything is written.  Ctrl-C
keeps every finished trial and exits with code 130 (SIGTERM: 143); the same command
resumes.
"""

from __future__ import annotations

import click

from .._progress import Progress
from ..errors import InvalidParameterError, RuntimeUnavailableError
from ..sampling.settings import SEEDING
from ..screening.space import SPACE_PRESETS
from ..search.names import OBJECTIVES, SAMPLERS
from .options import (
    exit_interrupted,
    load_series,
    model_options,
    sampling_options,
    series_options,
    space_options,
    space_plan,
)

__all__ = ["COMMANDS", "search_command"]

_SPACES = tuple(SPACE_PRESETS)


def _grid(space_name, units, layers, look_back, preset, cell, activation, recurrent_activation, head_activation):
    from ..screening.space import grid, preset_space

    model = dict(cell=cell, activation=activation, recurrent_activation=recurrent_activation,
                 head_activation=head_activation)
    if space_name is not None:
        over = dict(model, units=list(units) if units else None, layers=layers, look_back=look_back)
        if preset is not None:
            over["preset"] = preset
        return preset_space(space_name, **over)
    if units:
        return grid(units=list(units), layers=layers or str(len(units)), look_back=look_back or "1,10,20,30",
                    preset=preset, name="grid", **model)
    raise InvalidParameterError("say what to search: --space NAME (" + ", ".join(_SPACES)
                                + ") or --units RANGE (with --layers and --look-back)")


@click.command("search")
@space_options
@click.option("--trials", type=int, default=100, show_default=True,
              help="Evaluated trials the study should hold (a rerun resumes an interrupted search).")
@click.option("--sampler", type=click.Choice(SAMPLERS), default="tpe", show_default=True,
              help="Optuna's TPE, GP (needs torch) or random sampler, or RESN (Camero et al. 2020).")
@click.option("--objective", default="readout", show_default=True,
              help=f"The stored score to optimise ({', '.join(f'{k}: {v}' for k, v in OBJECTIVES.items())}; "
                   "mae_ort.sampling.scores.SCORES says why each way).")
@click.option("--db", required=True, help="The results database (SQLite), created if missing; rows already there "
                                          "are reused, never sampled again.")
@click.option("--study", "study_name", default=None,
              help="The study's name [derived from the sampler, the grid, the settings and the objective, so the "
                   "same command resumes].")
@click.option("--storage", default=None, help="Where the study lives: a SQLAlchemy URL [the --db file].")
@click.option("--jobs", type=int, default=None,
              help="Trials evaluated at once: worker processes [1: this process]; with --scheduler, trials per batch "
                   "[8].")
@click.option("--scheduler", default=None, help="Score the trials on a Dask cluster, e.g. tcp://scheduler-host:8786.")
@click.option("--connect-timeout", type=float, default=10.0, show_default=True,
              help="Seconds to wait for the Dask scheduler.")
@click.option("--sampler-seed", type=int, default=None, help="Seed of the sampler [--seed].")
@click.option("--top", type=int, default=5, show_default=True, help="Rows of the best-trials table printed at the end.")
@click.option("--quiet", is_flag=True, help="No progress output.")
@click.option("--json", "as_json", is_flag=True,
              help="Print one JSON document instead of the summary and the table (the best --top trials; non-finite "
                   "numbers as null).")
@click.option("--seeding", type=click.Choice(["1", "2"]), default=str(SEEDING), show_default=True,
              help="Seeding version, as for screen (rows of a --seeding 1 screen are reused only with 1).")
@model_options
@series_options
@sampling_options
def search_command(space_name, units, layers, look_back, trials, sampler, objective, db, study_name, storage, jobs,
                   scheduler, connect_timeout, sampler_seed, top, quiet, seeding, preset, cell, activation,
                   recurrent_activation, head_activation, csv_path, input_cols, target_cols, scale, samples, threshold,
                   lower, upper, fit, init, seed, target_form, runtime, device, threads, memory_budget, as_json):
    """Search a grid with an Optuna sampler, scoring each trial by MAE random sampling (resumable)."""
    from .._checks import parse_bytes
    from ..sampling.scores import check_score

    objective = check_score(objective, "--objective")

    try:
        from ..search.engine import best_frame, search
    except ModuleNotFoundError as e:
        if (e.name or "").split(".")[0] != "optuna":
            raise
        raise RuntimeUnavailableError("mae-ort search needs Optuna: pip install 'mae-ort[search]'") from e

    from ..model.architecture import head_for

    space = _grid(space_name, units, layers, look_back, preset, cell, activation, recurrent_activation,
                  head_for(head_activation, target_form))
    series = load_series(csv_path, input_cols, target_cols, scale)
    budget = parse_bytes(memory_budget)
    plan = space_plan(space, series, samples, budget, readout=True, threads=threads, parallel=jobs, caller="search",
                      trials=trials)  # refuses a grid whose largest member cannot fit
    reporter = Progress(f"search ({sampler})", unit="trials", enabled=not quiet,
                        header=f"{space.describe()}; db {db}\n{plan}")
    try:
        study = search(space, series, trials=trials, sampler=sampler, objective=objective, db=db, storage=storage,
                       study=study_name, samples=samples, threshold=threshold, lower=lower, upper=upper, fit=fit,
                       init=init, seed=seed, sampler_seed=sampler_seed, jobs=jobs, scheduler=scheduler,
                       connect_timeout=connect_timeout, runtime=runtime, device=device, threads=threads,
                       memory_budget=budget, progress=reporter, seeding=int(seeding), target_form=target_form)
    except KeyboardInterrupt as e:
        reporter.close()
        exit_interrupted(e, f"interrupted: {reporter.done} new trial(s) kept in {storage or db}; rerun the same "
                            "command to resume")
    finally:
        reporter.close()
    last = study.user_attrs.get("mae_ort_last_run", {})
    n = sum(1 for t in study.get_trials(deepcopy=False) if t.state.is_finished())
    if as_json:
        from .jsonout import echo_json

        echo_json({"study": study.study_name, "storage": storage or str(db), "trials": n,
                   "new_trials": last.get("new_trials", 0), "rows_sampled": last.get("new_rows", 0),
                   "rows_reused": last.get("reused_rows", 0), "seconds": last.get("seconds", 0.0),
                   "best": best_frame(study, top) if top > 0 else []})
        return
    click.echo(f"study {study.study_name} in {storage or db}: {n} trials ({last.get('new_trials', 0)} new), "
               f"{last.get('new_rows', 0)} rows sampled, {last.get('reused_rows', 0)} reused from the database, "
               f"{last.get('seconds', 0.0):.1f} s")
    if top > 0:
        df = best_frame(study, top)
        if len(df):
            click.echo(df.to_string(index=False, float_format=lambda v: f"{v:.6g}"))


COMMANDS = (("search", search_command),)
