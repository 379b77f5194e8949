"""Where the time of the fused Numba runtime goes (``python -m bench.profile CASE_JSON``).

For one LSTM case, in a fresh process and on the threads the sampler uses, the median
of ``repeats`` runs of:

* ``sample``: the whole ``Sampler(runtime="numba").sample`` call;
* ``draw``: drawing the weights (``Sampler.weights``, the counter-based generator);
* ``kernel``: :func:`mae_ort.kernels.forward.forward_maes` on ready weights;
* ``products``: the kernel's matrix products alone: the same ``np.dot`` calls (same
  shapes, same windows per task, same task split over the same threads), with no
  gates, cell update, head or error.

``kernel - products`` is the element-wise work (bias-free gates, cell and state
updates, head, errors).  The products' rate is compared with this machine's
one-thread float32 GEMM rate (``bench.machine``): the products cannot run faster than
that rate times the threads, which bounds the kernel from below.
"""

from __future__ import annotations

import json
import sys
import time
import warnings

import numpy as np
from numba import njit, prange


@njit(parallel=True, cache=False)
def _products(Wp, units, n_in, LB, R, N, g):  # pragma: no cover - compiled
    """The matrix products of ``forward._run_task`` for every task (LSTM / SimpleRNN layout)."""
    nblocks = (N + R - 1) // R
    S = Wp.shape[0]
    depth = units.shape[0]
    total = n_in
    max_gh = 1
    for k in range(depth):
        total += units[k] + 1
        max_gh = max(max_gh, g * units[k])
    for task in prange(S * nblocks):
        s = task // nblocks
        nvalid = min(R, N - (task - s * nblocks) * R)
        Rt = min(R, ((nvalid + 7) // 8) * 8)  # as forward._forward_kernel
        w = Wp[s]
        B = np.full((total + 1, Rt), np.float32(0.01))
        Z = np.empty(max_gh * Rt, dtype=np.float32)
        for t in range(LB):
            ioff = 0
            d = n_in
            pos = 0
            for k in range(depth):
                H = units[k]
                gh = g * H
                Wk = w[pos:pos + (d + 1 + H) * gh].reshape((d + 1 + H, gh))
                Zk = Z[:gh * Rt].reshape((gh, Rt))
                if t == 0:
                    np.dot(Wk[:d + 1].T, B[ioff:ioff + d + 1], Zk)
                else:
                    np.dot(Wk.T, B[ioff:ioff + d + 1 + H], Zk)
                pos += (d + 1 + H) * gh
                ioff += d + 1
                d = H


def _median_time(fn, repeats: int) -> dict:
    fn()  # warm
    ts = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        ts.append(time.perf_counter() - t0)
    return {"median": float(np.median(ts)), "min": float(min(ts)), "max": float(max(ts)), "n": repeats}


def profile_case(case, repeats: int = 7) -> dict:
    """Time the parts of the Numba runtime on ``case`` (an LSTM or SimpleRNN case)."""
    import numba

    from bench import cases as C
    from mae_ort import Sampler
    from mae_ort.kernels import forward
    from mae_ort.runtimes.ort import default_threads

    arch = case.arch()
    if arch.cell == "gru":
        raise ValueError("bench.profile: the products replica follows the LSTM / SimpleRNN layout")
    threads = min(default_threads(), numba.config.NUMBA_NUM_THREADS)
    numba.set_num_threads(threads)
    win = C.windows(case.series, case.look_back)
    sampler = Sampler(runtime="numba")
    series = C.series(case.series)
    w = sampler.weights(arch, n_in=win.n_in, n_out=win.n_out, samples=case.samples, seed=case.seed)
    kw = dict(cell=arch.cell, activation=arch.activation, recurrent_activation=arch.recurrent_activation,
              head_activation=arch.head_activation)
    units = np.asarray(arch.units, dtype=np.int64)
    g = arch.gates
    R = forward.choose_block(arch.cell, win.n_in, arch.units, win.n)
    nblocks = -(-win.n // R)
    per = sum((d + 1 + H) * g * H for d, H in zip((win.n_in,) + arch.units[:-1], arch.units))
    Wp = np.random.default_rng(0).standard_normal((case.samples, per)).astype(np.float32)
    last = win.n - (nblocks - 1) * R
    cols = (nblocks - 1) * R + min(R, -(-last // 8) * 8)  # windows computed, padding included
    executed = 0
    d = win.n_in
    for H in arch.units:
        executed += 2 * g * H * cols * ((d + 1) + (case.look_back - 1) * (d + 1 + H))
        d = H
    executed *= case.samples

    res = {
        "case": case.key, "threads": threads, "block": R, "tasks": nblocks * case.samples, "windows": win.n,
        "useful_gflop": C.gflop(case),
        "products_gflop_executed": executed / 1e9,
    }
    res["sample"] = _median_time(lambda: sampler.sample(series, arch, look_back=case.look_back,
                                                        samples=case.samples, seed=case.seed), repeats)
    res["draw"] = _median_time(lambda: sampler.weights(arch, n_in=win.n_in, n_out=win.n_out, samples=case.samples,
                                                       seed=case.seed), repeats)
    res["kernel"] = _median_time(lambda: forward.forward_maes(win.X, win.y, w, **kw), repeats)
    res["products"] = _median_time(lambda: _products(Wp, units, win.n_in, case.look_back, R, win.n, g), repeats)
    res["elementwise_s"] = res["kernel"]["median"] - res["products"]["median"]
    res["products_gflops_per_thread"] = executed / 1e9 / res["products"]["median"] / threads
    return res


def main(argv) -> int:
    warnings.filterwarnings("ignore")
    if len(argv) != 1:
        print(__doc__)
        return 2
    from bench import cases as C

    case = C.Case.from_dict(json.loads(argv[0]))
    print("BENCH-RESULT " + json.dumps(profile_case(case)), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
