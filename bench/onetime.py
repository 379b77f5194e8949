"""One-time costs, each measured in a fresh process (``python -m bench.onetime ...``).

* ``export CASES_JSON``: per case, with an empty graph cache: the export of the
  family graph (build + serialize + write), reading it back from the cache, opening
  the onnxruntime session (mae-ort's settings), and the first against the second run
  of one 8-sample chunk.
* ``numba DEPTHS``: importing the Numba kernels, the first call of the weight
  generator and the first call of the fused forward pass of each depth.  Run with a
  fresh ``NUMBA_CACHE_DIR`` for the cold cost (compilation), and a second time with
  the same directory for the cached cost (loading from the disk cache).
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time
import warnings


def export_costs(cases) -> list[dict]:
    from bench import cases as C
    from mae_ort.runtimes import export
    from mae_ort.runtimes.ort import OrtRuntime

    out = []
    for case in cases:
        with tempfile.TemporaryDirectory(prefix="mae-ort-bench-cache-") as tmp:
            os.environ["MAE_ORT_CACHE"] = tmp
            arch = case.arch()
            t0 = time.perf_counter()
            blob = export.model_bytes(arch, case.look_back)
            t1 = time.perf_counter()
            export.model_bytes(arch, case.look_back)
            t2 = time.perf_counter()
            rt = OrtRuntime()
            rt.session(arch, case.look_back)  # reads the cached graph, opens the session
            t3 = time.perf_counter()
            win = C.windows(case.series, case.look_back)
            w = C.weights(case, samples=8)
            t4 = time.perf_counter()
            rt.maes(arch, win, w)
            t5 = time.perf_counter()
            rt.maes(arch, win, w)
            t6 = time.perf_counter()
            out.append({"case": case.key, "export_s": t1 - t0, "cache_read_s": t2 - t1,
                        "session_s": t3 - t2, "first_chunk_run_s": t5 - t4, "second_chunk_run_s": t6 - t5,
                        "graph_bytes": len(blob)})
    return out


def numba_costs(depths) -> dict:
    import numpy as np

    t0 = time.perf_counter()
    from mae_ort.kernels import forward
    from mae_ort.kernels import random as krandom

    t1 = time.perf_counter()
    res = {"import_s": t1 - t0, "cache_dir": os.environ.get("NUMBA_CACHE_DIR", "(default: next to the sources)")}
    buf = np.empty((2, 3, 4), dtype=np.float32)
    t = time.perf_counter()
    krandom.fill(buf, seed=0, first_sample=0, stream=0, dist="normal", a=0.0, b=1.0)
    res["random_first_call_s"] = time.perf_counter() - t
    X = np.zeros((5, 2, 1), dtype=np.float32)
    y = np.zeros((5, 1), dtype=np.float32)
    for depth in depths:
        w, d = [], 1
        for _ in range(depth):
            w += [np.zeros((2, d, 8), np.float32), np.zeros((2, 2, 8), np.float32), np.zeros((2, 8), np.float32)]
            d = 2
        w += [np.zeros((2, 2, 1), np.float32), np.zeros((2, 1), np.float32)]
        t = time.perf_counter()
        forward.forward_maes(X, y, w, cell="lstm", activation="tanh", recurrent_activation="sigmoid",
                             head_activation="tanh")
        res[f"forward_depth{depth}_first_call_s"] = time.perf_counter() - t
    res["total_s"] = time.perf_counter() - t0
    return res


def main(argv) -> int:
    warnings.filterwarnings("ignore")
    if len(argv) == 2 and argv[0] == "export":
        from bench import cases as C

        cases = [C.Case.from_dict(d) for d in json.loads(argv[1])]
        res = export_costs(cases)
    elif len(argv) == 2 and argv[0] == "numba":
        res = numba_costs([int(v) for v in argv[1].split(",")])
    else:
        print(__doc__)
        return 2
    print("BENCH-RESULT " + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
