"""Render ``results.json`` (and ``gpu_results.json``) as ``RESULTS.md``."""

from __future__ import annotations

MiB = 2 ** 20

#: Everything after this line in RESULTS.md was written by hand: the suite keeps it when it rewrites the file.
KEPT_MARKER = "<!-- Hand-written sections below: bench.suite keeps them when it rewrites this file. -->"

#: The peers (bench/peers.py), in report order.
PEERS = ("torch_batched", "torch_compile", "torch_nn_lstm", "jax_vmap", "openvino")


def kept_sections(path) -> str:
    """The hand-written tail of an existing ``RESULTS.md`` (from :data:`KEPT_MARKER` on; '' if none)."""
    from pathlib import Path

    p = Path(path)
    if not p.exists():
        return ""
    text = p.read_text()
    i = text.find(KEPT_MARKER)
    return "" if i < 0 else text[i:]


def _ort_version(gpu: dict):
    versions = gpu.get("versions", {})
    return versions.get("onnxruntime") or versions.get("onnxruntime-gpu")


def _s(v, nd=3):
    """Seconds (or any number) with ``nd`` significant digits; '–' for missing."""
    if v is None:
        return "–"
    if isinstance(v, str):
        return v
    if v == 0:
        return "0"
    if abs(v) >= 10 ** nd:
        return f"{v:.0f}"
    return f"{v:.{nd}g}"


def _x(v):
    return "–" if v is None else (f"{v:.1f}×" if v >= 1 else f"{v:.2f}×")


def _pct(v):
    return "–" if v is None else f"{100 * v:.1f} %"


def _mib(v):
    return "–" if v is None else f"{v / MiB:.0f}"


def _check(e):
    c = e.get("check")
    if not c:
        return "–"
    if c.get("ok") is None:
        return c.get("note", "–")
    mark = "✓" if c["ok"] else "✗ **disagrees**"
    rel = f" (rel {c['max_rel_diff']:.1e})" if isinstance(c.get("max_rel_diff"), float) else ""
    return f"{mark} {c['max_abs_diff']:.1e}{rel}"


def _ratio(v):
    return "–" if v is None else f"{v:.2f}"


def _median(e):
    """A contender's median; None where it has none, failed or disagrees with the anchor (never in a ratio)."""
    if not e or e.get("disagrees") or e.get("error"):
        return None
    return (e.get("stats") or {}).get("median")


def _contender_row(k, e, titles, baseline_name, fused=None, auto=None):
    st = e.get("stats") or {}
    med = _median(e)
    vs_fused = e.get("time_vs_fused") or ((med / fused) if (med and fused) else None)
    vs_auto = e.get("time_vs_auto") or ((med / auto) if (med and auto) else None)
    mem = e.get("memory") or {}
    title = titles.get(k, k)
    if k.startswith("maeort_auto") and e.get("info", {}).get("runtime"):
        title += f" → {e['info']['runtime']}"
    if e.get("error"):
        return f"| {title} | error: {e['error'][:120]} | | | | | | | | | |"
    if e.get("disagrees"):
        return (f"| {title} | {_check(e)} | not timed: its MAEs disagree with the anchor, left out of every ratio "
                "| | | | | | | | |")
    extra = f" ({e['samples_timed']} timed, scaled)" if e.get("extrapolated") else ""
    spread = f"{_s(st.get('min'))}–{_s(st.get('max'))}" if st else "–"
    iqr = f"{_s(st.get('q1'))}–{_s(st.get('q3'))}" if st else "–"
    memtxt = f"{_mib(mem.get('peak_rss'))} / {_mib(mem.get('run_delta'))}" if mem and "error" not in mem else (
        "error" if mem else "–")
    return (f"| {title}{extra} | {_check(e)} | **{_s(st.get('median'))}** | {spread} | {iqr} | "
            f"{_x(e.get('speedup_vs_baseline'))} | {_ratio(vs_fused)} | {_ratio(vs_auto)} | "
            f"{_s(e.get('gflops'))} | {_pct(e.get('gemm_fraction'))} | {memtxt} |")


def _case_section(cr, titles, *, heading="###"):
    c = cr["case"]
    lines = [f"{heading} {c['label']}", ""]
    lines.append(f"{c['samples']} samples, {c['windows']} windows, n_in {c['n_in']}, {cr['gflop']:.2f} GFLOP useful "
                 f"products; MAE check tolerance {c['tol']:g} (max |ΔMAE| against `{cr.get('anchor')}` on the "
                 "same weights).")
    f64 = cr.get("anchor_vs_float64")
    if f64:
        lines.append(f"Anchor against a float64 numpy reference on the first {f64['samples']} samples: max |ΔMAE| "
                     f"{f64['max_abs_diff']:.1e} ({'✓' if f64['ok'] else '✗'}).")
    ms = cr.get("mae_summary")
    if ms:
        lines.append(f"MAEs: mean {ms['mean']:.4f}, sd {ms['sd']:.4f}, range {ms['min']:.4f}–{ms['max']:.4f}.")
    base = cr.get("baseline")
    lines += ["", f"| contender | MAE check | median s | min–max s | IQR s | speedup vs {base or 'baseline'} | "
              "time ÷ fused kernel's | time ÷ mae-ort default's | useful GFLOP/s | of GEMM rate | "
              "peak RSS / run Δ MiB |",
              "|---|---|---|---|---|---|---|---|---|---|---|"]
    order = list(titles)
    fused, auto = _median(cr["contenders"].get("maeort_numba")), _median(cr["contenders"].get("maeort_auto"))
    for k in sorted(cr["contenders"], key=lambda k: order.index(k) if k in order else 99):
        lines.append(_contender_row(k, cr["contenders"][k], titles, base, fused, auto))
    lines.append("")
    return lines


def _profile_section(pr: dict | None, gemm: dict) -> list[str]:
    """Where the fused Numba runtime's time goes, and the floor the GEMM rate sets."""
    if not pr:
        return []
    if pr.get("error"):
        return ["", "## Where the time goes", "", f"profile: error {pr['error'][:200]}"]
    med = {k: (pr.get(k) or {}).get("median") for k in ("sample", "draw", "kernel", "products")}
    total = med["sample"] or float("nan")
    threads = pr.get("threads", 1)
    one = ((gemm or {}).get("one_thread") or {}).get("gflops")
    rate = pr.get("products_gflops_per_thread")
    L = ["", f"## Where the time goes: fused Numba runtime on {pr.get('case')} (this run)", "",
         f"Fresh process, {threads} threads, {pr.get('tasks')} tasks of up to {pr.get('block')} windows, median of "
         f"{(pr.get('kernel') or {}).get('n')} runs each (`python -m bench.profile`). 'Products alone' runs the "
         "kernel's own `np.dot` calls (same shapes, same task split, same threads) and nothing else.", "",
         "| part | median s | share of the `sample` call |", "|---|---|---|"]
    rows = [("whole `Sampler(runtime='numba').sample`", med["sample"]), ("drawing the weights", med["draw"]),
            ("fused forward kernel (`forward_maes`)", med["kernel"]),
            (f"… its products alone ({pr.get('products_gflop_executed', 0):.1f} GFLOP, "
             f"{_s(rate)} GFLOP/s per thread)", med["products"]),
            ("… the element-wise rest (kernel − products)", pr.get("elementwise_s"))]
    for name, v in rows:
        L.append(f"| {name} | {_s(v)} | {_pct(None if v is None else v / total)} |")
    if one and rate:
        floor = pr["products_gflop_executed"] / (one * threads)
        L += ["", f"The products run at {rate / one:.0%} of this machine's one-thread float32 GEMM rate "
              f"({one:.0f} GFLOP/s, numpy 2048×2048) on each of the {threads} threads (at exactly that rate they "
              f"would take {floor:.3f} s): they are at the machine's limit, so the kernel's floor is its products' "
              "time. The element-wise rest is the gates' activations (three sigmoids and two tanh per unit, window "
              "and step, in float32 vector code, each a polynomial or rational approximation and a division) and "
              "the cell and state updates; the weights' draw is the counter-based generator."]
    return L


def fastest_peers(res: dict) -> list[dict]:
    """Per case: the fastest peer that agrees with the anchor, and mae-ort's default and fused kernel beside it."""
    out = []
    for cr in res.get("cases", []):
        cons = cr["contenders"]

        def med(k):
            return _median(cons.get(k))

        peers = [(med(k), k) for k in PEERS if med(k)]
        best = min(peers) if peers else (None, None)
        auto, fused = med("maeort_auto"), med("maeort_numba")
        out.append({"case": cr["case"]["key"], "label": cr["case"]["label"], "peer": best[1], "peer_s": best[0],
                    "auto_s": auto, "fused_s": fused,
                    "peer_over_auto": (best[0] / auto) if (best[0] and auto) else None,
                    "peer_over_fused": (best[0] / fused) if (best[0] and fused) else None,
                    "disagree": [k for k in PEERS if (cons.get(k) or {}).get("disagrees")]})
    return out


def openvino_vs_ort(res: dict) -> list[dict]:
    """Per case: OpenVINO against mae-ort's onnxruntime runtime on the same graph file."""
    out = []
    for cr in res.get("cases", []):
        cons = cr["contenders"]
        ov, ort = cons.get("openvino") or {}, cons.get("maeort_ort") or {}
        a = None if ov.get("disagrees") else (ov.get("stats") or {}).get("median")
        b = (ort.get("stats") or {}).get("median")
        if a and b:
            out.append({"case": cr["case"]["key"], "label": cr["case"]["label"], "openvino_s": a, "ort_s": b,
                        "ort_over_openvino": b / a, "openvino_faster": a < b})
    return out


def _peers_section(res: dict, titles: dict) -> list[str]:
    """The peers at a glance: the fastest per case, mae-ort beside it, one-time costs, OpenVINO vs onnxruntime."""
    cases = res.get("cases", [])
    if not any(k in cr["contenders"] for cr in cases for k in PEERS) and not any(
            k in (res.get("unavailable") or {}) for k in PEERS):
        return []
    cfg = res.get("config", {})
    ver = res.get("versions", {})
    L = ["", "## PyTorch, JAX and OpenVINO beside mae-ort (issue 22)", "",
         f"Same weights (`Sampler.weights`, drawn outside the timing), same MAEs (checked against `maeort_ort` "
         f"before timing), **{cfg.get('threads', '?')} thread{'' if cfg.get('threads') == 1 else 's'} "
         "for every contender** "
         "(`torch.set_num_threads`, OpenVINO `INFERENCE_NUM_THREADS`, XLA's CPU client on all cores "
         "— one thread via `XLA_FLAGS` when the count is 1 — and mae-ort's own default). Versions: "
         + ", ".join(f"{n} {ver.get(n) or 'absent'}" for n in ("torch", "jax", "jaxlib", "openvino")) + ". "
         "A peer is timed as its user runs it warm; mae-ort's rows time a whole `Sampler.sample` call "
         "(drawing the weights included).", ""]
    for k in PEERS:
        why = (res.get("unavailable") or {}).get(k)
        if why:
            L.append(f"- **{titles.get(k, k)}**: not available — {why}")
    L += ["", "| case | fastest peer | its median s | mae-ort default s | fused kernel s | "
          "peer ÷ mae-ort default | peer ÷ fused kernel | disagree (not timed) |", "|---|---|---|---|---|---|---|---|"]
    for r in fastest_peers(res):
        L.append(f"| {r['label']} | {titles.get(r['peer'], r['peer']) if r['peer'] else '–'} | {_s(r['peer_s'])} | "
                 f"{_s(r['auto_s'])} | {_s(r['fused_s'])} | {_ratio(r['peer_over_auto'])} | "
                 f"{_ratio(r['peer_over_fused'])} | {', '.join(r['disagree']) or '–'} |")
    L += ["", "A ratio above 1 means the peer takes longer than mae-ort.", ""]
    started = res.get("imports") or {}
    ws = res.get("worker_setup") or {}
    rows = []
    for k in PEERS:
        if k not in started:
            continue
        per = []
        for ck, d in ws.items():
            st = d.get(k) or {}
            one = st.get("one_time_s", st.get("compile_s"))
            if one is not None:
                per.append(f"{ck} {_s(one)}")
        rows.append(f"| {titles.get(k, k)} | {_s(started[k].get('import_s'))} | {'; '.join(per) or '–'} |")
    if rows:
        L += ["One-time costs of the peers (untimed in the tables): the import (with its thread setup) in the worker, "
              "and per case the compile/trace cost = first call − warm call (`torch.compile`, `jax.jit`), or "
              "OpenVINO's `compile_model`; eager PyTorch's first call pays its allocator and thread pool.", "",
              "| peer | import s | one-time cost per case s |", "|---|---|---|"] + rows + [""]
    ov = openvino_vs_ort(res)
    if ov:
        wins = sum(r["openvino_faster"] for r in ov)
        L += ["OpenVINO against onnxruntime on the same graph (mae-ort's weights-as-inputs ONNX file; "
              "`maeort_ort` also draws its weights inside the timing, a few per cent of its time):", "",
              "| case | OpenVINO s | mae-ort onnxruntime s | onnxruntime ÷ OpenVINO |", "|---|---|---|---|"]
        for r in ov:
            L.append(f"| {r['label']} | {_s(r['openvino_s'])} | {_s(r['ort_s'])} | {_ratio(r['ort_over_openvino'])} |")
        L += ["", f"OpenVINO is faster on {wins} of {len(ov)} cases in this run.", ""]
    return L


def _readout_section(rc: dict | None) -> list[str]:
    """The readout score's cost beside the MAE pass alone (``bench.readout_cost``, this run)."""
    if not rc:
        return []
    if rc.get("error"):
        return ["", "## What the readout score costs (this run)", "", f"readout cost: error {rc['error'][:200]}"]
    L = ["", "## What the readout score costs (this run)", "",
         "`[31,31,31]` look-back 30 on the sine, 100 samples, in a fresh process (`bench.readout_cost`): "
         "`Sampler.maes` (the MAE pass alone) against `Sampler.maes(readout=True)` (what `sample --scores readout` "
         "runs: the same pass writing the last hidden states, then each sample's ridge), medians of interleaved "
         "repeats.", "", "| runtime | repeats | MAE pass alone s | MAEs + readout s | ratio |", "|---|---|---|---|---|"]
    for r in rc.get("runs", []):
        m, q = r["median_seconds"], r["ratio_to_maes"]
        L.append(f"| {r['runtime']} | {r['repeats']} | {_s(m['maes'])} | {_s(m['maes+readout'])} | "
                 f"{q['maes+readout']:.2f}× |")
    return L


def render(res: dict, gpu: dict | None = None, kept: str = "") -> str:
    titles = res.get("contender_titles", {})
    cfg = res.get("config", {})
    mach = res.get("machine", {})
    ver = res.get("versions", {})
    L = ["# mae-ort benchmark results", ""]
    L.append(f"Generated by `bash scripts/bench.sh{' --quick' if cfg.get('mode') == 'quick' else ''}` on "
             f"{res.get('started', '?')} in {res.get('wall_s', 0):.0f} s (mode **{cfg.get('mode')}**).")
    if res.get("partial"):
        L += ["", "> **Partial results**: the run was cut short; only the cases below were completed."]
    if cfg.get("mode") in ("quick", "micro"):
        L.append("")
        L.append("> **Quick run**: 4 cases, 2 timings per contender (the warm check run counts as the first), "
                 "10 throughput architectures, peak memory on one case, subsets for the slowest contenders (scaled). "
                 "A smoke run, not the record: use `bash scripts/bench.sh` on a quiet machine.")
    la, le = mach.get("loadavg"), mach.get("loadavg_end")
    L.append("")
    L.append(f"Load average at start {la}, at end {le} (1/5/15 min; anything well above 0 on an otherwise idle "
             f"machine means the timings are noisy).")
    cores = mach.get("usable_cpus") or 0
    if cores and any(isinstance(x, list) and x and x[0] > cores for x in (la, le)):
        L += ["", f"> **Loaded machine**: the 1-minute load average exceeded the {cores} usable cores: other work "
              "shared the CPUs for this run, so absolute times are several times those of an idle machine and "
              "the spread is wide. Every contender ran interleaved with the others in each round, so they met "
              "the same load; their ratios mean more than their times, and multi-threaded contenders whose "
              "threads synchronise often (many small operations per step) suffer most."]
    L += ["", "## Machine and libraries", "",
          "| | |", "|---|---|",
          f"| CPU | {mach.get('cpu')} ({', '.join(mach.get('cpu_flags', []))}) |",
          f"| cores | {mach.get('usable_cpus')} usable of {mach.get('logical_cpus')} logical |",
          f"| RAM | {mach.get('ram_gib')} GiB |",
          f"| OS / Python | {mach.get('os')} / {mach.get('python')} |"]
    for name in ("mae-ort", "numpy", "numpy_blas", "scipy", "onnx", "onnxruntime", "onnxruntime-gpu",
                 "onnxruntime_providers", "numba", "llvmlite", "tensorflow", "keras", "torch", "jax", "jaxlib",
                 "openvino"):
        v = ver.get(name)
        if v is not None:
            L.append(f"| {name} | {', '.join(v) if isinstance(v, list) else v} |")
    g = res.get("gemm", {})
    L += ["", "## Float32 GEMM rate of this machine", ""]
    if g.get("gflops"):
        one = g.get("one_thread") or {}
        allc = g.get("all_cores") or {}
        L.append(f"**{g['gflops']:.1f} GFLOP/s** (numpy float32 2048×2048 matmul, best of 5): "
                 f"{_s(allc.get('gflops'))} GFLOP/s on all cores, {_s(one.get('gflops'))} GFLOP/s on one thread; "
                 "the 'of GEMM rate' columns divide by the higher of the two (on a quiet machine, all cores).")
    else:
        L.append("not measured in this mode")

    tg = res.get("targets") or []
    if tg:
        L += ["", "## Targets of issue 5 (this run)", "", "| target | value | met |", "|---|---|---|"]
        for t in tg:
            v = t["value"]
            vs = "–" if v is None else (f"{v:.3f} s" if "median" in t["target"] else f"{v:.2f}×")
            L.append(f"| {t['target']} | {vs} | {'–' if t['ok'] is None else ('yes' if t['ok'] else '**no**')} |")

    L += _profile_section(res.get("profile"), g)
    L += _peers_section(res, titles)
    L += _readout_section(res.get("readout_cost"))

    un = res.get("unavailable") or {}
    L += ["", "## Cases", "",
          f"Preset `{cfg.get('preset')}` (Keras 3 defaults: LSTM, tanh cell, **sigmoid gates**, tanh Dense head), "
          "Normal(0, 1) weights drawn by mae-ort's sampler (seed 0); every contender gets the same weights. "
          "Times are wall seconds for the case's samples, median of the timed rounds (each round runs every "
          "contender once, in a shuffled order); 'speedup' divides the baseline's median by the contender's. "
          "mae-ort rows time a whole `Sampler.sample` call (weight drawing, evaluation and the fit), warm (sessions "
          "open, kernels compiled); the other rows get the weights ready-made. Useful GFLOP/s: "
          "`Architecture.flops × samples / median` (the cost model of `Architecture.flops`).", ""]
    for k, why in un.items():
        L.append(f"- **{titles.get(k, k)}**: not available — {why}")
    if un:
        L.append("")
    for cr in res.get("cases", []):
        L += _case_section(cr, titles)

    tp = res.get("throughput") or {}
    if tp.get("contenders"):
        n = len(tp.get("architectures", []))
        L += ["## Throughput: a slice of the paper's two-layer space", "",
              f"{n} architectures (units 7–31 per layer, LB ∈ {{1, 10, 20, 30}}, seeded pick), "
              f"{tp['samples'] // max(n, 1)} samples each, {tp['gflop']:.0f} GFLOP in all; one `Sampler` per "
              "contender in a fresh process sweeps them in order. The first pass includes opening sessions "
              "(and loading kernels); the steady passes repeat the sweep.", "",
              "| contender | MAE check | first pass s | steady median s (min–max) | architectures (rows)/s | "
              "samples/s | GFLOP/s |", "|---|---|---|---|---|---|---|"]
        for k, e in tp["contenders"].items():
            st = e.get("stats") or {}
            if e.get("error"):
                L.append(f"| {titles.get(k, k)} | error: {e['error'][:100]} | | | | | |")
                continue
            L.append(f"| {titles.get(k, k)} | {_check(e)} | {_s(e.get('first_pass_s'))} | "
                     f"{_s(st.get('median'))} ({_s(st.get('min'))}–{_s(st.get('max'))}) | "
                     f"**{_s(e.get('arch_per_s'))}** | {_s(e.get('samples_per_s'))} | {_s(e.get('gflops'))} |")
        for k, why in (tp.get("unavailable") or {}).items():
            L.append(f"| {titles.get(k, k)} | not available: {why} | | | | | |")
        L.append("")

    ot = res.get("one_time") or {}
    L += ["## One-time costs", "", "Each measured in a fresh process.", ""]
    ex = ot.get("export")
    if isinstance(ex, list) and ex:
        L += ["| case | graph export (build+write) s | cache read s | session creation s | first 8-sample run s "
              "| second run s | graph bytes |", "|---|---|---|---|---|---|---|"]
        for r in ex:
            L.append(f"| {r['case']} | {_s(r['export_s'])} | {_s(r['cache_read_s'])} | {_s(r['session_s'])} | "
                     f"{_s(r['first_chunk_run_s'])} | {_s(r['second_chunk_run_s'])} | {r['graph_bytes']} |")
        L.append("")
        L.append("One graph serves a whole family (cell, depth, activations) at one look-back, so a sweep exports "
                 "and opens one session per (depth, look-back).")
        L.append("")
    elif isinstance(ex, dict) and ex.get("error"):
        L += [f"export: error {ex['error']}", ""]
    rows = [(name, ot.get(key) or {}) for key, name in (
        ("numba_cold", "cold (fresh NUMBA_CACHE_DIR)"),
        ("numba_first", "first process (default cache location, as found)"),
        ("numba_cached", "cached (second process, same cache)"))]
    have = [d for _, d in rows if "import_s" in d]
    if have:
        keys = [k for k in have[0] if k.endswith("_s") and k != "process_wall_s"]
        L += ["| Numba kernels | " + " | ".join(k[:-2].replace("_", " ") + " s" for k in keys)
              + " | process wall s |", "|---" * (len(keys) + 2) + "|"]
        for name, d in rows:
            if "import_s" in d:
                cells = " | ".join(_s(d.get(k)) for k in keys)
                L.append(f"| {name} | {cells} | {_s(d.get('process_wall_s'))} |")
            elif d.get("error"):
                L.append(f"| {name} | error: {d['error'][:150]} |")
        L.append("")
        L.append("One compiled forward kernel serves every cell, activation and depth (each sample's weights are "
                 "packed into one row); Numba compiles it once and caches it on disk.")
        L.append("")
    else:
        errs = [f"{name}: {d['error']}" for name, d in rows if d.get("error")]
        if errs:
            L += ["Numba: " + "; ".join(errs), ""]
    ws = res.get("worker_setup") or {}
    if ws:
        L += ["Per-case setup seen by the workers (untimed in the tables above): mae-ort `warmup_call` = a first "
              "2-sample `Sampler.sample` (opens the session or loads the kernel); Keras `build` = `to_keras`, "
              "`first_call` = the first `predict_on_batch`/`evaluate` (tracing); native LSTM `graph_build` and "
              "`session`.", "", "| case | contender | setup |", "|---|---|---|"]
        for ck, d in ws.items():
            for k, st in d.items():
                if st:
                    L.append(f"| {ck} | {k} | " + ", ".join(f"{a.replace('_s', '')} {_s(b)} s" for a, b in st.items())
                             + " |")
        L.append("")

    if gpu:
        L += ["## GPU (bench/gpu.sh)", ""]
        gm = gpu.get("machine", {})
        L.append(f"Run {gpu.get('started', '?')} on {gm.get('cpu')} ({gm.get('usable_cpus')} cores); "
                 f"onnxruntime {_ort_version(gpu)}, "
                 f"providers {gpu.get('versions', {}).get('onnxruntime_providers')}. "
                 f"{gpu.get('gpu_note', '')}. {gpu.get('gpu_device', '')}")
        L.append("Speedups are against mae-ort's CPU default on the GPU machine's own CPU, in the same run.")
        L.append("")
        for k, why in (gpu.get("unavailable") or {}).items():
            L.append(f"- **{titles.get(k, k)}**: not available — {why}")
        L.append("")
        for cr in gpu.get("cases", []):
            L += _case_section(cr, titles, heading="####")
        tpg = gpu.get("throughput") or {}
        if tpg.get("contenders"):
            L += ["| throughput contender | check | first pass s | steady median s | architectures/s | GFLOP/s |",
                  "|---|---|---|---|---|---|"]
            for k, e in tpg["contenders"].items():
                st = e.get("stats") or {}
                L.append(f"| {titles.get(k, k)} | {_check(e)} | {_s(e.get('first_pass_s'))} | {_s(st.get('median'))} "
                         f"| {_s(e.get('arch_per_s'))} | {_s(e.get('gflops'))} |")
            L.append("")
    else:
        L += ["## GPU", "", "No `bench/gpu_results.json` yet: run `bash bench/gpu.sh` on a machine with a GPU "
              "(it writes the file; `python -m bench.suite --report-only` then re-renders this page).", ""]

    L += ["## Method", "",
          "- **MAE check first**: every contender runs each case once before timing; its MAEs are compared with "
          f"mae-ort's onnxruntime runtime (`maeort_ort`) for the same weights: max |ΔMAE| ≤ {cfg.get('tol_small')} on "
          f"small cases (≤ 2 layers and LB ≤ 10), ≤ {cfg.get('tol_deep')} on deeper or longer ones, where float32 "
          "round-off grows through saturating gates. Every timed run is compared again.",
          "- **Contenders** each run in their own worker process (spawned; TensorFlow never shares a process with "
          "onnxruntime or Numba); the suite interleaves them round by round in a shuffled order.",
          "- **Keras loop**: one model built once; per sample `set_weights` then `predict_on_batch(X_all_windows)`; "
          "MAE in numpy. **Keras reference style**: `compile(loss='mae')`, per sample `set_weights` then "
          "`evaluate` over a `keras.utils.PyDataset` of batches of 5, timed on a subset of samples and scaled.",
          "- **Native LSTM**: an ONNX graph built with `onnx.helper` as Keras' exporter builds it (Transpose to "
          "time-major, one `LSTM` node per layer, MatMul+Add+Tanh head); per sample the Keras weights are "
          "reordered i,f,c,o → i,o,f,c, transposed, the bias put in the first half of `B` (inside the timing), "
          "and one `sess.run` evaluates all windows.",
          "- **numpy**: `mae_ort.model.reference.maes(..., dtype=float32)` in chunks of 10 samples "
          "(numpy's BLAS, all cores).",
          f"- **Peak memory**: {res.get('memory_method', '')}.",
          "- **Peers** (PyTorch, JAX, OpenVINO; `bench/peers.py`): the same weights as every other contender, "
          "the same MAE check; a peer that disagrees is marked so, not timed, and left out of every ratio. "
          "'time ÷ fused kernel's' and 'time ÷ mae-ort default's' divide the contender's median by "
          "`maeort_numba`'s and `maeort_auto`'s in the same case (above 1: slower than mae-ort).",
          "- **GEMM rate**: " + (g.get("method") or "–") + ".", ""]
    text = "\n".join(L) + "\n"
    if kept:
        text += "\n" + kept.rstrip("\n") + "\n"
    return text
