"""Correctness of the benchmark suite's contenders (no timing assertions).

Every contender must give mae-ort's MAEs for the same weights on tiny cases, and a
micro-sized run of the suite must produce a results dict with the expected keys.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from bench import cases as C  # noqa: E402
from bench import contenders as K  # noqa: E402

TOL = 1e-5  # tiny cases: float32 implementations agree to ~1e-6


@pytest.fixture(scope="module", params=[((3,), 2), ((4, 3), 3)], ids=["lstm3_lb2", "lstm4x3_lb3"])
def tiny(request):
    units, lb = request.param
    case = C.Case(f"t_{'x'.join(map(str, units))}_lb{lb}", units, lb, samples=5, small=True)
    anchor = K.make("maeort_ort")
    anchor.setup(case)
    return case, anchor.run(case, case.samples)


def _maes(key, case, samples=None):
    con = K.make(key)
    ok, why = con.available()
    if not ok:
        pytest.skip(why)
    con.setup(case)
    return con.run(case, case.samples if samples is None else samples)


def test_anchor_matches_float64_reference(tiny):
    from mae_ort.model.reference import maes

    case, anchor = tiny
    win = C.windows(case.series, case.look_back)
    f64 = maes(case.arch(), win.X, win.y, C.weights(case), dtype=np.float64)
    assert K.compare(anchor, f64) <= TOL


@pytest.mark.parametrize("key", ["maeort_auto", "maeort_numba", "ort_native", "numpy_batched"])
def test_contender_matches_mae_ort(tiny, key):
    case, anchor = tiny
    got = _maes(key, case)
    assert got.shape == anchor.shape
    assert K.compare(got, anchor) <= TOL


def test_cuda_contender_reports_absence_plainly():
    import onnxruntime as ort

    con = K.make("maeort_cuda")
    ok, why = con.available()
    if "CUDAExecutionProvider" in ort.get_available_providers():
        assert ok
    else:
        assert not ok and "CUDAExecutionProvider" in why


@pytest.mark.keras
def test_keras_loop_matches_mae_ort(tiny):
    pytest.importorskip("keras")
    case, anchor = tiny
    assert K.compare(_maes("keras_loop", case), anchor) <= TOL


@pytest.mark.keras
def test_keras_evaluate_matches_mae_ort(tiny):
    pytest.importorskip("keras")
    case, anchor = tiny
    got = _maes("keras_evaluate", case, samples=2)
    assert K.compare(got, anchor[:2]) <= TOL


def test_native_lstm_layout_against_reference():
    """The Keras -> ONNX LSTM reorder (i,f,c,o -> i,o,f,c, transposed, bias in Wb) on random weights."""
    from mae_ort.model.reference import predict

    case = C.Case("t_layout", (5, 4), 3, samples=3)
    arch = case.arch()
    win = C.windows(case.series, case.look_back)
    rng = np.random.default_rng(7)
    W = [rng.standard_normal((3,) + shape).astype(np.float32) for _, shape in arch.weight_shapes(1, 1)]
    import onnxruntime as ort

    sess = ort.InferenceSession(
        K.native_lstm_model(arch, look_back=3, n_in=1, n_out=1).SerializeToString(), providers=["CPUExecutionProvider"])
    want = predict(arch, win.X, W)
    for s in range(3):
        feed = K.native_feed(arch, W, s)
        feed["X"] = win.X
        got = sess.run(["pred"], feed)[0]
        np.testing.assert_allclose(got, want[s], atol=1e-5)


def test_throughput_slice_is_seeded_and_in_space():
    a, b = C.throughput_slice(50), C.throughput_slice(50)
    assert [c.key for c in a] == [c.key for c in b]
    assert len({(c.units, c.look_back) for c in a}) == 50
    for c in a:
        assert len(c.units) == 2 and all(7 <= u <= 31 for u in c.units) and c.look_back in (1, 10, 20, 30)


def test_main_cases_flops_match_cost_model():
    deep = {c.key: c for c in C.main_cases(100)}["lstm31x3_lb30"]
    assert abs(C.gflop(deep) - 112.6) < 0.5  # the cost model: about 113 GFLOP


def test_micro_suite_results_shape(tmp_path):
    from bench import report, suite

    cfg = suite.micro_config(keras=False)
    cfg.cases = cfg.cases[:1]
    cfg.contenders = ["maeort_auto", "maeort_ort", "ort_native", "numpy_batched"]
    cfg.throughput_contenders = ["maeort_ort"]
    cfg.repeats = 1
    cfg.log_dir = str(tmp_path / "logs")
    res = suite.run_suite(cfg)
    for key in ("config", "machine", "versions", "gemm", "one_time", "cases", "throughput", "targets",
                "unavailable", "wall_s"):
        assert key in res, key
    (cr,) = res["cases"]
    assert cr["anchor"] == "maeort_ort"
    assert set(cr["contenders"]) == set(cfg.contenders)
    for k, e in cr["contenders"].items():
        assert e["check"]["ok"], (k, e.get("check"), e.get("error"))
        assert e["times"] and e["stats"]["median"] > 0
        for f in ("speedup_vs_baseline", "gflops", "gemm_fraction"):
            assert f in e
    mem = cr["contenders"]["maeort_ort"]["memory"]
    assert mem.get("peak_rss", 0) > 0, mem
    tp = res["throughput"]["contenders"]["maeort_ort"]
    assert tp["check"]["ok"] and tp["arch_per_s"] > 0
    assert isinstance(res["one_time"]["export"], list) and res["one_time"]["export"][0]["session_s"] > 0
    md = report.render(res, None)
    assert "# mae-ort benchmark results" in md and "[3] LB 2" in md


def test_profile_splits_the_numba_run():
    """bench.profile: times every part and counts the products the kernel executes."""
    from bench import profile, report
    from mae_ort.kernels.forward import choose_block

    case = C.Case("t_profile_4x3_lb3", (4, 3), 3, samples=3, small=True)
    res = profile.profile_case(case, repeats=1)
    for part in ("sample", "draw", "kernel", "products"):
        assert res[part]["median"] > 0, part
    win = C.windows(case.series, case.look_back)
    R = choose_block("lstm", 1, (4, 3), win.n)
    # full blocks of R windows, then the windows left rounded up to 8
    full, left = divmod(win.n, R)
    cols = full * R + -(-left // 8) * 8
    # per window and sample: layer 0 [x;1] (t=0) then [x;1;h0]; layer 1 [h0;1] then [h0;1;h1]; 4 gates
    per_window = 2 * 4 * 4 * (2 + 2 * 6) + 2 * 4 * 3 * (5 + 2 * 8)
    assert res["products_gflop_executed"] == pytest.approx(per_window * cols * 3 / 1e9)
    md = "\n".join(report._profile_section(res, {"one_thread": {"gflops": 100.0}}))
    assert "products alone" in md and "element-wise" in md
