"""Machine facts, library versions, the measured float32 GEMM rate and memory probes.

Machine facts and memory probes are mae-ort's own (:mod:`mae_ort._system`, shared with the
reports); this module adds what only the benchmark measures.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

from mae_ort._system import blas_info, loadavg, machine_info, peak_rss_bytes, reset_peak_rss, rss_bytes
from mae_ort._system import library_versions as _library_versions

__all__ = [
    "machine_info", "library_versions", "gemm_rate", "gemm_rate_subprocess",
    "rss_bytes", "peak_rss_bytes", "reset_peak_rss", "loadavg",
]


# ---------------------------------------------------------------------------------
# machine and versions: mae-ort's own helpers, plus what only the benchmark reports
# ---------------------------------------------------------------------------------
def library_versions(*, with_keras: bool = True) -> dict:
    """:func:`mae_ort._system.library_versions` plus numpy's BLAS (threadpoolctl's kernel), onnxruntime's
    providers and Numba's threading configuration."""
    out = _library_versions(with_keras=with_keras)
    try:
        import numpy as np

        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
        out["numpy_blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # pragma: no cover - other numpy builds
        out["numpy_blas"] = None
    kernel = blas_info()
    if kernel:
        out["blas_kernel"] = f"{kernel.get('internal_api')} {kernel.get('architecture')}"
    try:
        import onnxruntime as ort

        out["onnxruntime_providers"] = list(ort.get_available_providers())
    except Exception:  # pragma: no cover
        out["onnxruntime_providers"] = []
    try:
        import numba

        out["numba_threading_layer_config"] = numba.config.THREADING_LAYER
        out["numba_num_threads"] = numba.config.NUMBA_NUM_THREADS
    except Exception:  # pragma: no cover
        pass
    return out


# ---------------------------------------------------------------------------------
# float32 GEMM rate
# ---------------------------------------------------------------------------------
def gemm_rate(n: int = 2048, repeats: int = 5) -> dict:
    """Best-of-``repeats`` float32 ``n x n @ n x n`` with numpy (its BLAS, all its threads)."""
    import numpy as np

    rng = np.random.default_rng(0)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    c = np.empty((n, n), dtype=np.float32)
    np.matmul(a, b, out=c)  # warm up (threads, pages)
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        np.matmul(a, b, out=c)
        times.append(time.perf_counter() - t0)
    flop = 2.0 * n ** 3
    best = min(times)
    return {"n": n, "repeats": repeats, "best_s": best, "median_s": sorted(times)[len(times) // 2],
            "gflops": flop / best / 1e9}


def gemm_rate_subprocess(threads: int, n: int = 2048, repeats: int = 5) -> dict | None:
    """The GEMM rate with ``threads`` BLAS threads, measured in a fresh process."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS=str(threads), OMP_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    code = f"import json, bench.machine as m; print(json.dumps(m.gemm_rate({n}, {repeats})))"
    try:
        out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=120,
                             cwd=os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
        return json.loads(out.stdout.strip().splitlines()[-1])
    except Exception:  # pragma: no cover - reported as missing
        return None
