"""What sampling your own ONNX model costs against the built-in runtimes, timed in the same run (issue 23).

``python -m bench.own_model [--repeats 5] [--samples 100] [--threads N]``

Case: ``[31, 31, 31]`` look-back 30 on the paper's sine (970 windows), Keras 3 preset, 100 samples
drawn from seed 0; every path warm (kernels compiled, sessions open), timed interleaved, medians:

* ``builtin_numba``: ``Sampler(runtime="numba").maes``, the fused kernel (the baseline);
* ``builtin_ort``: ``Sampler(runtime="onnxruntime").maes``: the family graph with a sample axis;
* ``own_keras_graph``: the own-model path (:mod:`mae_ort.sampling.own`) on the same architecture's plain
  inference graph (:func:`mae_ort.runtimes.inference.inference_model`, one weight set as initializers,
  lifted back to inputs): one run per sample over all windows;
* ``own_torch_lstm``: the own-model path on ``torch.onnx.export`` of an ``nn.LSTM(1, 31, num_layers=3)`` +
  ``Linear`` + ``tanh`` forecaster (onnxruntime's native ``LSTM`` operator), where torch is installed.

Each own-model timing includes drawing its weights (as the built-in ones do).  Writes
``bench/own_model.json`` and prints a Markdown section.
"""

from __future__ import annotations

import argparse
import io
import json
import warnings
from pathlib import Path

from bench.timing import interleaved_medians
from mae_ort._system import library_versions, loadavg, machine_line
from mae_ort.data import prepare, sine
from mae_ort.model.architecture import resolve
from mae_ort.runtimes.inference import inference_model
from mae_ort.sampling import Sampler, SamplingSettings
from mae_ort.sampling.own import OwnSampler, own_model

HERE = Path(__file__).resolve().parent


def torch_lstm_bytes(look_back: int = 30) -> bytes | None:
    """``torch.onnx.export`` of an LSTM(1, 31, 3 layers) + Linear + tanh forecaster; None without torch."""
    try:
        import torch
    except ImportError:
        return None

    class Forecaster(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.rnn = torch.nn.LSTM(1, 31, num_layers=3, batch_first=True)
            self.head = torch.nn.Linear(31, 1)

        def forward(self, x):
            out, _ = self.rnn(x)
            return torch.tanh(self.head(out[:, -1, :]))

    torch.manual_seed(0)
    buf = io.BytesIO()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Forecaster().eval(), (torch.zeros(2, look_back, 1),), buf, input_names=["x"],
                          output_names=["y"], dynamic_axes={"x": {0: "windows"}, "y": {0: "windows"}}, dynamo=False)
    return buf.getvalue()


def measure(samples: int = 100, repeats: int = 5, threads: int | None = None) -> dict:
    """Median seconds of each path (see the module docstring) and the ratios to the fused kernel."""
    arch = resolve([31, 31, 31], preset="keras3")
    series = prepare(sine(), name="sine")
    numba = Sampler(runtime="numba", threads=threads)
    ortrt = Sampler(runtime="onnxruntime", threads=threads)
    win = numba.windows_of(series, 30)
    w0 = [w[0] for w in numba.weights(arch, n_in=1, n_out=1, samples=1)]
    keras_graph = own_model(inference_model(arch, 30, w0, n_in=1, n_out=1), name="keras-graph")
    own = OwnSampler(threads=threads)
    settings = SamplingSettings(samples=samples, seed=0)

    def own_path(m, frozen=()):
        return lambda: own.draw_maes(m, win, settings, count=samples, first=0, scale="fixed", frozen=frozen,
                                     readout=False)

    steps = {
        "builtin_numba": lambda: numba.maes(arch, win, samples=samples, seed=0),
        "builtin_ort": lambda: ortrt.maes(arch, win, samples=samples, seed=0),
        "own_keras_graph": own_path(keras_graph, ("one4",)),  # the graph's column of ones stays
    }
    data = torch_lstm_bytes()
    if data is not None:
        steps["own_torch_lstm"] = own_path(own_model(data, name="torch-lstm"))
    med, times = interleaved_medians(steps, repeats)
    base = med["builtin_numba"]
    return {"samples": samples, "repeats": repeats, "threads": threads, "windows": win.n, "median_seconds": med,
            "times": times,
            "ratio_to_builtin_numba": {k: v / base for k, v in med.items()},
            "torch": data is not None}


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--samples", type=int, default=100)
    ap.add_argument("--threads", type=int, default=None, help="threads of every path [all cores]")
    ap.add_argument("--out", default=str(HERE / "own_model.json"))
    a = ap.parse_args(argv)
    load0 = loadavg()
    run = measure(a.samples, a.repeats, a.threads)
    res = {"machine": machine_line(), "versions": library_versions(with_keras=False), "loadavg_start": load0,
           "loadavg_end": loadavg(), "run": run}
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(render(res))
    return res


def render(res: dict) -> str:
    """A Markdown table of the run."""
    r = res["run"]
    lines = [
        "## What your own model costs (issue 23)",
        "",
        f"`python -m bench.own_model` on {res['machine']}; `[31,31,31]` look-back 30 on the sine ({r['windows']} "
        f"windows), {r['samples']} samples, threads {r.get('threads') or 'all cores'}, "
        f"load average {res['loadavg_start']} at the start and "
        f"{res['loadavg_end']} at the end. Medians of {r['repeats']} interleaved repeats.",
        "",
        "| path | median (s) | ratio to the fused kernel |",
        "|---|---|---|",
    ]
    for k, v in r["median_seconds"].items():
        lines.append(f"| `{k}` | {v:.3f} | {r['ratio_to_builtin_numba'][k]:.2f}x |")
    return "\n".join(lines) + "\n"


if __name__ == "__main__":
    main()
