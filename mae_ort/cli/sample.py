"""The ``sample`` command: one architecture, its MAEs of random weights, the fit and log p."""

from __future__ import annotations

import sys

import click
import numpy as np

from .._progress import Progress
from .jsonout import echo_json
from .options import (
    load_series,
    model_options,
    own_model_options,
    sampling_options,
    series_options,
    split_list,
    strict_list,
)

__all__ = ["COMMANDS", "sample_command"]


@click.command("sample")
@click.option("--arch", default="31,31,31", show_default=True, callback=strict_list,
              help="Units per hidden layer, comma-separated.")
@click.option("--look-back", type=int, default=30, show_default=True, help="Window length.")
@model_options
@series_options
@sampling_options
@click.option("--json", "as_json", is_flag=True, help="Print the result as JSON (the Python result's field names).")
@click.option("--quiet", is_flag=True, help="No progress bar.")
@click.option("--save-model", type=click.Path(dir_okay=False), default=None,
              help="Also write the architecture's ONNX graph (weights as inputs) to this file.")
@click.option("--scores", "score_names", default=None,
              help="Also the other training-free scores: 'all' or names such as readout,readout_window,"
                   "readout_keras,lookback_ridge,hidden_cov,naswot,q05 (see mae_ort.sampling.scores.SCORES); "
                   "readout and readout_window from the MAE pass itself, the others from the same MAEs or their "
                   "own pass.")
@own_model_options
def sample_command(arch, look_back, preset, cell, activation, recurrent_activation, head_activation, csv_path,
                   input_cols, target_cols, sep, decimal, index_col, scale, samples, threshold, lower, upper, fit, init,
                   seed, target_form, runtime, device, threads, memory_budget, as_json, save_model, score_names,
                   onnx_path, onnx_input, layout, onnx_output, feature, weight_scale, freeze, quiet):
    """Sample one architecture, or your own ONNX model (--onnx): MAEs of random weights, truncated-normal fit,
    log p (natural logarithm)."""
    from .._checks import parse_bytes

    if onnx_path is not None:
        _sample_own(onnx_path, look_back, csv_path, input_cols, target_cols, scale, samples, threshold, lower, upper,
                    fit, init, seed, device, threads, parse_bytes(memory_budget), as_json, onnx_input, layout,
                    onnx_output, feature, weight_scale, freeze, save_model, score_names, quiet, target_form)
        return
    from ..data import header_note
    from ..model.architecture import check_head, head_for, resolve
    from ..runtimes import choose_runtime
    from ..sampling import Sampler

    a = resolve(arch, preset=preset, cell=cell, activation=activation,
                recurrent_activation=recurrent_activation, head_activation=head_for(head_activation, target_form))
    check_head(a.head_activation, target_form, "sample")
    series = load_series(csv_path, input_cols, target_cols, scale, sep=sep, decimal=decimal, index_col=index_col,
                         note=as_json)  # else the summary line says it
    model_path = None
    if save_model is not None:  # before the work, not after it
        from ..runtimes.export import writable_path

        model_path = writable_path(save_model)
    # A fresh install has no compiled Numba kernels: run this one job on onnxruntime rather than wait
    # 15-20 s for the compiler, and compile them in the background for the next run.
    chosen = choose_runtime(a, look_back, runtime=runtime, device=device, first_call=True)
    cold = chosen != choose_runtime(a, look_back, runtime=runtime, device=device)
    bar = Progress("sampling", unit="samples", enabled=not (as_json or quiet) and sys.stderr.isatty(), transient=True)
    which = None
    if score_names is not None:
        from .._checks import split_items
        from ..errors import InvalidParameterError
        from ..sampling.scores import score_names as _names

        tokens = split_items(score_names, "--scores")
        known = _names(a, "all", caller="sample")
        for i, t in enumerate(tokens, 1):  # strict: name the token that is wrong, and where it stands
            if t.lower() != "all" and t not in known:
                raise InvalidParameterError(f"The '--scores' option takes 'all' or names among {', '.join(known)}. "
                                            f"Got {t!r} (item {i}) instead.")
        try:
            which = _names(a, "all" if "all" in [t.lower() for t in tokens] else tokens, caller="sample")
        except InvalidParameterError as e:
            raise InvalidParameterError(str(e).replace("The 'which' parameter of sample", "--scores")) from None
    # the readout comes from the hidden states of the MAE pass itself
    pass_readout = which is not None and bool({"readout", "readout_window"} & set(which))
    sampler = Sampler(runtime=chosen if cold else runtime, device=device, threads=threads,
                      memory_budget=parse_bytes(memory_budget), readout=pass_readout)
    with bar:
        r = sampler.sample(series, a, look_back=look_back, samples=samples, threshold=threshold, lower=lower,
                           upper=upper, fit=fit, seed=seed, init=init, progress=bar, target_form=target_form)
    extra = {}
    if which is not None:
        from ..sampling.scores import scores_of

        drawn = r.settings.replace(samples=r.samples, auto="")  # samples="auto": the samples it drew
        rest = [n for n in which if n not in r.scores]
        extra = dict(scores_of(a, sampler.windows_of(series, look_back, target_form), r.maes, settings=drawn,
                               which=rest, sampler=sampler)) if rest else {}
        extra = {n: (r.scores[n] if n in r.scores else extra[n]) for n in which}
    if as_json:
        d = r.to_dict()
        if which is not None:
            d["scores"] = {k: (float(v) if np.isfinite(v) else None) for k, v in extra.items()}
        echo_json(d)
    else:
        _print(r, a, look_back, threshold, lower, upper, header_note(series))
        if extra:
            click.echo("  scores: " + "  ".join(f"{k} = {v:.6g}" for k, v in extra.items()))
    if model_path is not None:
        from ..runtimes.export import save_model as _save

        written = _save(a, look_back, model_path)
        click.echo(f"wrote the ONNX graph of {a.label()} at look_back={look_back} to {written}", err=as_json)
    if cold:
        from ..runtimes.fused import compile_in_background

        compile_in_background()
        click.echo("note: the Numba kernels are not compiled yet (a first run), so this run used onnxruntime "
                   "(the same MAEs up to float32 round-off); compiling them in the background for the next run",
                   err=True)


def _sample_own(path, look_back, csv_path, input_cols, target_cols, scale, samples, threshold, lower, upper, fit,
                init, seed, device, threads, memory_budget, as_json, onnx_input, layout, onnx_output, feature,
                weight_scale, freeze, save_model, score_names, quiet=False, target_form="level") -> None:
    """``sample --onnx``: an own model, its MAEs and fit (and the readout with ``--feature``)."""
    from ..errors import InvalidParameterError
    from ..sampling.own import OwnSampler, look_back_of, own_model
    from ..sampling.settings import Init, SamplingSettings

    ctx = click.get_current_context()
    given = {p: ctx.get_parameter_source(p) == click.core.ParameterSource.COMMANDLINE
             for p in ("arch", "preset", "cell", "activation", "recurrent_activation", "head_activation", "runtime",
                       "look_back")}
    extra = [p for p in ("arch", "preset", "cell", "activation", "recurrent_activation", "head_activation")
             if given[p]]
    if extra or save_model is not None:
        names = ", ".join("--" + p.replace("_", "-") for p in extra + (["save_model"] if save_model else []))
        raise InvalidParameterError(f"--onnx samples your own model: leave out {names}")
    if score_names is not None:
        raise InvalidParameterError("--onnx takes --feature TENSOR for the readout score, not --scores")
    model = own_model(path, input=onnx_input, layout=layout, output=onnx_output, feature=feature)
    lb = look_back_of(model, look_back if given["look_back"] or model.look_back is None else None, "sample")
    settings = SamplingSettings.checked("sample", samples=samples, threshold=threshold, lower=lower, upper=upper,
                                        fit=fit, init=Init.parse(init), seed=seed, target_form=target_form)
    series = load_series(csv_path, input_cols, target_cols, scale)
    frozen = split_list(freeze, "--freeze") or ()
    bar = Progress("sampling", unit="samples", enabled=not (as_json or quiet) and sys.stderr.isatty(), transient=True)
    with bar:
        r = OwnSampler(device=device, threads=threads, memory_budget=memory_budget).run(
            model, series, lb, settings, scale=weight_scale, frozen=frozen, progress=bar)
    if as_json:
        d = r.to_dict()
        d.update(model_file=model.name, n_weights=model.n_weights, digest=model.digest)
        echo_json(d)
        return
    click.echo(f"{model.name}  ({model.n_weights} weights in {len(model.weights)} tensors, onnx {model.digest})  "
               f"look_back={lb}  series={r.series} ({r.windows} windows)")
    click.echo(f"  input {model.data_input!r} {model.layout}, output {model.output!r}; init={r.init} "
               f"scale={weight_scale}" + (f" frozen={','.join(frozen)}" if frozen else ""))
    _print_fit(r, threshold, lower, upper)
    if r.scores:
        click.echo("  scores: " + "  ".join(f"{k} = {v:.6g}" for k, v in r.scores.items()))
    click.echo(f"  {r.seconds - r.setup_seconds:.3f} s sampling + {r.setup_seconds:.3f} s one-time (opening the "
               "session)")


def _print(r, a, look_back, threshold, lower, upper, note=None) -> None:
    click.echo(f"{a.label()}  look_back={look_back}  series={r.series} ({r.windows} windows"
               f"{f'; {note}' if note else ''})")
    click.echo(f"  cell={a.cell} activation={a.activation} recurrent_activation={a.recurrent_activation} "
               f"head={a.head_activation} init={r.init}" + (f" target_form={r.target_form}"
                                                            if r.target_form != "level" else ""))
    _print_fit(r, threshold, lower, upper)
    once = f" + {r.setup_seconds:.3f} s one-time (loading or compiling kernels, exporting graphs, opening " \
        "sessions)" if r.setup_seconds >= 0.0005 else ""
    click.echo(f"  {r.seconds - r.setup_seconds:.3f} s sampling{once}")


def _print_fit(r, threshold, lower, upper) -> None:
    """The summary's lines shared by built-in and own models: samples, the MAEs' mean and sd, p and log p."""
    auto = f" ({r.status}, {r.auto})" if r.auto else ""
    click.echo(f"  samples={r.samples}{auto} seed={r.seed} runtime={r.runtime} device={r.device}")
    click.echo(f"  mean MAE = {r.mean:.6g}   sd = {r.sd:.6g}   ({r.n_nonfinite} non-finite)")
    click.echo(f"  p = P(MAE < {threshold:g}) = {r.p:.6g}   log p = {r.log_p:.6g}"
               + (f"   (exact log p = {r.log_p_exact:.6g})" if r.log_p_exact != r.log_p else "")
               + f"   [{r.fit} fit, bounds {lower:g}..{upper:g}]")


COMMANDS = (("sample", sample_command),)
