"""Options shared by the commands of ``mae-ort``, and the objects they name.

Choice lists come from the modules that define them (cells, activations, presets,
runtimes, fits, scalings), never from a copy here.
"""

from __future__ import annotations

import click

from .._checks import split_items
from ..data import HEADERS, SCALINGS, TARGET_FORMS, csv_split, header_note, prepare, sine, sine_split
from ..errors import MaeOrtError
from ..model.architecture import ACTIVATIONS, CELLS, PRESETS
from ..runtimes import DEVICES, RUNTIMES
from ..sampling.stats import FITS

__all__ = ["series_options", "model_options", "sampling_options", "load_series", "build_split", "split_list",
           "apply_options", "csv_options_in_use", "CSV_FORMAT_KEY", "MODEL_FILTERS", "model_filter_options",
           "split_options", "exit_interrupted", "space_options", "space_plan", "strict_list", "own_model_options",
           "TARGET_FORM_HELP", "target_form_option", "season_option"]

_ACT = click.Choice(ACTIVATIONS, case_sensitive=False)


def split_list(text: str | None, option: str = "--input"):
    """``"a, b"`` -> ``["a", "b"]``; None -> None; an empty item (``''``, ``','``, ``'a,'``) is refused, naming
    ``option`` and the item's position."""
    if text is None:
        return None
    return split_items(text, option)


def strict_list(ctx, param, value):
    """click callback of a list option: refuse an empty item (``4,,4``, ``4,``, ``''``) before any work, with one
    line naming the option and the item's position (:func:`mae_ort._checks.split_items`)."""
    if value is not None:
        for v in value if isinstance(value, (tuple, list)) else (value,):
            split_items(v, max(param.opts, key=len))
    return value


def apply_options(f, options):
    """Decorate ``f`` with click options, first listed first in ``--help``."""
    for o in reversed(options):
        f = o(f)
    return f


#: Where :func:`series_options` leaves the CSV options of the running command (``click`` context meta).
CSV_FORMAT_KEY = "mae_ort.csv_format"
_CSV_PARAMS = ("sep", "decimal", "index_col", "header")


def series_options(f):
    """Options that choose, read and scale the series (shared by commands that read one).

    ``--sep``, ``--decimal``, ``--index-col`` and ``--header`` reach :func:`load_series` and
    :func:`build_split` through the click context, so a command passes them on without
    naming them; a command that takes ``sep``, ``decimal``, ``index_col`` or ``header``
    parameters also gets them as arguments.
    """
    import functools
    import inspect

    accepted = set(inspect.signature(f).parameters)

    @functools.wraps(f)
    def command(*args, **kwargs):
        fmt = {k: kwargs[k] if k in accepted else kwargs.pop(k) for k in _CSV_PARAMS}
        ctx = click.get_current_context(silent=True)
        if ctx is not None:
            ctx.meta[CSV_FORMAT_KEY] = fmt
        return f(*args, **kwargs)

    opts = [
        click.option("--csv", "csv_path", type=str, default=None,
                     help="CSV file of the series (default: the paper's sine, 1000 points)."),
        click.option("--input", "input_cols", default=None, callback=strict_list,
                     help="Input column(s), comma-separated (default: the one numeric column; text and date "
                          "columns are ignored)."),
        click.option("--target", "target_cols", default=None, callback=strict_list,
                     help="Target column(s), comma-separated (default: the input)."),
        click.option("--sep", default=None, help="CSV field separator, one character [,]; 'tab' for tabs."),
        click.option("--decimal", default=None, help="CSV decimal mark [.]; files with decimal commas: "
                                                     "--sep ';' --decimal ','."),
        click.option("--index-col", "index_col", default=None,
                     help="CSV column to use as the index (e.g. the dates): never an input or target."),
        click.option("--header", type=click.Choice(HEADERS), default=None,
                     help="Whether the CSV's first line names the columns [auto: yes, unless every cell of it is a "
                          "number; then the columns are numbered 0..N-1]."),
        click.option("--scale", type=click.Choice(SCALINGS), default="none",
                     show_default=True, help="Scale each column: min-max to [0,1] or [-1,1], or standardise."),
    ]
    return apply_options(command, opts)


def csv_options_in_use() -> dict:
    """The ``--sep``/``--decimal``/``--index-col``/``--header`` of the running command (all None outside one)."""
    ctx = click.get_current_context(silent=True)  # meta is shared by a context and its parents
    fmt = None if ctx is None else ctx.meta.get(CSV_FORMAT_KEY)
    return dict(fmt) if fmt else dict.fromkeys(_CSV_PARAMS)


def model_options(f):
    """Options that complete an architecture (cell, activations, preset)."""
    opts = [
        click.option("--preset", type=click.Choice(list(PRESETS)), default=None,
                     help="paper: LSTM with Keras 2 hard_sigmoid gates and a tanh head (Keras 2.1, as the paper)."),
        click.option("--cell", type=click.Choice(CELLS), default=None, help="Recurrent cell [lstm]."),
        click.option("--activation", type=_ACT, default=None, help="Cell activation [tanh]."),
        click.option("--recurrent-activation", type=_ACT, default=None, help="Gate activation [sigmoid]."),
        click.option("--head-activation", type=_ACT, default=None,
                     help="Dense head activation [tanh; linear with --target-form delta]."),
    ]
    return apply_options(f, opts)


class _Samples(click.ParamType):
    """``--samples``: an int, ``auto`` or ``auto:key=value,...`` (checked by the library, one-line errors)."""

    name = "N|auto"

    def convert(self, value, param, ctx):
        if isinstance(value, int) or str(value).strip().lower().startswith("auto"):
            return value if isinstance(value, int) else str(value).strip()
        try:
            return int(value)
        except ValueError:
            self.fail(f"{value!r} is not an int, 'auto' or 'auto:tol=0.5,max=400,...'", param, ctx)


#: The help of ``--target-form`` (sample, screen, search; validate and train say which rows it picks).
TARGET_FORM_HELP = ("What the networks forecast: level, the target's next value (the paper's); or delta, its change, "
                    "added to the target's last value (a residual connection to persistence: an output of 0 forecasts "
                    "the last value; also when the target is not an input). MAEs stay in the target's units. With "
                    "delta the head defaults to linear, since a change goes both ways; a head that cannot go below "
                    "zero (sigmoid, hard_sigmoid, relu) is refused.")


def target_form_option(f):
    """``--target-form level|delta`` with the default ``level`` (sampling commands)."""
    return click.option("--target-form", "target_form", type=click.Choice(TARGET_FORMS), default="level",
                        show_default=True, help=TARGET_FORM_HELP)(f)


def sampling_options(f):
    """Options of the sampling itself (shared by sample, screen and search)."""
    opts = [
        click.option("--samples", type=_Samples(), default=100, show_default=True,
                     help="Random weight samples per architecture, or 'auto': rounds until the 95 % intervals of "
                          "log p and of the mean MAE are narrow enough, e.g. auto:round=25,max=400,tol=0.5,rel=0.5,"
                          "mean=0.1 (the defaults; README: Samples that stop)."),
        click.option("--threshold", type=float, default=0.01, show_default=True, help="p = P(MAE < threshold)."),
        click.option("--lower", type=float, default=0.0, show_default=True,
                     help="Lower bound of the truncated normal."),
        click.option("--upper", type=float, default=2.0, show_default=True,
                     help="Upper bound of the truncated normal."),
        click.option("--fit", type=click.Choice(FITS), default="moments", show_default=True,
                     help="moments: the reference implementation's fit; mle: maximum likelihood."),
        click.option("--init", default="normal:0,1", show_default=True,
                     help="Weight distribution: normal:LOC,SCALE, uniform:LOW,HIGH or glorot."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random weight."),
        target_form_option,
        click.option("--runtime", type=click.Choice(RUNTIMES), default="auto", show_default=True),
        click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True),
        click.option("--threads", type=int, default=None, help="Runtime threads (default: all cores)."),
        click.option("--memory-budget", default="1GiB", show_default=True, help="Memory one chunk of samples may use."),
    ]
    return apply_options(f, opts)


_FROM_COMMAND = object()


def _csv_format(sep, decimal, index_col, header=_FROM_COMMAND) -> dict:
    given = csv_options_in_use()
    for k, v in (("sep", sep), ("decimal", decimal), ("index_col", index_col), ("header", header)):
        if v is not _FROM_COMMAND:
            given[k] = v
    return given


def _no_csv(input_cols, target_cols, fmt: dict) -> None:
    if input_cols or target_cols:
        raise MaeOrtError("--input/--target need --csv (the default series is the paper's sine)")
    used = [f"--{k.replace('_', '-')}" for k, v in fmt.items() if v is not None]
    if used:
        raise MaeOrtError(f"{'/'.join(used)} need{'s' if len(used) == 1 else ''} --csv (the default series is the "
                          "paper's sine)")


def load_series(csv_path, input_cols, target_cols, scale, *, sep=_FROM_COMMAND, decimal=_FROM_COMMAND,
                index_col=_FROM_COMMAND, header=_FROM_COMMAND, note: bool = True):
    """The prepared series that a command's options name.

    ``sep``, ``decimal``, ``index_col`` and ``header`` default to the running command's
    ``--sep``/``--decimal``/``--index-col``/``--header`` (see :func:`series_options`).
    With ``note``, a CSV file read without a header says so on stderr
    (``note: FILE: no header: columns numbered 0..N-1``).
    """
    fmt = _csv_format(sep, decimal, index_col, header)
    if csv_path is None:
        _no_csv(input_cols, target_cols, fmt)
        return prepare(sine(), scale=scale, name="sine")
    series = prepare(csv_path, input=split_list(input_cols), target=split_list(target_cols, "--target"),
                     scale=scale, **fmt)
    if note:
        _note_header(csv_path, series)
    return series


def _note_header(csv_path, series) -> None:
    text = header_note(series)
    if text is not None:
        click.echo(f"note: {csv_path}: {text} (--header yes reads the first line as names)", err=True)


def build_split(csv_path, input_cols, target_cols, scale, test_csv, test_points, *, sep=_FROM_COMMAND,
                decimal=_FROM_COMMAND, index_col=_FROM_COMMAND):
    """The train/test split that the series options name (CSV options as :func:`load_series`)."""
    fmt = _csv_format(sep, decimal, index_col)
    if csv_path is None:
        _no_csv(input_cols, target_cols, fmt)
        if test_csv is not None:
            raise MaeOrtError("--test-csv needs --csv (the default series is the paper's sine: its test part is "
                              "the sine's continuation)")
        return sine_split(1000, 200 if test_points is None else test_points, scale=scale)
    if test_csv is None and test_points is None:
        raise MaeOrtError("with --csv give the test data: --test-csv FILE (same columns) or --test-points N "
                          "(the last N rows)")
    if test_csv is not None and test_points is not None:
        raise MaeOrtError("give one of --test-csv and --test-points, not both")
    split = csv_split(csv_path, test_csv, input=split_list(input_cols), target=split_list(target_cols, "--target"),
                      scale=scale, test_points=test_points, **fmt)
    _note_header(csv_path, split.train)
    return split


#: Options that choose which model's rows a reading command uses (a preset fixes all four fields).
MODEL_FILTERS = [
    click.option("--preset", type=click.Choice(list(PRESETS)), default=None,
                 help="Only this model: paper (LSTM, Keras 2 hard_sigmoid gates, tanh head) or keras3 "
                      "(sigmoid gates)."),
    click.option("--cell", type=click.Choice(CELLS), default=None, help="Only this cell (replaces the preset's)."),
    click.option("--activation", type=_ACT, default=None, help="Only this cell activation."),
    click.option("--recurrent-activation", type=_ACT, default=None,
                 help="Only this gate activation (e.g. hard_sigmoid_keras2: the paper's)."),
    click.option("--head-activation", type=_ACT, default=None, help="Only this head activation."),
]


def model_filter_options(f):
    """The :data:`MODEL_FILTERS` options."""
    return apply_options(f, MODEL_FILTERS)


def split_options(f):
    """Where the test part of a train/test split comes from (with :func:`series_options`)."""
    return apply_options(f, [
        click.option("--test-csv", default=None,
                     help="Test data file (same columns; scaled like the --csv training data)."),
        click.option("--test-points", type=int, default=None,
                     help="Sine: test points after the 1000 training points [200]; CSV: test on its last N rows."),
    ])


def exit_interrupted(error: KeyboardInterrupt, message: str):
    """Print ``message`` (what was kept, how to resume) as the command's one line and leave with 128 + the
    signal's number (130 for Ctrl-C, 143 for SIGTERM)."""
    from .group import interrupted

    raise click.exceptions.Exit(interrupted(error, message)) from None


def space_options(f):
    """Options that build a search space: a paper preset, or per-layer units, depths and look-backs."""
    from ..screening.space import SPACE_PRESETS

    return apply_options(f, [
        click.option("--space", "space_name", type=click.Choice(tuple(SPACE_PRESETS)), default=None,
                     help="A search space of the paper (on its Keras 2.1 model); --units/--layers/--look-back "
                          "override parts."),
        click.option("--units", multiple=True, callback=strict_list,
                     help="Units of every layer: 7:31, 7:31:2 or 7,15,31; repeat for layer 1, 2, ... (deeper layers "
                          "repeat the last)."),
        click.option("--layers", default=None, callback=strict_list,
                     help="Depths, e.g. 1:3 [default: the number of --units]."),
        click.option("--look-back", "look_back", default=None, callback=strict_list,
                     help="Look-backs, e.g. 1,10,20,30 or 1:30 [1,10,20,30]."),
    ])


def own_model_options(f):
    """Options of an own ONNX model (``--onnx`` and how to read and sample it; :mod:`mae_ort.sampling.own`)."""
    from ..sampling.own import SCALES

    return apply_options(f, [
        click.option("--onnx", "onnx_path", default=None,
                     help="Your own forecaster: an ONNX file with one input [windows, look_back, features] and one "
                          "value per window out (screen: a file, a folder of .onnx files or a glob)."),
        click.option("--onnx-input", default=None, help="The data input's name [the one non-weight input]."),
        click.option("--layout", default="NTF", show_default=True,
                     help="The data input's axis order: NTF (windows, time, features), TNF (time-major) or NFT "
                          "(channels-first)."),
        click.option("--onnx-output", default=None, help="The output of one value per window [the only output]."),
        click.option("--feature", default=None,
                     help="A tensor of the graph (any intermediate value) whose values per window give the readout "
                          "score."),
        click.option("--weight-scale", type=click.Choice(SCALES), default="fixed", show_default=True,
                     help="fixed: every weight tensor from --init; file: --init's spread times each tensor's "
                          "standard deviation in the file."),
        click.option("--freeze", default=None, help="Weight tensors kept at the file's values, comma-separated."),
    ])


def space_plan(space, series, samples, memory_budget: int, *, readout: bool, threads: int | None, parallel,
               caller: str, trials: int | None = None) -> str:
    """Refuse, before any work, a space whose largest architecture cannot fit ``memory_budget`` (the message of
    ``sample``); else one line: its size, FLOPs, largest member and a first time estimate (``trials`` of its rows
    for a search)."""
    from .._system import default_threads
    from ..sampling.sampler import Sampler
    from ..sampling.settings import split_samples
    from ..screening.cost import space_cost

    count, _ = split_samples(samples, caller)
    cost = space_cost(space, series, samples=count, sampler=Sampler(memory_budget=memory_budget, readout=readout))
    cores = default_threads() if threads is None else threads * max(1, parallel or 1)
    if trials is None:
        return f"{caller}: {cost.describe(cores)} (rows already stored are skipped)"
    return f"{caller}: {cost.describe(cores, rows=min(trials, cost.rows), what='trials')}, of {cost.rows:,} rows"


def season_option(f):
    """``--season P``: the season of the forecasting baselines (seasonal naive, ETS, ARIMA)."""
    return click.option("--season", type=int, default=None,
                        help="The series' season in points (e.g. 12 monthly, 52 weekly, 7 daily): the baselines "
                             "then include the seasonal naive forecast and seasonal ETS and ARIMA. At least 2, at "
                             "most the training part's length.")(f)
