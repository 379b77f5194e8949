"""Peak memory of two source trees in the same run (``python -m bench.memory --base PATH``).

For each tree (this one and ``--base``), interleaved: the 500-row sub-grid sweep of
``bench.sweep_share`` (``paper-3layer`` widths 7:31:6, four look-backs, 100 samples, shared prefixes,
2 worker processes) and one ``[31,31,31]`` LB 30 job of 100 samples, each in a fresh process whose
process tree (the parent, the forkserver and the workers) is polled with psutil every 0.1 s: the
largest RSS of any one process, the largest sum over the tree, and the parent's own ``VmHWM``.
Writes ``bench/memory.json`` and prints a Markdown table.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent

SWEEP = """
from mae_ort.screening import grid, screen
from mae_ort._system import peak_rss_bytes
if __name__ == "__main__":
    sub = grid(units="7:31:6", layers="3", look_back="1,10,20,30", preset="paper", name="paper-3layer sub-grid")
    df = screen(sub, store=None, samples=100, seed=0, workers=2, share=True)
    print("ROWS", len(df), "PARENT_HWM", peak_rss_bytes())
"""
ONE = """
import mae_ort
from mae_ort._system import peak_rss_bytes
r = mae_ort.sample(mae_ort.sine(), arch=[31, 31, 31], look_back=30, samples=100, seed=0)
print("ROWS", 1, "PARENT_HWM", peak_rss_bytes(), r.runtime)
"""


def _tree_rss(proc) -> tuple[int, int]:
    import psutil

    try:
        procs = [proc] + proc.children(recursive=True)
    except psutil.NoSuchProcess:
        return 0, 0
    sizes = []
    for p in procs:
        try:
            sizes.append(p.memory_info().rss)
        except psutil.Error:
            pass
    return (max(sizes) if sizes else 0), sum(sizes)


def run(tree: Path, code: str, tmp: Path) -> dict:
    import psutil

    script = tmp / "job.py"
    script.write_text(code)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONPATH"] = str(tree)
    t0 = time.perf_counter()
    proc = subprocess.Popen([sys.executable, str(script)], cwd=tree, env=env, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    ps = psutil.Process(proc.pid)
    one = total = 0
    while proc.poll() is None:
        a, b = _tree_rss(ps)
        one, total = max(one, a), max(total, b)
        time.sleep(0.1)
    out, err = proc.communicate()
    line = next((ln for ln in out.splitlines() if ln.startswith("ROWS")), "")
    parts = line.split()
    return {"seconds": time.perf_counter() - t0, "rc": proc.returncode, "rows": int(parts[1]) if parts else None,
            "parent_hwm_mib": int(parts[3]) / 2**20 if len(parts) > 3 else None,
            "largest_process_mib": one / 2**20, "tree_sum_mib": total / 2**20,
            "stderr_tail": err[-400:] if proc.returncode else ""}


def main(argv=None) -> dict:
    import tempfile

    from mae_ort._system import loadavg, machine_line

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--base", required=True)
    ap.add_argument("--out", default=str(HERE / "memory.json"))
    a = ap.parse_args(argv)
    trees = {"before": Path(a.base).resolve(), "after": ROOT}
    res = {"machine": machine_line(), "loadavg_start": loadavg(), "runs": {}}
    with tempfile.TemporaryDirectory() as tmp:
        for job, code in (("[31,31,31] LB 30, 100 samples", ONE), ("500-row sub-grid sweep, 2 workers", SWEEP)):
            for name, tree in trees.items():
                r = run(tree, code, Path(tmp))
                res["runs"][f"{job} | {name}"] = r
                print(job, name, json.dumps(r), flush=True)
    res["loadavg_end"] = loadavg()
    Path(a.out).write_text(json.dumps(res, indent=2))
    print(f"\n{res['machine']}; load average {res['loadavg_start']} → {res['loadavg_end']}\n")
    print("| job | tree | largest process MiB | process tree sum MiB | parent VmHWM MiB | seconds |")
    print("|---|---|---|---|---|---|")
    for key, r in res["runs"].items():
        job, name = key.split(" | ")
        print(f"| {job} | {name} | {r['largest_process_mib']:.0f} | {r['tree_sum_mib']:.0f} | "
              f"{(r['parent_hwm_mib'] or float('nan')):.0f} | {r['seconds']:.1f} |")
    return res


if __name__ == "__main__":
    main()
