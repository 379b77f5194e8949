"""The benchmark suite of issue 5: ``python -m bench.suite [--quick]`` (or ``bash scripts/bench.sh``).

What one run does, in order:

1. records the machine, the library versions and the load average;
2. measures this machine's float32 GEMM rate (numpy ``2048 x 2048`` matmul, best of
   5, all cores; and one thread, in a fresh process);
3. measures the one-time costs in fresh processes: graph export, cache read,
   session creation, Numba compilation cold (fresh ``NUMBA_CACHE_DIR``) and cached;
   then splits the fused Numba run of the deepest case into its matrix products
   and the element-wise rest (:mod:`bench.profile`, fresh process);
4. starts one worker process per contender (:mod:`bench.contenders`); per case:
   sets every contender up (untimed), **checks** each one's MAEs against mae-ort's
   onnxruntime runtime for the same weights (and mae-ort's against a float64 numpy
   reference on the first samples), then times ``repeats`` rounds, each round
   running every contender once in a freshly shuffled order (interleaved, so that
   drift of the machine hits all contenders alike);
5. the throughput slice: fresh workers sweep 50 architectures of the paper's
   two-layer space (first pass, with its session creation, and steady passes);
6. peak memory: every (contender, case) once in a fresh process;
7. writes ``bench/results.json`` and ``bench/RESULTS.md`` (with ``bench/gpu_results.json``
   in a GPU section when present).

``--gpu`` is the GPU run of ``bench/gpu.sh`` (CUDA contender plus the CPU baselines,
written to ``bench/gpu_results.json``); ``--report-only`` re-renders ``RESULTS.md``.
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from bench import cases as C
from bench import contenders as K
from bench import machine as M
from bench.peers import peer_versions

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
WORK = HERE / "_work"

#: Contenders whose timed rounds are capped (they are slow; their spread is small).
MAX_REPEATS = {"numpy_batched": 3, "keras_evaluate": 3}


@dataclass
class Config:
    mode: str = "full"                      # full | quick | micro | gpu
    cases: list = field(default_factory=list)
    contenders: list = field(default_factory=list)
    repeats: int = 5
    throughput: list = field(default_factory=list)
    throughput_contenders: list = field(default_factory=list)
    throughput_repeats: int = 2             # steady passes after the first
    memory: str = "all"                     # all | <case key> | none
    memory_contenders: list | None = None   # None: every contender of the case
    numba_onetime: str = "cold+cached"      # cold+cached (fresh cache dir) | default (as found, then cached) | none
    check_counts: bool = False              # count the (warm) check run as the first timed round
    numba_depths: tuple = (1, 2, 3)
    gemm: bool = True
    profile: str | None = "lstm31x3_lb30"  # case whose Numba run is split into products / element-wise
    f64_samples: int = 10
    skip_export: bool = False               # leave out the export/session one-time costs
    readout_repeats: int = 7                # bench.readout_cost on [31,31,31] LB 30 (0: skip)
    readout_runtimes: str = "numba,onnxruntime"
    shuffle_seed: int = 0
    log_dir: str | None = None
    out_json: str | None = None
    out_md: str | None = None

    @property
    def quick(self) -> bool:
        return self.mode in ("quick", "micro")

    def describe(self) -> dict:
        return {
            "mode": self.mode, "repeats": self.repeats, "max_repeats": MAX_REPEATS,
            "cases": [c.key for c in self.cases], "contenders": list(self.contenders),
            "throughput_architectures": len(self.throughput),
            "throughput_contenders": list(self.throughput_contenders),
            "throughput_repeats": self.throughput_repeats, "memory": self.memory,
            "numba_onetime": self.numba_onetime, "profile": self.profile, "numba_depths": list(self.numba_depths),
            "check_run_counts_as_round": self.check_counts,
            "f64_samples": self.f64_samples, "shuffle_seed": self.shuffle_seed,
            "readout_repeats": self.readout_repeats, "readout_runtimes": self.readout_runtimes,
            "threads": min(K._threads(), int(os.environ.get("BENCH_THREADS") or K._threads())),
            "preset": C.PRESET, "tol_small": C.TOL_SMALL, "tol_deep": C.TOL_DEEP,
        }


PEERS = ["torch_batched", "torch_compile", "torch_nn_lstm", "jax_vmap", "openvino"]
ALL_CPU = ["maeort_auto", "maeort_ort", "maeort_numba", "maeort_cuda", "keras_loop", "keras_evaluate",
           "ort_native", "numpy_batched", *PEERS]
TP_CONTENDERS = ["maeort_auto", "maeort_numba", "maeort_ort"]


def full_config() -> Config:
    return Config(mode="full", cases=C.main_cases(100), contenders=list(ALL_CPU), repeats=5,
                  throughput=C.throughput_slice(50), throughput_contenders=list(TP_CONTENDERS),
                  throughput_repeats=2, memory="all")


def quick_config() -> Config:
    keep = {"lstm7_lb1", "lstm20x2_lb10", "lstm31x3_lb30", "eunite_20x10_lb7"}
    return Config(mode="quick", cases=[c for c in C.main_cases(100) if c.key in keep], contenders=list(ALL_CPU),
                  repeats=1, check_counts=True, throughput=C.throughput_slice(10),
                  throughput_contenders=list(TP_CONTENDERS), throughput_repeats=1, memory="lstm31x3_lb30",
                  memory_contenders=["maeort_auto", "maeort_numba", "keras_loop", "ort_native", *PEERS],
                  numba_onetime="default", numba_depths=(1,), f64_samples=5, readout_repeats=3,
                  readout_runtimes="numba")


def micro_config(*, keras: bool = False) -> Config:
    cont = ["maeort_auto", "maeort_ort", "maeort_numba", "ort_native", "numpy_batched"]
    if keras:
        cont += ["keras_loop"]
    return Config(mode="micro", cases=C.micro_cases(5), contenders=cont, repeats=2,
                  throughput=C.throughput_slice(2, samples=4)[:2], throughput_contenders=["maeort_auto", "maeort_ort"],
                  throughput_repeats=1, memory="micro_lstm3_lb2", memory_contenders=["maeort_ort"],
                  numba_onetime="none", gemm=False, f64_samples=5, profile=None, readout_repeats=0)


GPU_CONTENDERS = ["maeort_ort", "maeort_auto", "maeort_cuda", "torch_batched_cuda", "torch_compile_cuda",
                  "jax_vmap_gpu", "torch_batched", "jax_vmap"]


def gpu_config(*, dry_run: bool = False) -> Config:
    """bench/gpu.sh: mae-ort on CUDA, the PyTorch peers on CUDA, JAX on the GPU, the CPU runtimes of the same
    machine, and a 2,000-row slice of the paper's three-layer space swept by ``maeort_cuda`` (one pass).
    ``dry_run``: tiny cases and a 4-row slice, on whatever the machine has (the CPU: the tests' check)."""
    if dry_run:
        return Config(mode="gpu", cases=C.micro_cases(5), contenders=list(GPU_CONTENDERS), repeats=1,
                      throughput=C.three_layer_slice(4, samples=4), throughput_contenders=["maeort_cuda", "maeort_ort"],
                      throughput_repeats=0, memory="none", numba_onetime="none", gemm=False, f64_samples=5,
                      profile=None, readout_repeats=0)
    return Config(mode="gpu", cases=C.main_cases(100), contenders=list(GPU_CONTENDERS),
                  repeats=5, throughput=C.three_layer_slice(2000), throughput_contenders=["maeort_cuda"],
                  throughput_repeats=0, memory="none", numba_onetime="none", f64_samples=5, profile=None,
                  readout_repeats=0)


# ---------------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------------
#: What the suite is doing now (named by the line an interrupt prints).
_PHASE = ["start-up"]


def _log(msg: str) -> None:
    if not msg.startswith("  "):
        _PHASE[0] = msg.split(":")[0].split(" (")[0]
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def _subprocess_json(args: list[str], *, env: dict | None = None, timeout: float = 900.0) -> dict:
    """Run ``python args...`` from the repository root and parse its ``BENCH-RESULT`` line."""
    e = dict(os.environ)
    e.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    e["PYTHONPATH"] = str(ROOT) + (os.pathsep + e["PYTHONPATH"] if e.get("PYTHONPATH") else "")
    if env:
        e.update(env)
    t0 = time.perf_counter()
    try:
        p = subprocess.run([sys.executable, *args], cwd=str(ROOT), env=e, capture_output=True, text=True,
                           timeout=timeout)
    except subprocess.TimeoutExpired:
        return {"error": f"timed out after {timeout:.0f} s"}
    wall = time.perf_counter() - t0
    for line in reversed(p.stdout.splitlines()):
        if line.startswith("BENCH-RESULT "):
            res = json.loads(line[len("BENCH-RESULT "):])
            return {"result": res, "process_wall_s": wall}
    tail = (p.stderr or p.stdout or "").strip().splitlines()[-3:]
    return {"error": f"exit {p.returncode}: {' | '.join(tail)}"}


def _stats(times: list[float]) -> dict:
    a = np.asarray(times, dtype=np.float64)
    if a.size == 0:
        return {}
    q1, med, q3 = np.percentile(a, [25, 50, 75])
    return {"median": float(med), "min": float(a.min()), "max": float(a.max()), "q1": float(q1), "q3": float(q3),
            "mean": float(a.mean()), "n": int(a.size)}


# ---------------------------------------------------------------------------------
# phases
# ---------------------------------------------------------------------------------
def measure_gemm(cfg: Config) -> dict:
    if not cfg.gemm:
        return {"gflops": None, "note": "not measured in this mode"}
    _log("float32 GEMM rate (numpy 2048x2048, best of 5)")
    allc = M.gemm_rate(2048, 5)
    one = M.gemm_rate_subprocess(1, 2048, 5)
    best = max(allc["gflops"], (one or {}).get("gflops") or 0.0)
    return {"gflops": best, "all_cores": allc, "one_thread": one,
            "method": "numpy float32 matmul 2048x2048 (2*n^3 FLOP), best of 5 after a warm-up; all cores in the "
                      "suite's process, one thread in a fresh process (OPENBLAS_NUM_THREADS=1); the reference rate "
                      "is the higher of the two (on a quiet machine, all cores)"}


def measure_onetime(cfg: Config) -> dict:
    out: dict = {}
    if cfg.mode == "micro":
        cases = cfg.cases[:1]
    else:
        cases = cfg.cases
    if cfg.skip_export:
        out["export"] = {"note": "not measured in this run"}
    else:
        _log("one-time costs: export, cache read, session creation (fresh process)")
        r = _subprocess_json(["-m", "bench.onetime", "export", json.dumps([c.to_dict() for c in cases])])
        out["export"] = r.get("result", {"error": r.get("error")})
    if cfg.numba_onetime != "none" and any(c in cfg.contenders for c in ("maeort_numba", "maeort_auto")):
        depths = ",".join(map(str, cfg.numba_depths))
        if cfg.numba_onetime == "default":
            _log(f"one-time costs: Numba kernels in two fresh processes, default cache location, depths {depths}")
            first = _subprocess_json(["-m", "bench.onetime", "numba", depths])
            second = _subprocess_json(["-m", "bench.onetime", "numba", depths])
            pairs = (("numba_first", first), ("numba_cached", second))
        else:
            with tempfile.TemporaryDirectory(prefix="mae-ort-bench-numba-") as tmp:
                _log(f"one-time costs: Numba compilation, cold (fresh NUMBA_CACHE_DIR), depths {depths}")
                cold = _subprocess_json(["-m", "bench.onetime", "numba", depths], env={"NUMBA_CACHE_DIR": tmp})
                _log("one-time costs: Numba, cached (same NUMBA_CACHE_DIR, second process)")
                cached = _subprocess_json(["-m", "bench.onetime", "numba", depths], env={"NUMBA_CACHE_DIR": tmp})
            pairs = (("numba_cold", cold), ("numba_cached", cached))
        for name, r in pairs:
            out[name] = (dict(r["result"], process_wall_s=r["process_wall_s"]) if "result" in r
                         else {"error": r["error"]})
    else:
        out["numba_cold"] = out["numba_cached"] = {"note": "not measured in this mode"}
    return out


def measure_profile(cfg: Config) -> dict | None:
    """Split the fused Numba run of one case into products and element-wise work (``bench.profile``)."""
    case = next((c for c in cfg.cases if c.key == cfg.profile), None)
    if case is None:
        return None
    _log(f"profile of the Numba runtime on {case.label} (fresh process)")
    r = _subprocess_json(["-m", "bench.profile", json.dumps(case.to_dict())])
    return r.get("result", {"error": r.get("error")})


def measure_readout(cfg: Config) -> dict | None:
    """What the readout score costs beside the MAE pass alone on [31,31,31] LB 30 (``bench.readout_cost``)."""
    if not cfg.readout_repeats:
        return None
    _log(f"readout cost: MAE pass alone against MAEs + readout on [31,31,31] LB 30 ({cfg.readout_runtimes}; "
         "fresh process)")
    r = _subprocess_json(["-m", "bench.readout_cost", "--bench-result", "--repeats", str(cfg.readout_repeats),
                          "--runtime", cfg.readout_runtimes])
    return r.get("result", {"error": r.get("error")})


class Pool:
    """The worker processes of a set of contenders."""

    def __init__(self, keys, cfg: Config, tag: str = "") -> None:
        self.cfg = cfg
        self.workers: dict[str, K.Worker] = {}
        self.unavailable: dict[str, str] = {}
        self.started: dict[str, dict] = {}  # import and preload seconds of each available contender
        log_dir = cfg.log_dir
        if log_dir:
            os.makedirs(log_dir, exist_ok=True)
        env = {"TF_CPP_MIN_LOG_LEVEL": "3"}
        for k in keys:
            self.workers[k] = K.Worker(k, env=env, log_dir=log_dir)
        sent = {k: w.send("available") for k, w in self.workers.items()}  # all preload at once
        for k in list(self.workers):
            w = self.workers[k]
            r = sent[k] if sent[k] is not None else w.recv(timeout=900)
            if "error" in r or not r.get("ok"):
                self.unavailable[k] = r.get("why") or r.get("error") or "unavailable"
                _log(f"{tag}{k}: not available: {self.unavailable[k]}")
                w.close()
                del self.workers[k]
            else:
                self.started[k] = {"import_s": r.get("import_s"), "preload_s": r.get("preload_s")}

    def kill(self) -> None:
        """End every worker now (an interrupt: nobody waits for a run in flight)."""
        for w in self.workers.values():
            w.kill()
        self.workers.clear()

    def close(self) -> None:
        for w in self.workers.values():  # ask all to quit first, then wait: they exit in parallel
            w.request_quit()
        for w in self.workers.values():
            w.close()
        self.workers.clear()


def run_case(pool: Pool, case: C.Case, cfg: Config, rng: np.random.Generator) -> dict:
    """Set up, check and time every contender on one case."""
    res: dict = {"case": case.to_dict(), "gflop": C.gflop(case), "contenders": {}}
    win = C.windows(case.series, case.look_back)
    res["case"].update(windows=win.n, n_in=win.n_in, n_out=win.n_out)
    keys = [k for k in pool.cfg.contenders if k in pool.workers]
    entries: dict[str, dict] = {}
    for k in keys:
        con = K.make(k)
        if not con.applicable(case):
            continue
        entries[k] = {"title": K.TITLES[k], "samples_timed": con.samples_for(case, cfg.quick), "times": []}

    # set up (untimed), then the check run of the anchor and of everybody else
    for k, e in entries.items():
        r = pool.workers[k].call("setup", case)
        e["setup"] = r.get("setup", {})
        if "error" in r:
            e["error"] = r["error"]
            _log(f"  {k}: setup failed: {r['error']}")
    anchor = None
    if K.ANCHOR in entries and "error" not in entries[K.ANCHOR]:
        r = pool.workers[K.ANCHOR].call("run", case, case.samples)
        if "error" in r:
            entries[K.ANCHOR]["error"] = r["error"]
        else:
            anchor = np.asarray(r["maes"], dtype=np.float64)
            entries[K.ANCHOR]["first_run_s"] = r["seconds"]
            entries[K.ANCHOR]["info"] = r.get("info", {})
    res["anchor"] = K.ANCHOR if anchor is not None else None
    if anchor is not None and cfg.f64_samples:
        from mae_ort.model.reference import maes as ref_maes

        k64 = min(cfg.f64_samples, case.samples)
        w = C.weights(case, samples=k64)
        f64 = ref_maes(case.arch(), win.X, win.y, w, dtype=np.float64)
        res["anchor_vs_float64"] = {"samples": k64, "max_abs_diff": K.compare(anchor[:k64], f64),
                                    "tol": case.tol, "ok": K.compare(anchor[:k64], f64) <= case.tol}
        res["mae_summary"] = {"mean": float(np.mean(anchor)), "sd": float(np.std(anchor)),
                              "min": float(np.min(anchor)), "max": float(np.max(anchor))}
    for k, e in entries.items():
        if "error" in e:
            continue
        if k != K.ANCHOR:
            r = pool.workers[k].call("run", case, e["samples_timed"])
            if "error" in r:
                e["error"] = r["error"]
                _log(f"  {k}: check run failed: {r['error']}")
                continue
            e["first_run_s"] = r["seconds"]
            e["info"] = r.get("info", {})
            m = np.asarray(r["maes"], dtype=np.float64)
        else:
            m = anchor
        if anchor is None:
            e["check"] = {"ok": None, "note": "no anchor"}
        else:
            n = e["samples_timed"]
            d = K.compare(m, anchor[:n])
            e["check"] = {"max_abs_diff": d, "max_rel_diff": relative_diff(m, anchor[:n]), "tol": case.tol,
                          "ok": bool(d <= case.tol), "samples": n}
            _log(f"  {k}: MAE check {'ok' if d <= case.tol else 'DISAGREES'} (max |dMAE| {d:.2e}, tol "
                 f"{case.tol:g}, {n} samples; first run {e['first_run_s']:.3f} s)")
            if d > case.tol:  # never timed, left out of every ratio
                e["disagrees"] = True
                continue
        if cfg.check_counts:
            e["times"].append(e["first_run_s"])

    # interleaved timed rounds
    live = [k for k, e in entries.items() if "error" not in e and not e.get("disagrees")]
    worst = {k: 0.0 for k in live}
    rounds = cfg.repeats + (1 if cfg.check_counts else 0)
    for rnd in range(cfg.repeats):
        order = [live[i] for i in rng.permutation(len(live))]
        for k in order:
            e = entries[k]
            if len(e["times"]) >= min(rounds, MAX_REPEATS.get(k, rounds)):
                continue
            r = pool.workers[k].call("run", case, e["samples_timed"])
            if "error" in r:
                e["error"] = r["error"]
                _log(f"  {k}: timed run failed: {r['error']}")
                live.remove(k)
                continue
            e["times"].append(r["seconds"])
            e["info"] = r.get("info", {}) or e.get("info", {})
            if anchor is not None:
                worst[k] = max(worst[k], K.compare(r["maes"], anchor[:e["samples_timed"]]))
    for k in entries:
        e = entries[k]
        if e["times"]:
            scale = case.samples / e["samples_timed"]
            e["raw"] = _stats(e["times"])
            e["stats"] = {q: v * scale if q not in ("n",) else v for q, v in e["raw"].items()}
            e["extrapolated"] = e["samples_timed"] != case.samples
            if k in worst:
                e["timed_runs_max_abs_diff"] = worst[k]
                if worst[k] > case.tol and e.get("check", {}).get("ok"):
                    e["check"]["ok"] = False
                    e["disagrees"] = True
                    e["check"]["note"] = f"a timed run differed by {worst[k]:.1e}"
                    _log(f"  {k}: a timed run's MAEs differ from the anchor by {worst[k]:.1e} (> {case.tol:g})")
        res["contenders"][k] = e
        if e.get("stats"):
            _log(f"  {k}: median {e['stats']['median']:.3f} s per {case.samples} samples "
                 f"[{e['stats']['min']:.3f}, {e['stats']['max']:.3f}]"
                 + (f" (timed on {e['samples_timed']}, scaled)" if e["extrapolated"] else ""))
    return res


def relative_diff(got, want) -> float:
    """max |got - want| / |want| over samples (inf where finiteness differs)."""
    got, want = np.asarray(got, dtype=np.float64), np.asarray(want, dtype=np.float64)
    d = K.compare(got, want)
    if not np.isfinite(d) or got.size == 0:
        return d
    fin = np.isfinite(want)
    if not fin.any():
        return 0.0
    return float(np.max(np.abs(got[fin] - want[fin]) / np.maximum(np.abs(want[fin]), 1e-30)))


def _median(e: dict | None) -> float | None:
    """A contender's median, None where it has none or disagrees with the anchor (never in a ratio)."""
    if not e or e.get("disagrees") or e.get("error"):
        return None
    return (e.get("stats") or {}).get("median")


def derive(case_res: dict, gemm_gflops: float | None, baseline: str = "keras_loop") -> None:
    """Speedups, the ratios to the fused kernel and to mae-ort's default, useful GFLOP/s and the fraction
    of the GEMM rate (in place); a contender that disagrees with the anchor gets none of them."""
    cons = case_res["contenders"]
    base = _median(cons.get(baseline))
    fused, auto = _median(cons.get("maeort_numba")), _median(cons.get("maeort_auto"))
    case_res["baseline"] = baseline if base else None
    for k, e in cons.items():
        med = _median(e)
        if med is None:
            for f in ("speedup_vs_baseline", "time_vs_fused", "time_vs_auto", "gflops", "gemm_fraction"):
                e[f] = None
            continue
        e["speedup_vs_baseline"] = (base / med) if base else None
        e["time_vs_fused"] = (med / fused) if fused else None
        e["time_vs_auto"] = (med / auto) if auto else None
        e["gflops"] = case_res["gflop"] / med if med > 0 else None
        # the CPU GEMM rate is no yardstick for a GPU contender
        usable = gemm_gflops and e["gflops"] and k != "maeort_cuda"
        e["gemm_fraction"] = (e["gflops"] / gemm_gflops) if usable else None


SWEEP_BATCH = 250


def _sweep(worker, rows: list) -> dict:
    """One pass over ``rows`` in batches of :data:`SWEEP_BATCH` (a long GPU slice answers between batches)."""
    total = {"seconds": 0.0, "per_case": [], "maes": [], "info": {}}
    for i in range(0, len(rows), SWEEP_BATCH):
        r = worker.call("sweep", rows[i:i + SWEEP_BATCH])
        if "error" in r:
            return r
        total["seconds"] += r["seconds"]
        total["per_case"] += r["per_case"]
        total["maes"] += r["maes"]
        total["info"] = r.get("info", {})
    return total


def run_throughput(cfg: Config) -> dict:
    if not cfg.throughput or not cfg.throughput_contenders:
        return {}
    space = "three" if cfg.throughput and len(cfg.throughput[0].units) == 3 else "two"
    _log(f"throughput slice: {len(cfg.throughput)} architectures of the {space}-layer space, fresh workers")
    pool = Pool(cfg.throughput_contenders, cfg, tag="throughput ")
    keys = [k for k in cfg.throughput_contenders if k in pool.workers]
    total_gflop = sum(C.gflop(c) for c in cfg.throughput)
    samples = sum(c.samples for c in cfg.throughput)
    out = {"architectures": [c.to_dict() for c in cfg.throughput], "gflop": total_gflop, "samples": samples,
           "unavailable": pool.unavailable, "contenders": {}}
    try:
        maes: dict[str, list] = {}
        for k in keys:
            out["contenders"][k] = {"title": K.TITLES[k], "first_pass_s": None, "times": []}
        rng = np.random.default_rng(cfg.shuffle_seed + 1)
        for rnd in range(1 + cfg.throughput_repeats):
            for k in [keys[i] for i in rng.permutation(len(keys))]:
                e = out["contenders"][k]
                if "error" in e:
                    continue
                r = _sweep(pool.workers[k], cfg.throughput)
                if "error" in r:
                    e["error"] = r["error"]
                    _log(f"  throughput {k}: failed: {r['error']}")
                    continue
                if rnd == 0:
                    e["first_pass_s"] = r["seconds"]
                    maes[k] = r["maes"]
                else:
                    e["times"].append(r["seconds"])
                    e.setdefault("per_arch_last", r["per_case"])
        anchor = maes.get(K.ANCHOR)
        for k, e in out["contenders"].items():
            if anchor is not None and k in maes:
                diffs = [K.compare(a, b) for a, b in zip(maes[k], anchor)]
                bad = [c.key for c, d in zip(cfg.throughput, diffs) if d > c.tol]
                e["check"] = {"max_abs_diff": max(diffs), "ok": not bad, "failed": bad}
            if e["times"]:
                st = _stats(e["times"])
                e["stats"] = st
                e["arch_per_s"] = len(cfg.throughput) / st["median"]
                e["samples_per_s"] = samples / st["median"]
                e["gflops"] = total_gflop / st["median"]
                _log(f"  throughput {k}: {e['arch_per_s']:.2f} architectures/s, {e['gflops']:.1f} GFLOP/s "
                     f"(first pass {e['first_pass_s']:.2f} s, steady median {st['median']:.2f} s)")
            if e.get("first_pass_s"):
                e["first_pass_arch_per_s"] = len(cfg.throughput) / e["first_pass_s"]
    except BaseException:
        pool.kill()
        raise
    finally:
        pool.close()
    return out


def run_memory(cfg: Config, case_results: list[dict]) -> None:
    if cfg.memory == "none":
        return
    for cr in case_results:
        case = C.Case.from_dict(cr["case"])
        if cfg.memory != "all" and case.key != cfg.memory:
            continue
        for k, e in cr["contenders"].items():
            if cfg.memory_contenders is not None and k not in cfg.memory_contenders:
                continue
            if "error" in e or e.get("disagrees"):
                continue
            _log(f"peak memory: {k} on {case.key} (fresh process)")
            r = _subprocess_json(["-m", "bench.contenders", "memory", k, json.dumps(case.to_dict()),
                                  str(e["samples_timed"])])
            e["memory"] = r.get("result", {"error": r.get("error")})


def targets(case_results: list[dict]) -> list[dict]:
    """The targets of issue 5, judged on this run."""
    by = {cr["case"]["key"]: cr for cr in case_results}
    out = []

    def med(cr, k):
        return cr["contenders"].get(k, {}).get("stats", {}).get("median")

    deep = by.get("lstm31x3_lb30")
    if deep:
        d, kl, nat = med(deep, "maeort_auto"), med(deep, "keras_loop"), med(deep, "ort_native")
        out.append({"target": "[31,31,31] LB 30: mae-ort default median <= 0.9 s", "value": d,
                    "ok": None if d is None else d <= 0.9})
        out.append({"target": "[31,31,31] LB 30: >= 4.5x the best Keras loop",
                    "value": None if not (d and kl) else kl / d, "ok": None if not (d and kl) else kl / d >= 4.5})
        out.append({"target": "[31,31,31] LB 30: >= 1.5x the native-LSTM run per sample",
                    "value": None if not (d and nat) else nat / d, "ok": None if not (d and nat) else nat / d >= 1.5})
    small = by.get("lstm7_lb1")
    if small:
        d, kl = med(small, "maeort_auto"), med(small, "keras_loop")
        out.append({"target": "[7] LB 1: >= 20x the best Keras loop",
                    "value": None if not (d and kl) else kl / d, "ok": None if not (d and kl) else kl / d >= 20})
    return out


# ---------------------------------------------------------------------------------
# the suite
# ---------------------------------------------------------------------------------
def run_suite(cfg: Config) -> dict:
    t_start = time.perf_counter()
    started = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")
    results: dict = {
        "suite_version": 1,
        "started": started,
        "config": cfg.describe(),
        "machine": M.machine_info(),
        "versions": dict(M.library_versions(with_keras=any(k.startswith("keras") for k in cfg.contenders)),
                         **peer_versions()),
        "contender_titles": dict(K.TITLES),
    }
    results["gemm"] = measure_gemm(cfg)
    results["one_time"] = measure_onetime(cfg)
    results["profile"] = measure_profile(cfg)
    results["readout_cost"] = measure_readout(cfg)
    _log(f"starting {len(cfg.contenders)} contender workers")
    pool = Pool(cfg.contenders, cfg)
    results["unavailable"] = dict(pool.unavailable)
    results["imports"] = dict(pool.started)
    rng = np.random.default_rng(cfg.shuffle_seed)
    case_results = []
    baseline = "keras_loop" if cfg.mode != "gpu" else "maeort_auto"
    try:
        for i, case in enumerate(cfg.cases, 1):
            _log(f"case {i}/{len(cfg.cases)}: {case.label}, {case.samples} samples, {C.gflop(case):.1f} GFLOP")
            cr = run_case(pool, case, cfg, rng)
            derive(cr, results["gemm"].get("gflops"), baseline)
            case_results.append(cr)
            if cfg.out_json and cfg.mode == "gpu":  # a checkpoint (marked partial): bench/gpu.sh has a time limit
                _write_json(dict(results, cases=case_results, partial=True), cfg.out_json)
        # one-time costs seen by the workers (model build, tracing, graph build, sessions)
        results["worker_setup"] = {cr["case"]["key"]: {k: e.get("setup", {}) for k, e in cr["contenders"].items()}
                                   for cr in case_results}
    except BaseException:
        pool.kill()  # interrupted or failed: end the workers now, whatever they run
        raise
    finally:
        pool.close()
    results["cases"] = case_results
    results["throughput"] = run_throughput(cfg)
    run_memory(cfg, case_results)
    results["memory_method"] = (
        "each (contender, case) once in a fresh process: import, set up, warm up on 1-2 samples, then VmHWM is "
        "reset (/proc/self/clear_refs = 5) and the case is run once; 'peak RSS' is the process' VmHWM during that "
        "run (libraries included), 'run Δ' is VmHWM minus VmRSS just before the run")
    results["targets"] = targets(case_results) if cfg.mode != "gpu" else []
    results["machine"]["loadavg_end"] = M.loadavg()
    results["wall_s"] = time.perf_counter() - t_start
    _log(f"done in {results['wall_s']:.0f} s")
    return results


def write_outputs(results: dict, cfg: Config) -> None:
    from bench import report

    if cfg.out_json:
        _write_json(results, cfg.out_json)
        _log(f"wrote {cfg.out_json}")
    if cfg.out_md:
        gpu = None
        gpath = HERE / "gpu_results.json"
        if gpath.exists():
            try:
                gpu = json.loads(gpath.read_text())
            except ValueError:
                gpu = None
        _write_text(cfg.out_md, report.render(results, gpu, kept=report.kept_sections(cfg.out_md)))
        _log(f"wrote {cfg.out_md}")


def _clean(o):
    """JSON-safe: non-finite floats become strings ('inf', 'nan')."""
    if isinstance(o, dict):
        return {str(k): _clean(v) for k, v in o.items()}
    if isinstance(o, (list, tuple)):
        return [_clean(v) for v in o]
    if isinstance(o, (float, np.floating)):
        f = float(o)
        return f if np.isfinite(f) else str(f)
    return o


def _write_text(path: str, text: str) -> None:
    """Write ``path`` whole or not at all: a temporary name in the same folder, then a rename."""
    d = os.path.dirname(os.path.abspath(path))
    fd, tmp = tempfile.mkstemp(dir=d, prefix=f".{os.path.basename(path)}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except OSError:
            pass
        raise


def _write_json(results: dict, path: str) -> None:
    _write_text(path, json.dumps(_clean(results), indent=1, default=_json_default) + "\n")


def _json_default(o):
    if isinstance(o, (np.floating,)):
        return float(o)
    if isinstance(o, (np.integer,)):
        return int(o)
    if isinstance(o, np.ndarray):
        return o.tolist()
    if isinstance(o, (set, tuple)):
        return list(o)
    return str(o)


class Interrupted(BaseException):
    """SIGINT or SIGTERM reached the suite."""

    def __init__(self, signum: int) -> None:
        super().__init__(signum)
        self.signum = signum


def _on_signal(signum, frame) -> None:
    for sig in (signal.SIGINT, signal.SIGTERM):  # a second Ctrl-C must not cut the clean-up short
        signal.signal(sig, signal.SIG_IGN)
    raise Interrupted(signum)


def main(argv=None) -> int:
    """``python -m bench.suite``: run, then write; SIGINT/SIGTERM end it with one line (exit 130/143)."""
    old = {}
    try:
        for sig in (signal.SIGINT, signal.SIGTERM):
            old[sig] = signal.signal(sig, _on_signal)
    except ValueError:  # not the main thread: no handlers
        pass
    try:
        return _main(argv)
    except Interrupted as e:
        K.kill_all()
        name = signal.Signals(e.signum).name
        what = ("RESULTS.md and results.json were written whole before it" if _PHASE[0] == "written" else
                "RESULTS.md and results.json untouched (rerun to measure)")
        print(f"interrupted: bench stopped by {name} during '{_PHASE[0]}'; no worker left, {what}",
              file=sys.stderr, flush=True)
        return 128 + e.signum
    finally:
        for sig, h in old.items():
            signal.signal(sig, h)


def _main(argv=None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.suite", description=__doc__.split("\n\n")[0])
    ap.add_argument("--quick", action="store_true", help="the same in under 3 minutes (fewer cases, repeats, "
                    "architectures; subsets for the slowest contenders)")
    ap.add_argument("--skip", metavar="PHASES", help="comma-separated phases to leave out: gemm, onetime, profile, "
                    "readout (a run that only times the contenders)")
    ap.add_argument("--memory", metavar="WHERE", help="peak memory: 'all' cases, 'none', or one case key "
                    "(default: the mode's)")
    ap.add_argument("--threads", type=int, metavar="N", help="hold every worker to N cores (all contenders then run "
                    "N threads; default: all cores, mae-ort's default)")
    ap.add_argument("--micro", action="store_true", help="tiny cases and a few contenders (the tests' run)")
    ap.add_argument("--dry-run", action="store_true", help="with --gpu: tiny cases and a 4-row slice, on the CPU "
                    "where there is no GPU (bash bench/gpu.sh --dry-run)")
    ap.add_argument("--gpu", action="store_true", help="the GPU run (bench/gpu.sh): writes bench/gpu_results.json")
    ap.add_argument("--report-only", action="store_true", help="re-render RESULTS.md from results.json "
                    "(and gpu_results.json)")
    ap.add_argument("--repeats", type=int, help="timed rounds per case")
    ap.add_argument("--only", help="comma-separated contender keys (default: all)")
    ap.add_argument("--cases", help="comma-separated case keys (default: the mode's)")
    ap.add_argument("--throughput", type=int, metavar="N", help="architectures in the throughput slice (0: skip)")
    ap.add_argument("--out", default=str(HERE), help="directory for results.json and RESULTS.md (default bench/)")
    args = ap.parse_args(argv)
    out = Path(args.out)
    if args.report_only:
        from bench import report

        res = json.loads((out / "results.json").read_text())
        gp = HERE / "gpu_results.json"
        gpu = json.loads(gp.read_text()) if gp.exists() else None
        _write_text(str(out / "RESULTS.md"), report.render(res, gpu, kept=report.kept_sections(out / "RESULTS.md")))
        _log(f"wrote {out / 'RESULTS.md'}")
        return 0
    if args.dry_run and not args.gpu:
        print("error: --dry-run goes with --gpu (bash bench/gpu.sh --dry-run)", file=sys.stderr)
        return 2
    cfg = gpu_config(dry_run=args.dry_run) if args.gpu else (quick_config() if args.quick else (
        micro_config() if args.micro else full_config()))
    if args.repeats:
        cfg.repeats = args.repeats
    if args.only:
        want = [k.strip() for k in args.only.split(",") if k.strip()]
        bad = [k for k in want if k not in K.CONTENDERS]
        if bad:
            print(f"error: --only: unknown contender{'s' if len(bad) > 1 else ''} {', '.join(map(repr, bad))}; "
                  f"known: {', '.join(K.CONTENDERS)}", file=sys.stderr)
            return 2
        cfg.contenders = [k for k in cfg.contenders if k in want] or want
        if K.ANCHOR not in cfg.contenders:
            cfg.contenders.insert(0, K.ANCHOR)  # the MAE check needs the anchor
        cfg.throughput_contenders = [k for k in cfg.throughput_contenders if k in cfg.contenders]
    if args.cases:
        want = {k.strip() for k in args.cases.split(",")}
        pool = C.micro_cases(5) if args.micro else C.main_cases(100)
        known = {c.key for c in pool}
        if want - known:
            print(f"error: --cases: unknown case(s) {', '.join(map(repr, sorted(want - known)))}; known: "
                  f"{', '.join(sorted(known))}", file=sys.stderr)
            return 2
        cfg.cases = [c for c in pool if c.key in want]
    if args.skip:
        phases = [x.strip() for x in args.skip.split(",")]
        bad = [x for x in phases if x not in ("gemm", "onetime", "profile", "readout")]
        if bad:
            print(f"error: --skip: unknown phase(s) {', '.join(map(repr, bad))}; known: gemm, onetime, profile, "
                  "readout", file=sys.stderr)
            return 2
        if "gemm" in phases:
            cfg.gemm = False
        if "onetime" in phases:
            cfg.numba_onetime, cfg.skip_export = "none", True
        if "profile" in phases:
            cfg.profile = None
        if "readout" in phases:
            cfg.readout_repeats = 0
    if args.memory is not None:
        known = {c.key for c in cfg.cases} | {"all", "none"}
        if args.memory not in known:
            print(f"error: --memory: {args.memory!r} is not 'all', 'none' or a case of this run "
                  f"({', '.join(sorted(known - {'all', 'none'}))})", file=sys.stderr)
            return 2
        cfg.memory = args.memory
    if args.throughput is not None:
        cfg.throughput = C.throughput_slice(args.throughput) if args.throughput > 0 else []
    if args.threads is not None:
        if args.threads < 1:
            print(f"error: --threads must be at least 1, got {args.threads}", file=sys.stderr)
            return 2
        os.environ["BENCH_THREADS"] = str(args.threads)  # the workers and the fresh processes inherit it
    cfg.log_dir = str(WORK / "logs")
    out.mkdir(parents=True, exist_ok=True)
    if args.gpu:
        cfg.out_json = str(out / "gpu_results.json")
    else:
        cfg.out_json, cfg.out_md = str(out / "results.json"), str(out / "RESULTS.md")
    if cfg.mode == "quick":
        _log("QUICK run: 4 of the 6 cases; 2 timings per contender (the warm check run counts as the first); "
             "10 throughput architectures; Numba one-time costs for depth 1 in the default cache; peak memory on "
             "[31,31,31] for 4 contenders; numpy timed on 10 samples of cases above 1 GFLOP, the Keras-evaluate "
             "style on 2 samples (times scaled to 100 samples). Use the full run for the record.")
    res = run_suite(cfg)
    if args.gpu:
        res["gpu_note"] = _gpu_note(res)
        res["gpu_device"] = _nvidia_smi()
    # both files or neither: a signal that comes while they are written waits until both are in place
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        write_outputs(res, cfg)
        _PHASE[0] = "written"
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT, signal.SIGTERM})
    return 0


def _nvidia_smi() -> str:
    try:
        p = subprocess.run(["nvidia-smi", "--query-gpu=name,memory.total,driver_version", "--format=csv,noheader"],
                           capture_output=True, text=True, timeout=30)
        return "GPU: " + "; ".join(p.stdout.strip().splitlines()) if p.returncode == 0 else "nvidia-smi failed"
    except (OSError, subprocess.SubprocessError):
        return "nvidia-smi not found"


def _gpu_note(res: dict) -> str:
    un = res.get("unavailable", {})
    if "maeort_cuda" in un:
        return f"CUDA provider ABSENT: {un['maeort_cuda']}"
    return "CUDA provider present"


if __name__ == "__main__":
    sys.exit(main())
