"""Options shared by the commands of ``mae-ort``, and the objects they name.

Choice lists come from the modules that define them (cells, activations, presets,
runtimes, fits, scalings), never from a copy here.
"""

from __future__ import annotations

import click

from ..data import SCALINGS, csv_split, prepare, sine, sine_split
from ..errors import MaeOrtError
from ..model.architecture import ACTIVATIONS, CELLS, PRESETS
from ..runtimes import DEVICES, RUNTIMES
from ..sampling.stats import FITS

__all__ = ["series_options", "model_options", "sampling_options", "load_series", "build_split", "split_list",
           "apply_options"]

_ACT = click.Choice(ACTIVATIONS, case_sensitive=False)


def split_list(text: str | None):
    """``"a, b"`` -> ``["a", "b"]``; empty or None -> None."""
    if text is None:
        return None
    parts = [p.strip() for p in str(text).split(",") if p.strip()]
    return parts or None


def apply_options(f, options):
    """Decorate ``f`` with click options, first listed first in ``--help``."""
    for o in reversed(options):
        f = o(f)
    return f


def series_options(f):
    """Options that choose and scale the series (shared by commands that read one)."""
    opts = [
        click.option("--csv", "csv_path", type=str, default=None,
                     help="CSV file of the series (default: the paper's sine, 1000 points)."),
        click.option("--input", "input_cols", default=None, help="Input column(s), comma-separated."),
        click.option("--target", "target_cols", default=None,
                     help="Target column(s), comma-separated (default: the input)."),
        click.option("--scale", type=click.Choice(SCALINGS), default="none",
                     show_default=True, help="Scale each column: min-max to [0,1] or [-1,1], or standardise."),
    ]
    return apply_options(f, opts)


def model_options(f):
    """Options that complete an architecture (cell, activations, preset)."""
    opts = [
        click.option("--preset", type=click.Choice(list(PRESETS)), default=None,
                     help="paper: LSTM with Keras 2 hard_sigmoid gates and a tanh head (Keras 2.1, as the paper)."),
        click.option("--cell", type=click.Choice(CELLS), default=None, help="Recurrent cell [lstm]."),
        click.option("--activation", type=_ACT, default=None, help="Cell activation [tanh]."),
        click.option("--recurrent-activation", type=_ACT, default=None, help="Gate activation [sigmoid]."),
        click.option("--head-activation", type=_ACT, default=None, help="Dense head activation [tanh]."),
    ]
    return apply_options(f, opts)


def sampling_options(f):
    """Options of the sampling itself (shared by sample and screen)."""
    opts = [
        click.option("--samples", type=int, default=100, show_default=True,
                     help="Random weight samples per architecture."),
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
        click.option("--runtime", type=click.Choice(RUNTIMES), default="auto", show_default=True),
        click.option("--device", type=click.Choice(DEVICES), default="cpu", show_default=True),
        click.option("--threads", type=int, default=None, help="Runtime threads (default: all cores)."),
        click.option("--memory-budget", default="1GiB", show_default=True, help="Memory one chunk of samples may use."),
    ]
    return apply_options(f, opts)


def load_series(csv_path, input_cols, target_cols, scale):
    """The prepared series that a command's options name."""
    if csv_path is None:
        if input_cols or target_cols:
            raise MaeOrtError("--input/--target need --csv (the default series is the paper's sine)")
        return prepare(sine(), scale=scale, name="sine")
    return prepare(csv_path, input=split_list(input_cols), target=split_list(target_cols), scale=scale)




def build_split(csv_path, input_cols, target_cols, scale, test_csv, test_points):
    """The train/test split that the series options name."""
    if csv_path is None:
        if input_cols or target_cols:
            raise MaeOrtError("--input/--target need --csv (the default series is the paper's sine)")
        if test_csv is not None:
            raise MaeOrtError("--test-csv needs --csv (the default series is the paper's sine: its test part is "
                              "the sine's continuation)")
        return sine_split(1000, 200 if test_points is None else test_points, scale=scale)
    if test_csv is None and test_points is None:
        raise MaeOrtError("with --csv give the test data: --test-csv FILE (same columns) or --test-points N "
                          "(the last N rows)")
    if test_csv is not None and test_points is not None:
        raise MaeOrtError("give one of --test-csv and --test-points, not both")
    return csv_split(csv_path, test_csv, input=split_list(input_cols), target=split_list(target_cols), scale=scale,
                     test_points=test_points)
