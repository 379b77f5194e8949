"""The machine: cores and the one thread limiter, machine facts, library versions, memory probes.

Every part of mae-ort that limits threads (the runtimes, the sweep's workers, the
trainer, the measured Table 4 processes) goes through :func:`limit_threads` or
:func:`limit_numba_threads`; every report and benchmark describes the machine with
:func:`machine_info` and :func:`library_versions`.  Imports nothing of mae-ort but
:mod:`mae_ort.errors`; heavy libraries are imported only inside the functions.
"""

from __future__ import annotations

import os
import platform
import sys

__all__ = [
    "THREAD_VARIABLES",
    "default_threads",
    "thread_environment",
    "limit_threads",
    "limit_numba_threads",
    "once_per_process",
    "machine_info",
    "machine_line",
    "library_versions",
    "blas_info",
    "loadavg",
    "rss_bytes",
    "peak_rss_bytes",
    "reset_peak_rss",
]

#: Environment variables that size the thread pools of OpenMP, BLAS, TensorFlow and Numba.
THREAD_VARIABLES = ("OMP_NUM_THREADS", "MKL_NUM_THREADS", "OPENBLAS_NUM_THREADS", "TF_NUM_INTRAOP_THREADS",
                    "NUMBA_NUM_THREADS")


def default_threads() -> int:
    """The cores this process may run on (at least 1)."""
    try:
        return max(1, len(os.sched_getaffinity(0)))
    except AttributeError:  # pragma: no cover - not on Linux
        return max(1, os.cpu_count() or 1)


def thread_environment(threads: int) -> dict[str, str]:
    """The variables that limit a *new* process's thread pools to ``threads``."""
    threads = max(1, int(threads))
    env = {var: str(threads) for var in THREAD_VARIABLES}
    env["TF_NUM_INTEROP_THREADS"] = "1" if threads <= 2 else "2"
    return env


def limit_numba_threads(threads: int) -> None:
    """Run the calling thread's next Numba parallel regions on ``threads`` threads.

    Before Numba is imported this sets ``NUMBA_NUM_THREADS`` (the pool's size);
    afterwards it calls ``numba.set_num_threads`` (at most the pool's size).  A
    parallel region waits for all of its threads, so a worker must not use more than
    its share of the cores.
    """
    threads = max(1, int(threads))
    if "numba" not in sys.modules:
        os.environ["NUMBA_NUM_THREADS"] = str(threads)
        return
    import numba

    numba.set_num_threads(max(1, min(threads, numba.config.NUMBA_NUM_THREADS)))


def limit_threads(threads: int | None) -> None:
    """Limit OpenMP, BLAS, TensorFlow and Numba in this process to ``threads`` cores.

    Environment variables take effect for libraries not yet started (call it first
    thing in a worker process); TensorFlow's pools, once started, keep their size,
    and Numba's calling-thread limit is set at once.  ``None`` changes nothing.
    """
    if threads is None:
        return
    threads = max(1, int(threads))
    os.environ.update(thread_environment(threads))
    if "tensorflow" in sys.modules:
        tf = sys.modules["tensorflow"]
        try:
            tf.config.threading.set_intra_op_parallelism_threads(threads)
            tf.config.threading.set_inter_op_parallelism_threads(int(os.environ["TF_NUM_INTEROP_THREADS"]))
        except (RuntimeError, AttributeError):  # already initialised: keep the running pools
            pass
    if "numba" in sys.modules:
        limit_numba_threads(threads)


_DONE_ONCE: set[str] = set()


def once_per_process(key: str, load) -> float:
    """Run ``load()`` the first time ``key`` is asked for in this process; return its seconds (0.0 after)."""
    if key in _DONE_ONCE:
        return 0.0
    import time

    t0 = time.perf_counter()
    load()
    _DONE_ONCE.add(key)
    return time.perf_counter() - t0


# -- machine facts -------------------------------------------------------------------------
def _proc_lines(path: str):
    try:
        with open(path) as fh:
            return fh.readlines()
    except OSError:
        return []


def _cpu_model() -> str:
    for line in _proc_lines("/proc/cpuinfo"):
        if line.lower().startswith("model name"):
            return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def _cpu_flags() -> list[str]:
    want = ("avx2", "fma", "avx512f", "avx512_bf16", "avx512_vnni", "amx_tile")
    for line in _proc_lines("/proc/cpuinfo"):
        if line.startswith("flags"):
            have = set(line.split(":", 1)[1].split())
            return [w for w in want if w in have]
    return []


def _mem_total_bytes() -> int | None:
    for line in _proc_lines("/proc/meminfo"):
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    return None


def loadavg() -> list[float] | None:
    """1, 5 and 15 minute load averages (a noise indicator), or None."""
    try:
        return [round(v, 2) for v in os.getloadavg()]
    except OSError:  # pragma: no cover
        return None


def machine_info() -> dict:
    """CPU model, cores, RAM, OS and the Python that runs."""
    mem = _mem_total_bytes()
    return {
        "cpu": _cpu_model(),
        "logical_cpus": os.cpu_count(),
        "usable_cpus": default_threads(),
        "cpu_flags": _cpu_flags(),
        "ram_gib": None if mem is None else round(mem / 2**30, 1),
        "os": f"{platform.system()} {platform.release()}",
        "python": sys.version.split()[0],
        "loadavg": loadavg(),
    }


def machine_line() -> str:
    """The machine in one line: ``Linux x86_64, AMD EPYC ..., 2 cores, 24 GiB RAM``."""
    m = machine_info()
    mem = "" if m["ram_gib"] is None else f", {m['ram_gib']:.0f} GiB RAM"
    return f"{platform.system()} {platform.machine()}, {m['cpu']}, {m['usable_cpus']} cores{mem}"


def _version(dist: str) -> str | None:
    from importlib import metadata  # 0.1-0.4 s to load: only when versions are asked for

    try:
        return metadata.version(dist)
    except metadata.PackageNotFoundError:
        return None


def blas_info() -> dict:
    """numpy's BLAS as threadpoolctl sees it (``internal_api``, ``architecture``, threads), when available."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return {}
    for pool in threadpool_info():
        if pool.get("user_api") == "blas":
            return {k: pool.get(k) for k in ("internal_api", "architecture", "version", "num_threads")}
    return {}


def library_versions(*, with_keras: bool = True) -> dict:
    """Versions of the libraries that take part (package metadata; nothing heavy is imported)."""
    out = {"python": platform.python_version()}
    out.update({name: _version(name) for name in (
        "mae-ort", "numpy", "scipy", "pandas", "onnx", "onnxruntime", "onnxruntime-gpu", "numba", "llvmlite",
        "optuna")})
    if with_keras:
        out["tensorflow"] = _version("tensorflow-cpu") or _version("tensorflow")
        out["keras"] = _version("keras")
    return {k: v for k, v in out.items() if v is not None}


# -- memory probes (Linux /proc) ---------------------------------------------------------------
def _status_kib(field: str) -> int | None:
    for line in _proc_lines("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1])
    return None


def rss_bytes() -> int | None:
    """Current resident set size of this process."""
    v = _status_kib("VmRSS")
    return None if v is None else v * 1024


def peak_rss_bytes() -> int | None:
    """This process's peak resident set size.

    On Linux ``VmHWM`` of ``/proc/self/status`` (since the process started its program
    or the last :func:`reset_peak_rss`; ``ru_maxrss`` is not used there because Linux
    carries a parent's high-water mark over ``fork`` + ``exec``); elsewhere ``ru_maxrss``.
    """
    v = _status_kib("VmHWM")
    if v is not None:
        return v * 1024
    try:  # pragma: no cover - not Linux
        import resource

        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return int(rss if sys.platform == "darwin" else rss * 1024)
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
