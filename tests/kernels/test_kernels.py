"""Tests of the Numba kernels: seeded weight filling and the fused forward pass."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numba
import numpy as np
import pytest
from scipy import stats

from mae_ort.kernels import forward as kf
from mae_ort.kernels.forward import forward_maes
from mae_ort.kernels.random import fill, glorot_limit
from mae_ort.model import reference
from mae_ort.model.architecture import ACTIVATIONS, CELLS, Architecture


def _threads_available() -> int:
    return numba.config.NUMBA_NUM_THREADS


class _Threads:
    """Context manager setting Numba's thread count and restoring it."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        self.old = numba.get_num_threads()
        numba.set_num_threads(self.n)

    def __exit__(self, *exc):
        numba.set_num_threads(self.old)


def _filled(shape, **kw) -> np.ndarray:
    out = np.empty(shape, dtype=np.float32)
    fill(out, **kw)
    return out


# ---------------------------------------------------------------------------------
# random
# ---------------------------------------------------------------------------------
def test_normal_moments_and_ks():
    x = _filled((4, 250_000), seed=123, first_sample=0, stream=0).astype(np.float64).ravel()
    n = x.size
    assert abs(x.mean()) < 5 / np.sqrt(n)
    assert abs(x.std() - 1.0) < 5 / np.sqrt(2 * n)
    assert abs(stats.skew(x)) < 0.02
    assert abs(stats.kurtosis(x)) < 0.04
    assert stats.kstest(x, "norm").pvalue > 1e-4
    # loc / scale
    y = _filled((2, 100_000), seed=5, first_sample=3, stream=1, dist="normal", a=3.0, b=2.0).astype(np.float64)
    assert abs(y.mean() - 3.0) < 5 * 2 / np.sqrt(y.size)
    assert abs(y.std() - 2.0) < 5 * 2 / np.sqrt(2 * y.size)


def test_uniform_bounds_and_ks():
    x = _filled((10, 100_000), seed=9, first_sample=0, stream=2, dist="uniform", a=-2.0, b=5.0)
    assert x.min() >= -2.0 and x.max() <= 5.0
    x = x.astype(np.float64).ravel()
    assert abs(x.mean() - 1.5) < 5 * 7 / np.sqrt(12 * x.size)
    assert stats.kstest(x, "uniform", args=(-2.0, 7.0)).pvalue > 1e-4
    # Glorot as used by callers
    lim = glorot_limit(31, 124)
    assert lim == pytest.approx(np.sqrt(6 / 155))
    g = _filled((3, 31, 124), seed=1, first_sample=0, stream=0, dist="uniform", a=-lim, b=lim)
    assert np.abs(g).max() <= np.float32(lim)


def test_reproducible_and_distinct():
    kw = dict(seed=42, first_sample=10, stream=3)
    a = _filled((5, 17, 4), **kw)
    b = _filled((5, 17, 4), **kw)
    np.testing.assert_array_equal(a, b)
    for change in (dict(seed=43), dict(stream=4), dict(first_sample=11)):
        c = _filled((5, 17, 4), **{**kw, **change})
        assert np.mean(a == c) < 0.01, change
    # different samples within one call differ
    assert np.mean(a[0] == a[1]) < 0.01
    # huge seeds / streams are accepted
    _filled((1, 3), seed=2**64 - 1, first_sample=0, stream=2**64 - 1)


def test_chunking_and_shape_invariance():
    for dist in ("normal", "uniform"):
        kw = dict(seed=7, stream=1, dist=dist)
        whole = _filled((100, 7, 13), first_sample=0, **kw)
        part = np.empty_like(whole)
        fill(part[:37], first_sample=0, **kw)
        fill(part[37:], first_sample=37, **kw)
        np.testing.assert_array_equal(whole, part)
        # a value depends on the flat element index only, not on the per-sample shape
        flat = _filled((100, 91), first_sample=0, **kw)
        np.testing.assert_array_equal(whole.reshape(100, 91), flat)
        # odd sizes: a prefix of a longer row (Box-Muller pairs do not shift)
        longer = _filled((3, 92), first_sample=0, **kw)
        np.testing.assert_array_equal(flat[:3], longer[:, :91])
        # large rows spanning several parallel blocks
        big = _filled((2, 20_001), first_sample=5, **kw)
        big2 = _filled((1, 20_001), first_sample=6, **kw)
        np.testing.assert_array_equal(big[1], big2[0])


@pytest.mark.skipif(_threads_available() < 2, reason="needs 2 Numba threads")
def test_thread_count_invariance_random():
    with _Threads(1):
        a = _filled((9, 3001), seed=11, first_sample=2, stream=5)
        u = _filled((1, 50_000), seed=11, first_sample=2, stream=5, dist="uniform")
    with _Threads(2):
        b = _filled((9, 3001), seed=11, first_sample=2, stream=5)
        v = _filled((1, 50_000), seed=11, first_sample=2, stream=5, dist="uniform")
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(u, v)


def test_fill_errors():
    kw = dict(seed=0, first_sample=0, stream=0)
    with pytest.raises(TypeError):
        fill(np.empty((2, 3), np.float64), **kw)
    with pytest.raises(ValueError):
        fill(np.empty((3, 2), np.float32).T, **kw)
    with pytest.raises(ValueError):
        fill(np.empty((4, 6), np.float32)[:, ::2], **kw)
    with pytest.raises(TypeError):
        fill([1.0, 2.0], **kw)
    out = np.empty((2, 3), np.float32)
    with pytest.raises(ValueError):
        fill(out, seed=-1, first_sample=0, stream=0)
    with pytest.raises(ValueError):
        fill(out, seed=2**64, first_sample=0, stream=0)
    with pytest.raises(TypeError):
        fill(out, seed=1.5, first_sample=0, stream=0)
    with pytest.raises(TypeError):
        fill(out, seed=True, first_sample=0, stream=0)
    with pytest.raises(ValueError):
        fill(out, seed=0, first_sample=-3, stream=0)
    with pytest.raises(ValueError):
        fill(out, dist="cauchy", **kw)
    with pytest.raises(ValueError):
        fill(out, dist="normal", a=0.0, b=-1.0, **kw)
    with pytest.raises(ValueError):
        fill(out, dist="uniform", a=1.0, b=0.0, **kw)
    with pytest.raises(ValueError):
        fill(out, dist="uniform", a=0.0, b=float("inf"), **kw)
    with pytest.raises(ValueError):
        glorot_limit(0, 0)
    # empty arrays are fine
    fill(np.empty((0, 3), np.float32), **kw)
    fill(np.empty((2, 0), np.float32), **kw)


_CACHE_SCRIPT = textwrap.dedent(
    """
    import json, sys
    import numpy as np
    from mae_ort.kernels import {module} as m
    {call}
    stats = m.{kernel}.stats
    print(json.dumps({{"hits": sum(stats.cache_hits.values()), "misses": sum(stats.cache_misses.values())}}))
    """
)


def _run_cache_probe(module, kernel, call, env=None):
    script = _CACHE_SCRIPT.format(module=module, kernel=kernel, call=call)
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, timeout=300)
    assert res.returncode == 0, res.stderr
    return json.loads(res.stdout.strip().splitlines()[-1])


def test_disk_cache_random(tmp_path):
    env = dict(os.environ, NUMBA_CACHE_DIR=str(tmp_path))
    call = "x = np.empty((3, 5), np.float32); m.fill(x, seed=1, first_sample=0, stream=0)"
    first = _run_cache_probe("random", "_fill_kernel", call, env)
    second = _run_cache_probe("random", "_fill_kernel", call, env)
    assert first["misses"] >= 1
    assert second["hits"] >= 1 and second["misses"] == 0


def test_disk_cache_forward():
    kf.warmup()  # compiled (and written to the cache) in this process at the latest
    second = _run_cache_probe("forward", "_forward_kernel", "m.warmup()")
    assert second["hits"] >= 1 and second["misses"] == 0


# ---------------------------------------------------------------------------------
# forward
# ---------------------------------------------------------------------------------
def _problem(arch, N, LB, n_in, n_out, S, seed):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((N, LB, n_in)).astype(np.float32)
    y = rng.standard_normal((N, n_out)).astype(np.float32)
    W = []
    for i, (_, shape) in enumerate(arch.weight_shapes(n_in, n_out)):
        W.append(_filled((S,) + shape, seed=seed, first_sample=0, stream=i))
    return X, y, W


def _kw(arch):
    return dict(cell=arch.cell, activation=arch.activation, recurrent_activation=arch.recurrent_activation,
                head_activation=arch.head_activation)


def _check_small(arch, N, LB, n_in, n_out, S, seed, tol=1e-5):
    X, y, W = _problem(arch, N, LB, n_in, n_out, S, seed)
    maes, pred = forward_maes(X, y, W, predictions=True, **_kw(arch))
    with np.errstate(all="ignore"):  # diverging samples (relu / linear gates)
        ref_pred = reference.predict(arch, X, W)
        ref_maes = reference.maes(arch, X, y, W)
    assert pred.shape == (S, N, n_out) and pred.dtype == np.float32
    assert maes.shape == (S,) and maes.dtype == np.float64
    # Unbounded activations (relu / linear gates) can make a sample diverge or overflow
    # float32 inside; such a sample is only compared where float32 numpy follows it.
    with np.errstate(all="ignore"):
        ref32 = reference.predict(arch, X, W, dtype=np.float32).astype(np.float64)
        tame = np.all(np.abs(ref_pred) < 1e3, axis=(1, 2)) & np.all(np.abs(ref32 - ref_pred) < 1e-2, axis=(1, 2))
    # Bounded activations: tight tolerance.  With relu / linear somewhere the states
    # grow and float32 round-off is amplified (a 1-ulp change of the weights moves some
    # predictions by ~5e-5 here): a looser bound, and the median stays tight.
    bounded = not {"relu", "linear"} & {arch.activation, arch.recurrent_activation, arch.head_activation}
    t = tol if bounded else 1e-3
    # Some samples (SimpleRNN above all) amplify round-off: float32 numpy with exact
    # activations strays from float64 by up to ~7e-6 on them.  Each sample may stray up
    # to 4x as far as float32 numpy does on it, never less than ``t``.
    amp = np.maximum(t, 4 * np.abs(ref32 - ref_pred).max(axis=(1, 2)))
    err = np.abs(pred.astype(np.float64) - ref_pred)
    assert np.all(err[tame] <= (amp[tame, None, None] + t * np.abs(ref_pred[tame]))), err[tame].max()
    np.testing.assert_allclose(maes[tame], ref_maes[tame], rtol=t, atol=t)
    if tame.any():
        assert np.median(np.abs(pred[tame] - ref_pred[tame])) < tol
    # the MAE is the mean |pred - y| of the returned predictions
    with np.errstate(all="ignore"):
        own = np.abs(pred.astype(np.float64) - y[None]).mean(axis=(1, 2))
    np.testing.assert_allclose(maes, own, rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(forward_maes(X, y, W, **_kw(arch)), maes)
    return int(tame.sum())


# Each activation appears in every role, for every cell.
_ACT_TRIPLES = [(ACTIVATIONS[i], ACTIVATIONS[(i + 2) % 6], ACTIVATIONS[(i + 3) % 6]) for i in range(6)]
_SHAPES = [  # units, LB, n_in, n_out, N
    ((5,), 1, 1, 1, 13),
    ((4, 3), 2, 2, 1, 21),
    ((3, 6, 2), 10, 1, 2, 9),
    ((8,), 7, 2, 2, 70),
]


@pytest.mark.parametrize("cell", CELLS)
@pytest.mark.parametrize("acts", _ACT_TRIPLES, ids=lambda t: "-".join(t))
def test_forward_matches_reference_all_activations(cell, acts):
    a, ra, ha = acts
    compared = 0
    for k, (units, LB, n_in, n_out, N) in enumerate(_SHAPES):
        arch = Architecture(units, cell=cell, activation=a, recurrent_activation=ra, head_activation=ha)
        compared += _check_small(arch, N, LB, n_in, n_out, S=3, seed=100 + k)
    assert compared >= 3


@pytest.mark.parametrize("cell", CELLS)
def test_forward_matches_reference_shapes(cell):
    rng = np.random.default_rng(0)
    for k in range(8):
        depth = 1 + k % 3
        units = tuple(int(u) for u in rng.integers(1, 12, size=depth))
        LB = int(rng.integers(1, 11))
        n_in, n_out = 1 + k % 2, 1 + (k // 2) % 2
        N = int(rng.integers(1, 150))
        arch = Architecture(units, cell=cell, activation="tanh", recurrent_activation="sigmoid",
                            head_activation="tanh")
        _check_small(arch, N, LB, n_in, n_out, S=2, seed=k)
    # the paper's preset
    arch = Architecture((7, 9), cell=cell, activation="tanh", recurrent_activation="hard_sigmoid_keras2",
                        head_activation="tanh")
    _check_small(arch, 100, 10, 1, 1, S=4, seed=3)


def test_forward_deep_long_quantiles():
    """[31,31,31], LB 30: float32 round-off is amplified; compare with quantiles."""
    arch = Architecture((31, 31, 31), cell="lstm")
    t = np.arange(260, dtype=np.float64)
    series = np.sin(2 * np.pi * t / 10.0).astype(np.float32)
    LB, S = 30, 4
    N = series.size - LB
    X = np.stack([series[i:i + LB] for i in range(N)])[:, :, None]
    y = series[LB:LB + N][:, None].copy()
    W = [_filled((S,) + shape, seed=2018, first_sample=0, stream=i)
         for i, (_, shape) in enumerate(arch.weight_shapes(1, 1))]
    maes, pred = forward_maes(X, y, W, predictions=True, **_kw(arch))
    ref = reference.predict(arch, X, W)
    err = np.abs(pred.astype(np.float64) - ref)
    assert np.median(err) < 1e-4
    assert np.quantile(err, 0.99) < 2e-3
    assert np.abs(maes - reference.maes(arch, X, y, W)).max() < 5e-4


def test_forward_gru_keras3_preset_deep():
    arch = Architecture((16, 16), cell="gru")
    X, y, W = _problem(arch, N=200, LB=20, n_in=1, n_out=1, S=3, seed=4)
    maes, pred = forward_maes(X, y, W, predictions=True, **_kw(arch))
    err = np.abs(pred.astype(np.float64) - reference.predict(arch, X, W))
    assert np.median(err) < 1e-5 and err.max() < 1e-3


def test_forward_blocks_and_sample_chunks_agree():
    arch = Architecture((6, 5), cell="lstm", recurrent_activation="hard_sigmoid_keras2")
    X, y, W = _problem(arch, N=203, LB=4, n_in=1, n_out=1, S=6, seed=8)
    base = forward_maes(X, y, W, **_kw(arch))
    for block in (1, 8, 16, 200):
        np.testing.assert_allclose(forward_maes(X, y, W, block=block, **_kw(arch)), base, rtol=1e-6, atol=1e-7)
    # samples are independent: any chunking of the sample axis gives the same MAEs
    head = forward_maes(X, y, [w[:2] for w in W], **_kw(arch))
    tail = forward_maes(X, y, [w[2:] for w in W], **_kw(arch))
    np.testing.assert_array_equal(np.concatenate([head, tail]), base)


@pytest.mark.skipif(_threads_available() < 2, reason="needs 2 Numba threads")
def test_forward_thread_count_invariance():
    arch = Architecture((9, 9), cell="gru")
    X, y, W = _problem(arch, N=150, LB=5, n_in=2, n_out=1, S=5, seed=2)
    with _Threads(1):
        a, pa = forward_maes(X, y, W, predictions=True, **_kw(arch))
    with _Threads(2):
        b, pb = forward_maes(X, y, W, predictions=True, **_kw(arch))
    np.testing.assert_array_equal(a, b)
    np.testing.assert_array_equal(pa, pb)


def test_forward_non_finite_does_not_crash():
    arch = Architecture((4, 4), cell="simple_rnn", activation="linear", head_activation="linear")
    X, y, W = _problem(arch, N=20, LB=10, n_in=1, n_out=1, S=2, seed=1)
    W = [w * np.float32(1e12) for w in W]
    maes = forward_maes(X, y, W, **_kw(arch))
    assert maes.shape == (2,)
    assert not np.all(np.isfinite(maes))
    arch = Architecture((4,), cell="lstm", activation="relu", recurrent_activation="sigmoid", head_activation="tanh")
    X, y, W = _problem(arch, N=20, LB=10, n_in=1, n_out=1, S=2, seed=1)
    X = X.copy()
    X[0, 0, 0] = np.nan
    maes = forward_maes(X, y, W, **_kw(arch))
    assert np.all(np.isnan(maes))


def test_forward_input_errors():
    arch = Architecture((3,), cell="lstm")
    X, y, W = _problem(arch, N=5, LB=2, n_in=1, n_out=1, S=2, seed=0)
    kw = _kw(arch)
    with pytest.raises(TypeError):
        forward_maes(X.astype(np.float64), y, W, **kw)
    with pytest.raises(TypeError):
        forward_maes(X, y, [w.astype(np.float64) for w in W], **kw)
    with pytest.raises(ValueError):
        forward_maes(X[:, :, 0], y, W, **kw)
    with pytest.raises(ValueError):
        forward_maes(X, y[:4], W, **kw)
    with pytest.raises(ValueError):
        forward_maes(X, y, W[:-1], **kw)
    with pytest.raises(ValueError):
        forward_maes(X, y, W, **{**kw, "cell": "gru"})
    with pytest.raises(ValueError):
        forward_maes(X, y, W, **{**kw, "activation": "softplus"})
    with pytest.raises(ValueError):
        forward_maes(X, y, [W[0][:1]] + W[1:], **kw)
    with pytest.raises(ValueError):
        forward_maes(X, y, W, block=0, **kw)
    # zero samples
    assert forward_maes(X, y, [w[:0] for w in W], **kw).shape == (0,)


def test_activations_accuracy():
    x = np.concatenate([np.linspace(-100, 100, 200_001), np.linspace(-1, 1, 100_001),
                        [0.0, 1e-30, -1e-30, 3e38, -3e38, np.inf, -np.inf]]).astype(np.float32)
    for name, code in kf.ACTIVATION_CODES.items():
        got = kf.activate_array(code, x).astype(np.float64)
        with np.errstate(all="ignore"):
            ref = reference.activation(name)(x.astype(np.float64))
        fin = np.isfinite(ref)
        # tanh is Eigen's rational approximation (as in TensorFlow): ~4 ulps below 1
        assert np.abs(got[fin] - ref[fin]).max() < (3e-7 if name == "tanh" else 2e-7), name
        np.testing.assert_array_equal(got[~fin], ref[~fin])
        assert np.isnan(kf.activate_array(code, np.array([np.nan], np.float32))[0]), name
    # relative accuracy of tanh near 0
    small = np.float32([1e-3, -2e-5, 0.3])
    np.testing.assert_allclose(kf.activate_array(0, small), np.tanh(small.astype(np.float64)), rtol=3e-7)


def test_choose_block_keeps_blas_single_threaded():
    for cell in CELLS:
        for units in ((31, 31, 31), (100,), (7,), (300,)):
            r = kf.choose_block(cell, 1, units, 970)
            g = {"lstm": 4, "gru": 3, "simple_rnn": 1}[cell]
            d = 1
            for h in units:
                k = max(d, h) if cell == "gru" else d + h
                assert r == 1 or g * h * k * r < kf._BLAS_SINGLE_THREAD_MNK
                d = h
            assert 1 <= r <= 64
    assert kf.choose_block("lstm", 1, (7,), 5) == 8


@pytest.mark.parametrize("cell", list(CELLS))
@pytest.mark.parametrize("prefix", [(), (5,), (4, 6)])
def test_group_kernel_equals_each_architecture_alone_exactly(cell, prefix):
    """Shared layers run once per block; every variant's MAEs equal its own forward_maes to the bit."""
    from mae_ort.kernels.forward import forward_maes_group

    rng = np.random.default_rng(7)
    X = rng.standard_normal((37, 6, 2)).astype(np.float32)
    y = rng.standard_normal((37, 1)).astype(np.float32)
    S = 5
    kw = dict(cell=cell, activation="tanh", recurrent_activation="hard_sigmoid_keras2", head_activation="linear")
    archs = [Architecture(prefix + (c,), **kw) for c in (3, 8)]
    full = [[rng.standard_normal((S,) + sh).astype(np.float32) for _, sh in a.weight_shapes(2, 1)] for a in archs]
    for f in full[1:]:
        f[:3 * len(prefix)] = full[0][:3 * len(prefix)]
    alone = np.array([forward_maes(X, y, f, **kw) for f in full])
    group = forward_maes_group(X, y, full[0][:3 * len(prefix)], [f[3 * len(prefix):] for f in full], **kw)
    np.testing.assert_array_equal(group, alone)
    ref = np.array([reference.maes(a, X, y, f) for a, f in zip(archs, full)])
    np.testing.assert_allclose(group, ref, rtol=1e-4, atol=1e-5)


def test_group_kernel_refuses_mismatched_weights():
    from mae_ort.kernels.forward import forward_maes_group

    X = np.zeros((4, 2, 1), np.float32)
    y = np.zeros((4, 1), np.float32)
    w = [np.zeros((2, 1, 4), np.float32), np.zeros((2, 1, 4), np.float32), np.zeros((2, 4), np.float32),
         np.zeros((2, 2, 1), np.float32), np.zeros((2, 1), np.float32)]
    with pytest.raises(ValueError, match="head kernel"):
        forward_maes_group(X, y, [], [w], cell="lstm", activation="tanh", recurrent_activation="sigmoid",
                           head_activation="tanh")


def test_warmup_of_the_package_loads_the_shared_prefix_kernel_too():
    # a fresh process: only kernels.warmup() (what the background compiler runs) can have loaded it there
    kf.warmup(group=True)  # compiled and cached by this process at the latest
    script = ("import json; from mae_ort import kernels; from mae_ort.kernels import forward as m; "
              "before = len(m._group_kernel.overloads); kernels.warmup(); "
              "print(json.dumps([before, len(m._group_kernel.overloads), len(m._forward_kernel.overloads)]))")
    res = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=300)
    assert res.returncode == 0, res.stderr
    assert json.loads(res.stdout.strip().splitlines()[-1]) == [0, 1, 1]
