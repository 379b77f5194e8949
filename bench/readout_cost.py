"""What the readout scores cost beside the MAE pass alone, timed in the same run (issue 20).

``python -m bench.readout_cost [--repeats 7] [--samples 100] [--runtime numba]``

Case: ``[31, 31, 31]`` look-back 30 on the paper's sine (970 windows), Keras 3 preset, 100
samples, one :class:`~mae_ort.sampling.Sampler` per runtime (sessions and kernels warm), timed
A/B/C/D interleaved, medians:

* ``maes``: ``Sampler.maes`` (weights drawn and the MAE pass: the baseline);
* ``maes+readout``: ``Sampler.maes(readout=True)``: the same pass also writing the last hidden
  states, then the two ridges of every sample (``readout`` and ``readout_window``, one pass);
* ``readout_keras``: drawing Keras' initialisation and its own pass (``readout_keras``);
* ``lookback_ridge``: the ridge on the raw windows.

Writes ``bench/readout_cost.json`` and prints a Markdown section for ``bench/RESULTS.md``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bench.timing import interleaved_medians
from mae_ort._system import blas_info, library_versions, loadavg, machine_line
from mae_ort.data import prepare, sine
from mae_ort.model.architecture import resolve
from mae_ort.sampling import Sampler
from mae_ort.sampling.keras_init import keras_init_weights
from mae_ort.sampling.readout import lookback_ridge

HERE = Path(__file__).resolve().parent


def measure(runtime: str = "numba", samples: int = 100, repeats: int = 7, threads: int | None = None) -> dict:
    """Median seconds of each step (see the module docstring) and the ratios to the MAE pass alone."""
    arch = resolve([31, 31, 31], preset="keras3")
    sampler = Sampler(runtime=runtime, threads=threads)
    win = sampler.windows_of(prepare(sine(), name="sine"), 30)
    kw = dict(samples=samples, seed=0)

    steps = {
        "maes": lambda: sampler.maes(arch, win, **kw),
        "maes+readout": lambda: sampler.maes(arch, win, readout=True, **kw),
        "readout_keras": lambda: sampler.readout_of(arch, win, keras_init_weights(
            arch, n_in=win.n_in, n_out=win.n_out, samples=samples, seed=0)),
        "lookback_ridge": lambda: lookback_ridge(win.X, win.y),
    }
    med, times = interleaved_medians(steps, repeats)
    base = med["maes"]
    return {"runtime": runtime, "samples": samples, "repeats": repeats, "windows": win.n,
            "median_seconds": med, "times": times,
            "ratio_to_maes": {k: v / base for k, v in med.items()}}


def measure_all(runtimes: str = "numba,onnxruntime", samples: int = 100, repeats: int = 7) -> dict:
    """:func:`measure` for each of the comma-separated ``runtimes``, with the machine and the load average."""
    load0 = loadavg()
    runs = [measure(r, samples, repeats) for r in runtimes.split(",")]
    return {"machine": machine_line(), "blas": blas_info(), "versions": library_versions(with_keras=False),
            "loadavg_start": load0, "loadavg_end": loadavg(), "runs": runs}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=7)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--runtime", default="numba,onnxruntime", help="comma-separated runtimes")
    ap.add_argument("--out", default=str(HERE / "readout_cost.json"))
    ap.add_argument("--bench-result", action="store_true", help="print the results as one BENCH-RESULT line "
                    "(for bench.suite) and write nothing")
    a = ap.parse_args(argv)
    res = measure_all(a.runtime, a.samples, a.repeats)
    if a.bench_result:
        print("BENCH-RESULT " + json.dumps(res), flush=True)
        return res
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(render(res))
    return res


def render(res: dict) -> str:
    """The Markdown section of ``bench/RESULTS.md``."""
    lines = [
        "## What the readout scores cost (issue 20)",
        "",
        f"`python -m bench.readout_cost` on {res['machine']} (BLAS {res['blas'].get('internal_api')} "
        f"{res['blas'].get('architecture')}); `[31,31,31]` look-back 30 on the sine, Keras 3 preset, "
        f"load average {res['loadavg_start']} at the start and {res['loadavg_end']} at the end. "
        "Medians of interleaved repeats; ratio to the MAE pass alone of the same runtime in the same run.",
        "",
        "| runtime | samples | MAE pass alone (s) | MAEs + `readout` (s) | ratio | `readout_keras` pass (s) | "
        "ratio | `lookback_ridge` (s) |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in res["runs"]:
        m, q = r["median_seconds"], r["ratio_to_maes"]
        lines.append(f"| {r['runtime']} | {r['samples']} | {m['maes']:.3f} | {m['maes+readout']:.3f} | "
                     f"{q['maes+readout']:.2f}x | {m['readout_keras']:.3f} | {q['readout_keras']:.2f}x | "
                     f"{m['lookback_ridge']:.4f} |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
