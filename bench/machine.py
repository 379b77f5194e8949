"""Machine facts, library versions, the measured float32 GEMM rate and memory probes."""

from __future__ import annotations

import json
import os
import platform
import subprocess
import sys
import time
from importlib import metadata

__all__ = [
    "machine_info", "library_versions", "gemm_rate", "gemm_rate_subprocess",
    "rss_bytes", "peak_rss_bytes", "reset_peak_rss", "loadavg",
]


# ---------------------------------------------------------------------------------
# machine and versions
# ---------------------------------------------------------------------------------
def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.lower().startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _mem_total_bytes() -> int | None:
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemTotal:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def _cpu_flags() -> list[str]:
    want = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("flags"):
                    have = set(line.split(":", 1)[1].split())
                    return [w for w in want if w in have]
    except OSError:
        pass
    return []


def loadavg() -> list[float] | None:
    """1, 5 and 15 minute load averages (a noise indicator), or None."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def machine_info() -> dict:
    """CPU model, cores, RAM, OS and the Python that runs the suite."""
    try:
        usable = len(os.sched_getaffinity(0))
    except AttributeError:  # pragma: no cover
        usable = os.cpu_count()
    mem = _mem_total_bytes()
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": usable,
        "cpu_flags": _cpu_flags(),
        "ram_gib": None if mem is None else round(mem / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "loadavg": loadavg(),
    }


def _version(dist: str) -> str | None:
    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def library_versions(*, with_keras: bool = True) -> dict:
    """Versions of the libraries that take part (from package metadata: nothing heavy is imported)."""
    out = {name: _version(name) for name in (
        "mae-ort", "numpy", "scipy", "onnx", "onnxruntime", "onnxruntime-gpu", "numba", "llvmlite")}
    if with_keras:
        out["tensorflow"] = _version("tensorflow-cpu") or _version("tensorflow")
        out["keras"] = _version("keras")
    try:
        import numpy as np

        blas = np.__config__.CONFIG["Build Dependencies"]["blas"]
        out["numpy_blas"] = f"{blas.get('name')} {blas.get('version')}"
    except Exception:  # pragma: no cover - other numpy builds
        out["numpy_blas"] = None
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


# ---------------------------------------------------------------------------------
# memory probes (Linux /proc)
# ---------------------------------------------------------------------------------
def _status_kib(field: str) -> int | None:
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith(field + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return None


def rss_bytes() -> int | None:
    """Current resident set size of this process."""
    v = _status_kib("VmRSS")
    return None if v is None else v * 1024


def peak_rss_bytes() -> int | None:
    """Peak resident set size (VmHWM; since the last :func:`reset_peak_rss`)."""
    v = _status_kib("VmHWM")
    if v is not None:
        return v * 1024
    try:  # pragma: no cover - not Linux
        import resource

        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    except Exception:  # pragma: no cover
        return None


def reset_peak_rss() -> bool:
    """Reset VmHWM to the current RSS (Linux >= 4.0: ``echo 5 > /proc/self/clear_refs``)."""
    try:
        with open("/proc/self/clear_refs", "w") as f:
            f.write("5")
        return True
    except OSError:
        return False
