"""The benchmark's peers (PyTorch, JAX, OpenVINO), its bad input and its interrupts (no timing assertions).

Each peer must give mae-ort's MAEs for the same weights on tiny cases where its package is
installed (the ``peers`` extra) and skip cleanly where not; a missing package makes a peer
"not available" with the reason; a contender that disagrees with the anchor is never timed
and is left out of every ratio; ``--only`` with an unknown key lists the known ones (exit 2);
SIGINT/SIGTERM end the suite with one line, exit 130/143, no worker left, no partial file.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import cases as C  # noqa: E402
from bench import contenders as K  # noqa: E402
from bench import peers as P  # noqa: E402
from bench import report, suite  # noqa: E402

TOL = 1e-5  # tiny cases: float32 implementations agree to ~1e-6


@pytest.fixture(scope="module", params=[((3,), 2), ((4, 3), 3)], ids=["lstm3_lb2", "lstm4x3_lb3"])
def tiny(request):
    units, lb = request.param
    case = C.Case(f"p_{'x'.join(map(str, units))}_lb{lb}", units, lb, samples=5, small=True)
    anchor = K.make("maeort_ort")
    anchor.setup(case)
    return case, anchor.run(case, case.samples)


@pytest.mark.parametrize("key", ["torch_batched", "torch_nn_lstm", "jax_vmap", "openvino"])
def test_peer_matches_mae_ort(tiny, key):
    pytest.importorskip(P._NEEDS[key])
    case, anchor = tiny
    con = K.make(key)
    ok, why = con.available()
    assert ok, why
    con.setup(case)
    got = con.run(case, case.samples)
    assert got.shape == anchor.shape
    assert K.compare(got, anchor) <= TOL
    assert K.compare(con.run(case, 2), anchor[:2]) <= TOL  # a subset is the first samples


def test_torch_compile_matches_mae_ort():
    pytest.importorskip("torch")
    case = C.Case("p_compile_3_lb2", (3,), 2, samples=3, small=True)
    anchor = K.make("maeort_ort")
    anchor.setup(case)
    con = K.make("torch_compile")
    ok, why = con.available()
    assert ok, why
    st = con.setup(case)
    assert st["first_call_s"] >= st["warm_call_s"] >= 0  # the compilation is paid in setup
    assert K.compare(con.run(case, 3), anchor.run(case, 3)) <= TOL


def test_torch_batched_chunks_agree_with_reference():
    """Chunking over samples changes nothing: every chunk size gives the float64 reference's MAEs."""
    pytest.importorskip("torch")
    from mae_ort.model.reference import maes

    case = C.Case("p_chunks", (5, 4), 4, samples=7)
    arch, win, W = case.arch(), C.windows("sine", 4), C.weights(case)
    want = maes(arch, win.X, win.y, W, dtype=np.float64)
    for chunk in (1, 3, 7):
        assert K.compare(P.torch_maes(arch, win.X, win.y, W, chunk=chunk), want) <= TOL


def test_jax_thread_flags():
    assert "intra_op_parallelism_threads=1" in P.jax_thread_flags(1)
    assert "--xla_cpu_multi_thread_eigen=false" in P.jax_thread_flags(1)
    assert P.jax_thread_flags(2) == ""


@pytest.mark.parametrize("key", list(P.PEERS))
def test_missing_package_is_not_available_with_the_reason(monkeypatch, key):
    monkeypatch.setitem(sys.modules, P._NEEDS[key], None)  # `import torch` now raises ImportError
    ok, why = K.make(key).available()
    assert not ok
    assert P._NEEDS[key] in why and "peers" in why


def test_chunk_for_bounds_the_intermediates():
    arch = C.Case("x", (31, 31, 31), 30).arch()
    ch = P.chunk_for(arch, 970, 30, 100)
    assert 1 <= ch < 100 and ch * 970 * 30 * 5 * 31 * 4 <= P.CHUNK_BYTES
    assert P.chunk_for(C.Case("y", (7,), 1).arch(), 999, 1, 100) == 100


# ---------------------------------------------------------------------------------
# disagreement: never timed, never in a ratio
# ---------------------------------------------------------------------------------
class _FakeWorker:
    """Answers the suite's commands like a worker, with MAEs shifted by ``shift``."""

    def __init__(self, maes, shift=0.0):
        self.maes, self.shift, self.runs = np.asarray(maes), shift, 0

    def call(self, cmd, case=None, samples=None):
        if cmd == "setup":
            return {"setup": {}, "info": {}}
        self.runs += 1
        return {"seconds": 0.01 * (1 + self.shift), "maes": list(self.maes[:samples] + self.shift), "info": {}}


def test_a_contender_that_disagrees_is_not_timed_and_in_no_ratio():
    case = C.Case("p_fake", (3,), 2, samples=4, small=True)
    maes = np.array([0.3, 0.4, 0.5, 0.6])
    cfg = suite.Config(mode="micro", cases=[case], repeats=3, f64_samples=0,
                       contenders=["maeort_ort", "maeort_auto", "maeort_numba", "torch_batched", "jax_vmap"])
    pool = type("FakePool", (), {})()
    pool.cfg = cfg
    pool.workers = {"maeort_ort": _FakeWorker(maes), "maeort_auto": _FakeWorker(maes),
                    "maeort_numba": _FakeWorker(maes), "torch_batched": _FakeWorker(maes, shift=1e-2),
                    "jax_vmap": _FakeWorker(maes, shift=1e-7)}
    cr = suite.run_case(pool, case, cfg, np.random.default_rng(0))
    suite.derive(cr, 100.0)
    bad, good = cr["contenders"]["torch_batched"], cr["contenders"]["jax_vmap"]
    assert bad["disagrees"] and not bad["check"]["ok"]
    assert pool.workers["torch_batched"].runs == 1  # the check run only: never timed
    assert not bad["times"] and "stats" not in bad
    for f in ("time_vs_fused", "time_vs_auto", "speedup_vs_baseline", "gflops"):
        assert bad[f] is None
    assert good["check"]["ok"] and not good.get("disagrees") and len(good["times"]) == 3
    assert good["time_vs_fused"] == pytest.approx(1.0) and good["time_vs_auto"] == pytest.approx(1.0)
    fp = report.fastest_peers({"cases": [cr]})[0]
    assert fp["peer"] == "jax_vmap" and fp["disagree"] == ["torch_batched"]
    md = "\n".join(report._case_section(cr, K.TITLES))
    row = next(line for line in md.splitlines() if line.startswith("| " + K.TITLES["torch_batched"]))
    assert "disagrees" in row and "not timed" in row
    res = {"cases": [cr], "config": {"threads": 2}, "versions": {"torch": "2.13.0"}, "contender_titles": K.TITLES,
           "imports": {"jax_vmap": {"import_s": 1.5}}, "worker_setup": {"p_fake": {"jax_vmap": {"one_time_s": 2.5}}}}
    md = report.render(res)
    assert "## PyTorch, JAX and OpenVINO beside mae-ort" in md and "2 threads for every contender" in md
    glance = next(line for line in md.splitlines() if line.startswith("| [3] LB 2"))
    assert K.TITLES["jax_vmap"] in glance and "torch_batched" in glance  # fastest peer; the one that disagrees
    assert "| 1.5 | p_fake 2.5 |" in md


# ---------------------------------------------------------------------------------
# bad input
# ---------------------------------------------------------------------------------
def test_only_with_an_unknown_contender_lists_the_known_ones(capsys):
    assert suite.main(["--only", "maeort_auto,bogus"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'bogus'" in err[0]
    for k in ("maeort_numba", "torch_batched", "jax_vmap", "openvino"):
        assert k in err[0]


def test_unknown_case_is_one_line(capsys):
    assert suite.main(["--cases", "nope"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "'nope'" in err[0] and "lstm7_lb1" in err[0]


def test_results_md_keeps_the_hand_written_sections(tmp_path):
    md = tmp_path / "RESULTS.md"
    md.write_text("# old generated part\n\n" + report.KEPT_MARKER + "\n\n## By hand\n\nkept text\n")
    text = report.render({"cases": []}, None, kept=report.kept_sections(md))
    assert text.count(report.KEPT_MARKER) == 1 and text.rstrip().endswith("kept text")
    assert "old generated part" not in text
    assert report.kept_sections(tmp_path / "absent.md") == ""


# ---------------------------------------------------------------------------------
# interrupts
# ---------------------------------------------------------------------------------
def _session_pids(sid: int) -> list[int]:
    """Processes of session ``sid`` still alive (zombies excluded)."""
    out = []
    for d in Path("/proc").iterdir():
        if not d.name.isdigit():
            continue
        try:
            stat = (d / "stat").read_text()
        except OSError:
            continue
        fields = stat[stat.rindex(")") + 2:].split()
        if fields[0] != "Z" and int(fields[3]) == sid:
            out.append(int(d.name))
    return out


def _setup_is_current() -> bool:
    """scripts/setup.sh would install nothing (its stamp matches pyproject.toml and the dev extras)."""
    import hashlib

    stamp = ROOT / ".venv" / ".mae-ort-setup"
    want = hashlib.sha256((ROOT / "pyproject.toml").read_bytes()).hexdigest()[:16] + " dev"
    return stamp.exists() and want in stamp.read_text().splitlines()


@pytest.mark.parametrize("sig, group, script", [(signal.SIGINT, True, False), (signal.SIGTERM, False, False),
                                                (signal.SIGINT, True, True)],
                         ids=["ctrl-c", "sigterm", "bench.sh-ctrl-c"])
@pytest.mark.skipif(not Path("/proc/self/stat").exists(), reason="needs /proc (Linux)")
def test_interrupt_is_one_line_no_worker_no_partial_file(tmp_path, sig, group, script):
    """SIGINT to the process group (what Ctrl-C sends), SIGTERM to the suite alone: one line, 130/143,
    no process of the run left, no results file (nor a temporary one) in the output folder."""
    if script and not _setup_is_current():
        pytest.skip("scripts/bench.sh would set up .venv first")
    env = dict(os.environ, PYTHONPATH=str(ROOT), TF_CPP_MIN_LOG_LEVEL="3")
    args = ["--micro", "--throughput", "0", "--only", "maeort_ort,maeort_numba,numpy_batched", "--repeats", "50",
            "--out", str(tmp_path)]
    cmd = ["bash", "scripts/bench.sh", *args] if script else [sys.executable, "-m", "bench.suite", *args]
    p = subprocess.Popen(cmd, cwd=str(ROOT), env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         start_new_session=True)
    lines = []
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:  # wait until the workers run the first case
        line = p.stderr.readline()
        if not line:
            break
        lines.append(line)
        if "case 1/" in line:
            break
    assert any("case 1/" in x for x in lines), "".join(lines)
    time.sleep(1.0)
    if group:
        os.killpg(p.pid, sig)
    else:
        p.send_signal(sig)
    try:
        rest = p.communicate(timeout=60)[1]
    except subprocess.TimeoutExpired:
        os.killpg(p.pid, signal.SIGKILL)
        raise
    err = "".join(lines) + rest
    assert p.returncode == 128 + sig, err
    assert "Traceback" not in err
    tail = rest.strip().splitlines()
    assert tail and tail[-1].startswith("interrupted: ") and signal.Signals(sig).name in tail[-1]
    assert sum(x.startswith("interrupted:") for x in err.splitlines()) == 1
    time.sleep(0.5)
    assert _session_pids(p.pid) == [], "processes of the run are left"
    assert sorted(x.name for x in tmp_path.iterdir()) == []  # no RESULTS.md, results.json or *.tmp


# ---------------------------------------------------------------------------------
# bench/gpu.sh --dry-run
# ---------------------------------------------------------------------------------
def test_three_layer_slice_is_seeded_and_in_space():
    a, b = C.three_layer_slice(200), C.three_layer_slice(200)
    assert [c.key for c in a] == [c.key for c in b]
    assert len({(c.units, c.look_back) for c in a}) == 200
    for c in a:
        assert len(c.units) == 3 and all(7 <= u <= 31 for u in c.units) and c.look_back in (1, 10, 20, 30)
    assert len(C.three_layer_slice(2000)) == 2000


@pytest.mark.skipif(not (ROOT / ".venv" / "bin" / "python").exists(), reason="gpu.sh runs the repository's .venv")
def test_gpu_script_dry_run_on_the_cpu(tmp_path):
    """The GPU script end to end on this machine: tiny cases, a 4-row three-layer slice, nothing installed,
    results in the dry-run folder, bench/gpu_results.json and RESULTS.md untouched."""
    import json

    gpu_json = ROOT / "bench" / "gpu_results.json"
    before = gpu_json.read_bytes() if gpu_json.exists() else None
    md_before = (ROOT / "bench" / "RESULTS.md").read_bytes()
    env = dict(os.environ, GPU_DRY_OUT=str(tmp_path), GPU_BENCH_BUDGET_S="500")
    p = subprocess.run(["bash", "bench/gpu.sh", "--dry-run"], cwd=str(ROOT), env=env, capture_output=True,
                       text=True, timeout=600)
    assert p.returncode == 0, p.stderr[-3000:]
    res = json.loads((tmp_path / "gpu_results.json").read_text())
    assert res["config"]["mode"] == "gpu" and not res.get("partial")
    assert [c["case"]["key"] for c in res["cases"]] == [c.key for c in C.micro_cases(5)]
    for cr in res["cases"]:
        for k in ("maeort_ort", "maeort_auto"):
            assert cr["contenders"][k]["check"]["ok"], (k, cr["contenders"][k])
    import onnxruntime as ort

    for k in ("maeort_cuda", "torch_batched_cuda", "torch_compile_cuda", "jax_vmap_gpu"):
        seen = k in res["unavailable"] or k in res["cases"][0]["contenders"]
        assert seen, k
    if "CUDAExecutionProvider" not in ort.get_available_providers():
        assert "CUDAExecutionProvider" in res["unavailable"]["maeort_cuda"]
    tp = res["throughput"]
    assert len(tp["architectures"]) == 4 and all(len(a["units"]) == 3 for a in tp["architectures"])
    assert tp["contenders"]["maeort_ort"]["first_pass_s"] > 0
    assert (gpu_json.read_bytes() if gpu_json.exists() else None) == before
    assert (ROOT / "bench" / "RESULTS.md").read_bytes() == md_before
