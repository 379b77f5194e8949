"""The sampler: reproducibility, chunking, agreement with the reference, errors."""

from __future__ import annotations

import math
import pickle

import numpy as np
import pytest

import mae_ort
from mae_ort.data import prepare, sine, windows
from mae_ort.errors import DataError, FallbackWarning, InvalidParameterError, MaeOrtError, NonFiniteWarning
from mae_ort.model import reference
from mae_ort.model.architecture import Architecture
from mae_ort.sampling.sampler import Init, Sampler
from mae_ort.sampling.stats import fit_truncnorm

SINE = sine()


def test_sample_api_and_result_fields():
    r = mae_ort.sample(SINE, arch=[7, 5], look_back=4, samples=20, threshold=0.01, seed=0)
    assert r.maes.shape == (20,) and r.maes.dtype == np.float64
    assert r.mean == pytest.approx(r.maes.mean()) and r.sd == pytest.approx(r.maes.std())
    f = fit_truncnorm(r.maes, threshold=0.01, lower=0.0, upper=2.0, fit="moments")
    assert (r.p, r.log_p) == (f.p, f.log_p)
    assert r.seconds > 0 and r.windows == 996 and r.arch == Architecture((7, 5))
    d = r.to_dict()
    for k in ("mean", "sd", "p", "log_p", "maes", "seconds", "look_back", "arch"):
        assert k in d


def test_maes_equal_the_float64_reference_for_the_drawn_weights():
    a = Architecture((6, 4), cell="gru")
    s = Sampler(runtime="onnxruntime")
    w = windows(prepare(SINE), 5)
    maes = s.maes(a, w, samples=7, seed=3)
    W = s.weights(a, n_in=1, n_out=1, samples=7, seed=3)
    np.testing.assert_allclose(maes, reference.maes(a, w.X, w.y, W), atol=1e-5)


def test_weights_are_normal_0_1_by_default():
    W = Sampler().weights(Architecture((31, 31)), n_in=1, n_out=1, samples=50, seed=1)
    flat = np.concatenate([w.ravel() for w in W]).astype(np.float64)
    assert abs(flat.mean()) < 0.01 and abs(flat.std() - 1) < 0.01


def test_same_seed_same_maes_and_different_seed_different():
    kw = dict(arch=[5], look_back=3, samples=10)
    a = mae_ort.sample(SINE, seed=1, **kw).maes
    np.testing.assert_array_equal(a, mae_ort.sample(SINE, seed=1, **kw).maes)
    assert not np.array_equal(a, mae_ort.sample(SINE, seed=2, **kw).maes)


@pytest.mark.parametrize("chunk", [1, 3, 7, 64])
def test_chunking_does_not_change_results(chunk):
    a = Architecture((8, 4))
    w = windows(prepare(SINE), 6)
    whole = Sampler(runtime="onnxruntime", chunk_size=64).maes(a, w, samples=23, seed=5)
    parts = Sampler(runtime="onnxruntime", chunk_size=chunk).maes(a, w, samples=23, seed=5)
    np.testing.assert_allclose(parts, whole, rtol=0, atol=1e-6)


def test_memory_budget_caps_the_chunk_and_keeps_results():
    a = Architecture((8, 4))
    w = windows(prepare(SINE), 6)
    s = Sampler(runtime="onnxruntime", memory_budget=1)
    with pytest.raises(InvalidParameterError, match="memory_budget=1 bytes is below"):
        s.maes(a, w, samples=4, seed=0)
    per = Sampler().bytes_per_sample(a, w)
    tight = Sampler(runtime="onnxruntime", memory_budget=2 * per)
    assert tight.chunk_for(a, w, 100, tight.runtime_for(a, 6)) == 2
    np.testing.assert_allclose(tight.maes(a, w, samples=9, seed=0),
                               Sampler(runtime="onnxruntime").maes(a, w, samples=9, seed=0), atol=1e-6)


def test_threads_do_not_change_results():
    a = Architecture((16, 8))
    w = windows(prepare(SINE), 8)
    one = Sampler(runtime="onnxruntime", threads=1).maes(a, w, samples=6, seed=0)
    two = Sampler(runtime="onnxruntime", threads=2).maes(a, w, samples=6, seed=0)
    np.testing.assert_allclose(one, two, atol=1e-6)


def test_sampler_reuses_its_session_across_calls_and_widths():
    s = Sampler(runtime="onnxruntime")
    for units in [(3, 4), (5, 6), (7, 2)]:
        s.sample(SINE, units, look_back=3, samples=4)
    rt = s.runtime_for(Architecture((1, 1)), 3)
    assert rt.sessions_created == 1
    s.sample(SINE, (3, 4), look_back=4, samples=4)
    assert rt.sessions_created == 2


def test_sampler_pickles_without_its_sessions():
    s = Sampler(runtime="onnxruntime")
    r1 = s.sample(SINE, [4], look_back=2, samples=5, seed=9)
    s2 = pickle.loads(pickle.dumps(s))
    np.testing.assert_array_equal(s2.sample(SINE, [4], look_back=2, samples=5, seed=9).maes, r1.maes)


def test_multivariate_csv(eunite_csv):
    r = mae_ort.sample(str(eunite_csv), arch=[6], look_back=7, samples=5, input=["MaxLoads", "Temperature"],
                       target="MaxLoads", scale="minmax")
    assert r.windows == 723 and np.isfinite(r.maes).all()


def test_preset_and_overrides():
    r = mae_ort.sample(SINE, arch=[4], look_back=2, samples=4, preset="paper", cell="gru")
    assert r.arch.recurrent_activation == "hard_sigmoid_keras2" and r.arch.cell == "gru"


def test_uniform_and_glorot_inits():
    W = Sampler().weights(Architecture((10,)), n_in=1, n_out=1, samples=20, seed=0, init="uniform:-0.5,0.5")
    assert all(w.min() >= -0.5 and w.max() <= 0.5 for w in W)
    G = Sampler().weights(Architecture((10,)), n_in=1, n_out=1, samples=20, seed=0, init="glorot")
    lim = np.sqrt(6 / (10 + 40))
    assert np.abs(G[1]).max() <= lim and np.abs(G[1]).max() > 0.9 * lim
    assert not G[2].any() and not G[4].any()  # zero biases
    assert str(Init.parse("normal:0,1")) == "normal:0,1"


def test_non_finite_predictions_are_counted_not_fitted():
    # huge weights, relu cells and a linear head overflow float32 for most samples
    from mae_ort.sampling.sampler import OutsideBoundsWarning

    # (the finite MAEs are huge too: they also warn that they lie beyond upper=2)
    wider = r"larger upper \(upper=[0-9.e+]+, --upper [0-9.e+]+\)"
    with pytest.warns(NonFiniteWarning), pytest.warns(OutsideBoundsWarning, match=wider):
        r = mae_ort.sample(SINE, arch=[4, 4], look_back=6, samples=30, seed=0, init="normal:0,1e30",
                           activation="relu", head_activation="linear")
    assert r.n_nonfinite > 0 and r.n_nonfinite == int((~np.isfinite(r.maes)).sum())
    assert np.isfinite(r.log_p) or r.p == 0


def test_cuda_without_a_gpu_falls_back_with_a_warning():
    import onnxruntime as ort

    if "CUDAExecutionProvider" in ort.get_available_providers():
        pytest.skip("this machine has onnxruntime's CUDA provider; the fallback cannot be shown")
    with pytest.warns(FallbackWarning, match="running on the CPU"):
        r = mae_ort.sample(SINE, arch=[3], look_back=2, samples=4, device="cuda")
    again = mae_ort.sample(SINE, arch=[3], look_back=2, samples=4, runtime="onnxruntime")
    np.testing.assert_array_equal(r.maes, again.maes)
    assert r.device == "cpu"


@pytest.mark.parametrize(
    "kwargs,error,match",
    [
        (dict(series=np.array([]), look_back=1), DataError, "empty"),
        (dict(series=np.ones(5), look_back=5), DataError, "needs at least 6"),
        (dict(series=np.array([0.0, np.nan, 1.0, 2.0]), look_back=1), DataError, "NaN"),
        (dict(arch=[0]), InvalidParameterError, "'units'"),
        (dict(samples=1), InvalidParameterError,
         r"'samples' parameter of sample must be an int in the range \[2, inf\)"),
        (dict(memory_budget=0), InvalidParameterError, "'memory_budget'"),
        (dict(memory_budget=-5), InvalidParameterError, "'memory_budget'"),
        (dict(device="tpu"), InvalidParameterError, "'device'"),
        (dict(cell="lstmm"), InvalidParameterError, "'cell'"),
        (dict(activation="swish"), InvalidParameterError, "'activation'"),
        (dict(runtime="torch"), InvalidParameterError, "'runtime'"),
        (dict(fit="bayes"), InvalidParameterError, "'fit'"),
        (dict(lower=1.0, upper=0.5), InvalidParameterError, "lower=1.0 must be below upper=0.5"),
        (dict(threshold=float("nan")), InvalidParameterError, "'threshold'"),
        (dict(look_back=0), InvalidParameterError, "'look_back'"),
        (dict(seed=-1), InvalidParameterError, "'seed'"),
        (dict(init="cauchy"), InvalidParameterError, "'init'"),
    ],
)
def test_bad_input_raises_one_clear_value_error(kwargs, error, match):
    args = dict(series=SINE, arch=[3], look_back=2, samples=4)
    args.update(kwargs)
    series = args.pop("series")
    with pytest.raises(error, match=match) as info:
        mae_ort.sample(series, **args)
    assert isinstance(info.value, (ValueError, MaeOrtError))
    assert "\n" not in str(info.value)


# -- issue 10: seeds, the result's forms, warnings, memory ---------------------------------------
def test_seed_none_draws_a_recorded_63_bit_seed():
    kw = dict(arch=[4], look_back=2, samples=6)
    a, b = mae_ort.sample(SINE, seed=None, **kw), mae_ort.sample(SINE, seed=None, **kw)
    assert isinstance(a.seed, int) and 0 <= a.seed < 2**63 and a.seed != b.seed
    np.testing.assert_array_equal(mae_ort.sample(SINE, seed=a.seed, **kw).maes, a.maes)
    assert a.settings.seed == a.seed


def test_seed_from_a_generator_is_one_draw_from_it():
    kw = dict(arch=[4], look_back=2, samples=6)
    r = Sampler().sample(SINE, [4], look_back=2, samples=6, seed=np.random.default_rng(7))
    assert r.seed == int(np.random.default_rng(7).integers(0, 2**63 - 1, dtype=np.int64, endpoint=True))
    np.testing.assert_array_equal(mae_ort.sample(SINE, seed=r.seed, **kw).maes, r.maes)
    with pytest.raises(InvalidParameterError, match=r"'seed' parameter of sample must be an int in the range "
                                                    r"\[0, 9223372036854775807\], None or a numpy.random.Generator"):
        mae_ort.sample(SINE, seed="0", **kw)


def test_repr_is_compact_and_frames_have_one_row_per_result():
    from mae_ort.sampling.sampler import results_frame

    s = Sampler()
    r1 = s.sample(SINE, [5], look_back=3, samples=8, seed=1)
    r2 = s.sample(SINE, [3, 2], look_back=2, samples=8, seed=2, cell="gru")
    text = repr(r1)
    assert text == (f"SamplingResult(arch=lstm[5], look_back=3, samples=8, mean={r1.mean:.6g}, sd={r1.sd:.6g}, "
                    f"log_p={r1.log_p:.6g})")
    one = r1.to_frame()
    assert one.shape[0] == 1 and "maes" not in one.columns
    assert one.loc[0, "units"] == "5" and one.loc[0, "log_p"] == r1.log_p and one.loc[0, "seed"] == 1
    df = results_frame([r1, r2], maes=True)
    assert list(df["units"]) == ["5", "3,2"] and list(df["cell"]) == ["lstm", "gru"]
    assert list(df["look_back"]) == [3, 2] and list(df["mean"]) == [r1.mean, r2.mean]
    np.testing.assert_array_equal(df.loc[1, "maes"], r2.maes)
    assert Architecture.from_row(df.iloc[1]) == r2.arch
    empty = results_frame([])
    assert empty.shape[0] == 0 and list(empty.columns) == list(one.columns)
    with pytest.raises(InvalidParameterError, match="SamplingResult objects"):
        results_frame([r1, "x"])


def test_to_dict_writes_every_non_finite_number_as_null():
    import json

    r = mae_ort.sample(SINE, arch=[3], look_back=2, samples=6, seed=0, threshold=0.0, fit="mle")
    assert r.log_p == -np.inf and r.log_p_exact == -np.inf
    d = r.to_dict()
    assert d["log_p"] is None and d["log_p_exact"] is None and d["p"] == 0.0
    text = json.dumps(d, allow_nan=False)
    assert "inf" not in text.lower() and "nan" not in text.lower()


def test_maes_outside_the_bounds_warn_once_with_the_remedy():
    from mae_ort.sampling.sampler import OutsideBoundsWarning

    with pytest.warns(OutsideBoundsWarning) as record:
        r = mae_ort.sample(SINE, arch=[3], look_back=2, samples=10, seed=0, upper=0.3)
    wider = math.ceil(r.maes.max())  # the smallest whole number above every MAE
    assert len(record) == 1 and r.n_outside == 10 and r.maes.min() > 0.3
    assert str(record[0].message) == (
        "10 of 10 MAEs of lstm[3] fall outside the truncation bounds [0, 0.3] (kept in the moments fit, which the "
        f"truncated normal does not describe); widen the bounds with a larger upper (upper={wider}, --upper {wider})")
    assert issubclass(OutsideBoundsWarning, mae_ort.MaeOrtWarning)
    import warnings

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        quiet = Sampler().sample(SINE, [3], look_back=2, samples=10, seed=0, upper=0.3, warn=False)
        from mae_ort.sampling.settings import SamplingSettings

        ran = Sampler().run(prepare(SINE), Architecture((3,)), 2, SamplingSettings(samples=10, upper=0.3), warn=False)
    assert quiet.n_outside == ran.n_outside == 10
    np.testing.assert_array_equal(quiet.maes, r.maes)


def test_too_many_samples_for_the_memory_are_refused_before_allocating(monkeypatch):
    from mae_ort.sampling import sampler as mod

    # The process's one-time kernel warm-up allocates a few tiny arrays: do it first, so that only the refused
    # samples' buffers are counted (run alone, this test otherwise saw the warm-up's (2, 3) array).
    mae_ort.sample(SINE, arch=[3], look_back=2, samples=2)
    monkeypatch.setattr(mod, "_available_memory", lambda: 10**6)
    allocated = []
    monkeypatch.setattr(mod.np, "empty", lambda *a, **k: allocated.append(a) or np.zeros(*a, **k))
    with pytest.raises(InvalidParameterError, match=r"^samples=100000 needs about 3.2 MB of memory for the MAEs and "
                                                    r"their fit \(800 kB for the MAEs alone\), more than the 1 MB "
                                                    r"available; use fewer samples$"):
        mae_ort.sample(SINE, arch=[3], look_back=2, samples=100_000)
    monkeypatch.setattr(mod, "_available_memory", lambda: 4 * 8 * 1000 + 10**5)
    with pytest.raises(InvalidParameterError, match=r"^chunks of .* need about .*; lower memory_budget"):
        mae_ort.sample(SINE, arch=[30, 30], look_back=20, samples=1000, runtime="onnxruntime")
    assert not allocated
    monkeypatch.setattr(mod, "_available_memory", lambda: None)  # unknown: not checked
    assert mae_ort.sample(SINE, arch=[3], look_back=2, samples=4).maes.shape == (4,)


def test_seeding_2_shares_the_weights_of_common_first_layers():
    s = Sampler()
    a, b = Architecture((5, 3, 4)), Architecture((5, 3, 9))
    wa = s.weights(a, n_in=1, n_out=1, samples=4, seed=11)
    wb = s.weights(b, n_in=1, n_out=1, samples=4, seed=11)
    for x, y in zip(wa[:6], wb[:6]):  # layers 1 and 2: the same weights
        np.testing.assert_array_equal(x, y)
    assert not np.array_equal(wa[6], wb[6][:, :, :16])  # layer 3 and the head: their own
    c = Architecture((6, 3, 4))  # another first width: nothing shared
    wc = s.weights(c, n_in=1, n_out=1, samples=4, seed=11)
    assert not np.array_equal(wa[0], wc[0][:, :, :20])
    # seeding 1 is mae-ort 0.1's: array j of every architecture from stream j
    old = s.weights(a, n_in=1, n_out=1, samples=4, seed=11, seeding=1)
    from mae_ort.kernels.random import fill

    ref = np.empty_like(old[4])
    fill(ref, seed=11, first_sample=0, stream=4)
    np.testing.assert_array_equal(old[4], ref)


@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_run_group_equals_each_architecture_alone(cell):
    from mae_ort.sampling.settings import SamplingSettings

    series = prepare(sine(200))
    archs = [Architecture((6, c), cell=cell) for c in (2, 5, 7)]
    settings = SamplingSettings(samples=9, seed=5)
    s = Sampler(runtime="numba")
    group = s.run_group(series, archs, 4, settings)
    for a, g in zip(archs, group):
        alone = Sampler(runtime="numba", chunk_size=4).run(series, a, 4, settings)
        np.testing.assert_array_equal(g.maes, alone.maes)
        assert g.arch == a and g.log_p == alone.log_p
    # and equal to the public one-call sample with the same seed
    np.testing.assert_array_equal(group[1].maes, mae_ort.sample(series, arch=archs[1], look_back=4, samples=9,
                                                                seed=5, runtime="numba").maes)


@pytest.mark.parametrize("runtime", ["numba", "onnxruntime"])
def test_one_time_costs_are_reported_apart_and_paid_once(runtime):
    s = Sampler(runtime=runtime)
    first = s.sample(SINE, [4, 3], look_back=3, samples=4, seed=0)
    again = s.sample(SINE, [4, 3], look_back=3, samples=4, seed=0)
    assert 0.0 <= first.setup_seconds <= first.seconds
    assert again.setup_seconds == 0.0  # kernels loaded, graph exported and session open: nothing paid again
    assert again.to_dict()["setup_seconds"] == 0.0
    np.testing.assert_array_equal(first.maes, again.maes)


def test_a_runtime_object_passed_in_counts_its_one_time_costs_from_then_on():
    from mae_ort.runtimes import make_runtime

    rt = make_runtime("onnxruntime")
    first = Sampler(runtime=rt).sample(SINE, [3, 7, 2], look_back=5, samples=4, seed=0)
    assert 0.0 < first.setup_seconds <= first.seconds  # this shape's graph and session were new
    assert first.setup_seconds <= rt.setup_seconds
    later = Sampler(runtime=rt)  # the object has paid already: a new sampler starts from zero
    again = later.sample(SINE, [3, 7, 2], look_back=5, samples=4, seed=0)
    assert later.setup_seconds == 0.0 and again.setup_seconds == 0.0
    np.testing.assert_array_equal(first.maes, again.maes)


# -- the change target (target_form="delta") ------------------------------------------------------
def _delta_series(kind: str):
    """A small series: univariate, three inputs with the target among them, or two inputs without it."""
    rng = np.random.default_rng(5)
    t = np.arange(70)
    data = np.column_stack([np.sin(0.3 * t), 0.5 * np.cos(0.2 * t) + 0.1 * rng.standard_normal(70),
                            0.3 * rng.standard_normal(70)])
    if kind == "uni":
        return prepare(data[:, 0]), data[:, [0]], data[:, [0]]
    if kind == "multi":
        return prepare(data, input=[0, 1, 2], target=[1]), data, data[:, [1]]
    return prepare(data, input=[0, 2], target=[1]), data[:, [0, 2]], data[:, [1]]  # the target is no input


@pytest.mark.parametrize("kind", ["uni", "multi", "not_an_input"])
@pytest.mark.parametrize("units", [(5,), (4, 3, 2)])
@pytest.mark.parametrize("cell", ["lstm", "gru", "simple_rnn"])
def test_delta_maes_equal_last_value_plus_the_level_networks_output(cell, units, kind):
    """For the same weights: the delta MAE is mean |last + out - y|, ``out`` the level network's float64 output and
    ``last`` the target's previous value (also when the target is not an input), to float32 round-off."""
    series, inputs, targets = _delta_series(kind)
    lb = 4
    a = Architecture(units, cell=cell, head_activation="linear")
    s = Sampler(runtime="onnxruntime")
    W = s.weights(a, n_in=inputs.shape[1], n_out=1, samples=6, seed=11)
    # an independent float64 reference: windows and targets cut from the raw data here
    X = np.stack([inputs[i:i + lb] for i in range(len(inputs) - lb)])
    out = reference.predict(a, X, W)  # (S, N, 1)
    last, y = targets[lb - 1:-1], targets[lb:]
    want = np.abs(last[None] + out - y[None]).mean(axis=(1, 2))
    r = mae_ort.sample(series, arch=a, look_back=lb, samples=6, seed=11, target_form="delta", runtime="onnxruntime")
    np.testing.assert_allclose(r.maes, want, rtol=1e-5, atol=1e-6)
    assert r.target_form == "delta" and r.settings.target_form == "delta"
    level = mae_ort.sample(series, arch=a, look_back=lb, samples=6, seed=11, runtime="onnxruntime")
    np.testing.assert_allclose(level.maes, np.abs(out - y[None]).mean(axis=(1, 2)), rtol=1e-5, atol=1e-6)


def test_delta_maes_agree_across_runtimes_and_with_a_shared_prefix():
    series, *_ = _delta_series("not_an_input")
    a = Architecture((4, 3), head_activation="linear")
    ort_maes = mae_ort.sample(series, arch=a, look_back=3, samples=5, target_form="delta", runtime="onnxruntime").maes
    nb = Sampler(runtime="numba")
    from mae_ort.sampling.settings import SamplingSettings

    settings = SamplingSettings(samples=5, target_form="delta")
    np.testing.assert_allclose(nb.run(series, a, 3, settings, warn=False).maes, ort_maes, rtol=1e-5, atol=1e-6)
    group = nb.run_group(series, [a, a.replace(units=(4, 2))], 3, settings, warn=False)  # the shared-layers kernel
    np.testing.assert_allclose(group[0].maes, ort_maes, rtol=1e-5, atol=1e-6)


def test_delta_readout_fits_the_change():
    """The readout of a delta sampling is the readout of the same hidden states fitted to y - last."""
    from mae_ort.sampling.readout import readout_maes

    series, *_ = _delta_series("uni")
    a = Architecture((6,), head_activation="linear")
    s = Sampler(runtime="onnxruntime", readout=True)
    r = mae_ort.sample(series, arch=a, look_back=5, samples=4, seed=2, target_form="delta", runtime="onnxruntime")
    w = windows(series, 5)
    W = s.weights(a, n_in=1, n_out=1, samples=4, seed=2)
    hidden = reference.hidden_states(a, w.X.astype(np.float64), W)[-1][:, :, -1, :]
    change = w.y.astype(np.float64) - w.last.astype(np.float64)
    from mae_ort.sampling.settings import SamplingSettings

    got = s.run(series, a, 5, SamplingSettings(samples=4, seed=2, target_form="delta"))
    np.testing.assert_allclose(got.maes, r.maes, rtol=1e-6)
    want = np.median(readout_maes(hidden, change))
    assert got.scores["readout"] == pytest.approx(want, rel=1e-4)
    level = s.run(series, a, 5, SamplingSettings(samples=4, seed=2))
    assert level.scores["readout"] != pytest.approx(got.scores["readout"], rel=1e-3)


@pytest.mark.parametrize("head", ["sigmoid", "relu", "hard_sigmoid", "hard_sigmoid_keras2"])
def test_delta_refuses_a_head_that_cannot_go_below_zero(head):
    with pytest.raises(InvalidParameterError, match=f"cannot be '{head}' with target_form='delta'"):
        mae_ort.sample(SINE[:60], arch=[3], look_back=2, samples=3, target_form="delta", head_activation=head)
    with pytest.raises(InvalidParameterError, match="cannot be"):
        Sampler().run(prepare(SINE[:60]), Architecture((3,), head_activation=head), 2,
                      mae_ort.sampling.SamplingSettings(samples=3, target_form="delta"))


def test_delta_head_defaults_to_linear_and_a_given_head_is_kept():
    r = mae_ort.sample(SINE[:60], arch=[3], look_back=2, samples=3, target_form="delta")
    assert r.arch.head_activation == "linear"
    assert mae_ort.sample(SINE[:60], arch=[3], look_back=2, samples=3).arch.head_activation == "tanh"
    kept = mae_ort.sample(SINE[:60], arch=Architecture((3,)), look_back=2, samples=3, target_form="delta")
    assert kept.arch.head_activation == "tanh"  # an Architecture keeps its own (tanh goes both ways)
    with pytest.raises(InvalidParameterError, match="'target_form' parameter of sample"):
        mae_ort.sample(SINE[:60], arch=[3], look_back=2, samples=3, target_form="change")
