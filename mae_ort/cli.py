"""The ``mae-ort`` command: parsing, one-line errors (exit code 2), output."""

from __future__ import annotations

import json
import sys

import click

from .errors import MaeOrtError

__all__ = ["main", "cli"]

_ACT = click.Choice(["tanh", "sigmoid", "hard_sigmoid", "hard_sigmoid_keras2", "relu", "linear"], case_sensitive=False)


def _split(text: str | None):
    if text is None:
        return None
    parts = [p.strip() for p in text.split(",") if p.strip()]
    return parts or None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="mae-ort")
def cli() -> None:
    """Rank recurrent architectures by MAE random sampling, without training."""


def series_options(f):
    """Options that choose and scale the series (shared by commands that read one)."""
    opts = [
        click.option("--csv", "csv_path", type=str, default=None,
                     help="CSV file of the series (default: the paper's sine, 1000 points)."),
        click.option("--input", "input_cols", default=None, help="Input column(s), comma-separated."),
        click.option("--target", "target_cols", default=None, help="Target column(s), comma-separated (default: the input)."),
        click.option("--scale", type=click.Choice(["none", "minmax", "minmax-1", "standard"]), default="none",
                     show_default=True, help="Scale each column: min-max to [0,1] or [-1,1], or standardise."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def model_options(f):
    """Options that complete an architecture (cell, activations, preset)."""
    opts = [
        click.option("--preset", type=click.Choice(["paper", "keras3"]), default=None,
                     help="paper: LSTM with Keras 2 hard_sigmoid gates and a tanh head (Keras 2.1, as the paper)."),
        click.option("--cell", type=click.Choice(["lstm", "gru", "simple_rnn"]), default=None, help="Recurrent cell [lstm]."),
        click.option("--activation", type=_ACT, default=None, help="Cell activation [tanh]."),
        click.option("--recurrent-activation", type=_ACT, default=None, help="Gate activation [sigmoid]."),
        click.option("--head-activation", type=_ACT, default=None, help="Dense head activation [tanh]."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def sampling_options(f):
    """Options of the sampling itself (shared by sample and screen)."""
    opts = [
        click.option("--samples", type=int, default=100, show_default=True, help="Random weight samples per architecture."),
        click.option("--threshold", type=float, default=0.01, show_default=True, help="p = P(MAE < threshold)."),
        click.option("--lower", type=float, default=0.0, show_default=True, help="Lower bound of the truncated normal."),
        click.option("--upper", type=float, default=2.0, show_default=True, help="Upper bound of the truncated normal."),
        click.option("--fit", type=click.Choice(["moments", "mle"]), default="moments", show_default=True,
                     help="moments: the reference implementation's fit; mle: maximum likelihood."),
        click.option("--init", default="normal:0,1", show_default=True,
                     help="Weight distribution: normal:LOC,SCALE, uniform:LOW,HIGH or glorot."),
        click.option("--seed", type=int, default=0, show_default=True, help="Seed of every random weight."),
        click.option("--runtime", type=click.Choice(["auto", "onnxruntime", "numba"]), default="auto", show_default=True),
        click.option("--device", type=click.Choice(["cpu", "cuda"]), default="cpu", show_default=True),
        click.option("--threads", type=int, default=None, help="Runtime threads (default: all cores)."),
        click.option("--memory-budget", default="1GiB", show_default=True, help="Memory one chunk of samples may use."),
    ]
    for o in reversed(opts):
        f = o(f)
    return f


def load_series(csv_path, input_cols, target_cols, scale):
    """The prepared series that a command's options name."""
    from .data import prepare, sine

    if csv_path is None:
        if input_cols or target_cols:
            raise MaeOrtError("--input/--target need --csv (the default series is the paper's sine)")
        return prepare(sine(), scale=scale, name="sine")
    return prepare(csv_path, input=_split(input_cols), target=_split(target_cols), scale=scale)


@cli.command()
@click.option("--arch", default="31,31,31", show_default=True, help="Units per hidden layer, comma-separated.")
@click.option("--look-back", type=int, default=30, show_default=True, help="Window length.")
@model_options
@series_options
@sampling_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (the Python result's field names).")
@click.option("--save-model", type=click.Path(dir_okay=False), default=None,
              help="Also write the architecture's ONNX graph (weights as inputs) to this file.")
def sample(arch, look_back, preset, cell, activation, recurrent_activation, head_activation, csv_path, input_cols,
           target_cols, scale, samples, threshold, lower, upper, fit, init, seed, runtime, device, threads,
           memory_budget, as_json, save_model):
    """Sample one architecture: MAEs of random weights, truncated-normal fit, log p."""
    from ._units import parse_bytes
    from .sampler import Sampler, as_architecture

    a = as_architecture(arch, preset=preset, cell=cell, activation=activation,
                        recurrent_activation=recurrent_activation, head_activation=head_activation)
    series = load_series(csv_path, input_cols, target_cols, scale)
    sampler = Sampler(runtime=runtime, device=device, threads=threads, memory_budget=parse_bytes(memory_budget))
    progress = None
    if not as_json and sys.stderr.isatty():
        from rich.progress import Progress

        bar = Progress(transient=True)
        task = bar.add_task("sampling", total=samples)
        bar.start()
        progress = lambda done, total: bar.update(task, completed=done)  # noqa: E731
    try:
        r = sampler.sample(series, a, look_back=look_back, samples=samples, threshold=threshold, lower=lower,
                           upper=upper, fit=fit, seed=seed, init=init, progress=progress)
    finally:
        if progress is not None:
            bar.stop()
    if save_model:
        from .export import save_model as _save

        _save(a, look_back, save_model)
    if as_json:
        click.echo(json.dumps(r.to_dict()))
        return
    click.echo(f"{a.label()}  look_back={look_back}  series={r.series} ({r.windows} windows)")
    click.echo(f"  cell={a.cell} activation={a.activation} recurrent_activation={a.recurrent_activation} "
               f"head={a.head_activation} init={r.init}")
    click.echo(f"  samples={r.samples} seed={r.seed} runtime={r.runtime} device={r.device}")
    click.echo(f"  mean MAE = {r.mean:.6g}   sd = {r.sd:.6g}   ({r.n_nonfinite} non-finite)")
    click.echo(f"  p = P(MAE < {threshold:g}) = {r.p:.6g}   log p = {r.log_p:.6g}"
               + (f"   (exact log p = {r.log_p_exact:.6g})" if r.log_p_exact != r.log_p else "")
               + f"   [{r.fit} fit, bounds {lower:g}..{upper:g}]")
    click.echo(f"  {r.seconds:.3f} s")


def _register_commands() -> None:
    """Add the screening (screen, rank, export, plot) and validation (validate, report) commands."""
    import importlib

    for name in ("cli_screen", "cli_validate"):
        try:
            module = importlib.import_module(f"{__package__}.{name}")
        except ModuleNotFoundError as e:  # pragma: no cover - while a module is being written
            if e.name != f"{__package__}.{name}":
                raise
            continue
        module.register(cli)


_register_commands()


def main(argv=None) -> int:
    """Entry point: run the CLI; bad input prints one line and exits with code 2."""
    try:
        code = cli.main(args=argv, prog_name="mae-ort", standalone_mode=False)
        if isinstance(code, int) and code:
            return code
    except click.exceptions.Exit as e:
        return e.exit_code
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        click.echo(f"error: {e.format_message()}", err=True)
        return 2
    except MaeOrtError as e:
        click.echo(f"error: {e}", err=True)
        return 2
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        return 130
    return 0


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
