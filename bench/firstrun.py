"""The first run of a fresh install, the warm CLI call and one architecture's speed and memory, for two
source trees measured in the same run (``python -m bench.firstrun --base PATH [--rounds 2]``).

For each tree (this one and ``--base``, e.g. a worktree of an older commit), interleaved, ``--rounds``
times:

* ``cold``: ``python -m mae_ort sample --arch 31,31,31 --look-back 30 --samples 100`` in a fresh
  process with an empty ``NUMBA_CACHE_DIR`` and an empty graph cache (``MAE_ORT_CACHE``): wall time,
  the command's own timing line and its peak RSS (``os.wait4``).  A tree that compiles its kernels
  in the background after the command is waited for (not timed) before the next measurement;
* ``warm``: the same command twice more with the same caches (wall, timing line, peak RSS);
* ``inprocess``: the median of 5 ``Sampler().sample`` calls of the same job in one warm process.

Also this machine's BLAS kernel (threadpoolctl's ``internal_api`` / ``architecture``) and its
one-thread 2048 x 2048 sgemm rate, in the same run.  Writes ``bench/firstrun.json`` and prints a
Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
JOB = ["sample", "--arch", "31,31,31", "--look-back", "30", "--samples", "100"]
_TIMING = re.compile(r"^\s+([0-9.]+) s (?:sampling \+ ([0-9.]+) s one-time|\(of which ([0-9.]+) s one-time)|"
                     r"^\s+([0-9.]+) s sampling$|^\s+([0-9.]+) s$")
_INPROCESS = """
import json, statistics, time, mae_ort
s = mae_ort.Sampler(); series = mae_ort.sine()
s.sample(series, [31, 31, 31], look_back=30, samples=100, seed=0)
ts = []
for _ in range(5):
    t0 = time.perf_counter(); r = s.sample(series, [31, 31, 31], look_back=30, samples=100, seed=0)
    ts.append(time.perf_counter() - t0)
print(json.dumps({"median_s": statistics.median(ts), "runtime": r.runtime, "mean_mae": r.mean}))
"""


def _env(tree: Path, numba_cache: str, graph_cache: str) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "NUMBA_CACHE_DIR", "MAE_ORT_CACHE")}
    env.update(PYTHONPATH=str(tree), NUMBA_CACHE_DIR=numba_cache, MAE_ORT_CACHE=graph_cache)
    return env


def _run(tree: Path, argv: list[str], env: dict) -> dict:
    """One fresh process: wall seconds, peak RSS (MiB), stdout and stderr."""
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, *argv], cwd=tree, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    out, err = proc.communicate()
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "rc": proc.returncode, "stdout": out, "stderr": err}


def _run_rss(tree: Path, argv: list[str], env: dict) -> dict:
    """As :func:`_run`, with the child's own peak RSS from ``os.wait4``."""
    t0 = time.perf_counter()
    with tempfile.TemporaryFile("w+") as fo, tempfile.TemporaryFile("w+") as fe:
        proc = subprocess.Popen([sys.executable, *argv], cwd=tree, env=env, stdout=fo, stderr=fe, text=True)
        _, status, usage = os.wait4(proc.pid, 0)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
        fo.seek(0)
        fe.seek(0)
        out, err = fo.read(), fe.read()
    res = {"wall_s": wall, "rc": proc.returncode, "peak_rss_mib": usage.ru_maxrss / 1024.0}
    for line in out.splitlines():
        m = _TIMING.match(line)
        if m:
            g = m.groups()
            if g[0] is not None:
                once = float(g[1] if g[1] is not None else g[2])
                total = float(g[0]) + once if g[1] is not None else float(g[0])
            else:
                once, total = 0.0, float(g[3] or g[4])
            res.update(reported_total_s=total, reported_onetime_s=once)
        if line.strip().startswith("samples=") and "runtime=" in line:
            res["runtime"] = line.split("runtime=")[1].split()[0]
    res["notice"] = next((ln for ln in err.splitlines() if ln.startswith("note:")), None)
    if proc.returncode != 0:
        res["stderr_tail"] = err[-500:]
    return res


def _wait_background_compilers(timeout: float = 600.0) -> float:
    """Wait for detached ``_compile_main`` processes (mae-ort's background compile); return seconds waited."""
    import psutil

    t0 = time.perf_counter()
    while time.perf_counter() - t0 < timeout:
        busy = False
        for p in psutil.process_iter(["cmdline"]):
            cmd = " ".join(p.info.get("cmdline") or [])
            if "_compile_main" in cmd and "firstrun" not in cmd:
                busy = True
                break
        if not busy:
            return time.perf_counter() - t0
        time.sleep(0.5)
    return time.perf_counter() - t0


def measure(trees: dict[str, Path], rounds: int) -> dict:
    from bench.machine import gemm_rate_subprocess
    from mae_ort._system import blas_info, loadavg, machine_line

    res = {"machine": machine_line(), "blas": blas_info(), "loadavg_start": loadavg(), "rounds": rounds,
           "trees": {k: str(v) for k, v in trees.items()}, "runs": {k: [] for k in trees}}
    res["sgemm_1thread"] = gemm_rate_subprocess(1)
    names = list(trees)
    _wait_background_compilers()
    for r in range(rounds):
        order = names if r % 2 == 0 else names[::-1]
        for name in order:
            tree = trees[name]
            with tempfile.TemporaryDirectory(prefix="mae-numba-") as nc, \
                    tempfile.TemporaryDirectory(prefix="mae-graphs-") as gc:
                env = _env(tree, nc, gc)
                row = {"round": r, "loadavg": loadavg()}
                row["cold"] = _run_rss(tree, ["-m", "mae_ort", *JOB], env)
                row["background_compile_wait_s"] = _wait_background_compilers()
                row["warm"] = [_run_rss(tree, ["-m", "mae_ort", *JOB], env) for _ in range(2)]
                ip = _run(tree, ["-c", _INPROCESS], env)
                row["inprocess"] = json.loads(ip["stdout"].strip().splitlines()[-1]) if ip["rc"] == 0 else ip
                res["runs"][name].append(row)
                print(name, json.dumps({k: row[k] for k in ("cold", "warm", "inprocess")}), flush=True)
    res["loadavg_end"] = loadavg()
    return res


def _median(rows, pick):
    vals = [pick(r) for r in rows]
    vals = [v for v in vals if v is not None]
    return statistics.median(vals) if vals else float("nan")


def table(res: dict) -> str:
    names = list(res["runs"])
    lines = ["| | " + " | ".join(names) + " |", "|---" * (len(names) + 1) + "|"]

    def row(label, pick, fmt="{:.2f}"):
        lines.append(f"| {label} | " + " | ".join(fmt.format(_median(res["runs"][n], pick)) for n in names) + " |")

    row("cold CLI wall s (empty Numba and graph caches)", lambda r: r["cold"]["wall_s"])
    row("… its timing line: total s", lambda r: r["cold"].get("reported_total_s"))
    row("… of which one-time s", lambda r: r["cold"].get("reported_onetime_s"))
    row("warm CLI wall s (second and third call)", lambda r: statistics.median(w["wall_s"] for w in r["warm"]))
    row("… its timing line: total s", lambda r: statistics.median(w.get("reported_total_s", 0) for w in r["warm"]))
    row("… of which one-time s", lambda r: statistics.median(w.get("reported_onetime_s", 0) for w in r["warm"]))
    row("warm in-process Sampler.sample s (median of 5)", lambda r: r["inprocess"].get("median_s"), "{:.3f}")
    row("peak RSS, cold CLI MiB", lambda r: r["cold"]["peak_rss_mib"], "{:.0f}")
    row("peak RSS, warm CLI MiB", lambda r: max(w["peak_rss_mib"] for w in r["warm"]), "{:.0f}")
    runtimes = {n: sorted({r["cold"].get("runtime") or "?" for r in res["runs"][n]}) for n in names}
    lines.append("| runtime of the cold run | " + " | ".join(",".join(runtimes[n]) for n in names) + " |")
    return "\n".join(lines)


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True, help="the other source tree (a worktree of the baseline commit)")
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default=str(HERE / "firstrun.json"))
    a = ap.parse_args(argv)
    res = measure({"before": Path(a.base).resolve(), "after": ROOT}, a.rounds)
    Path(a.out).write_text(json.dumps(res, indent=2))
    g = res["sgemm_1thread"] or {}
    print(f"\n{res['machine']}; BLAS {res['blas'].get('internal_api')} {res['blas'].get('architecture')}, "
          f"one-thread 2048² sgemm {g.get('gflops', float('nan')):.0f} GFLOP/s; load average "
          f"{res['loadavg_start']} → {res['loadavg_end']}\n")
    print(table(res))
    return res


if __name__ == "__main__":
    main()
