"""Fused float32 forward pass of stacked Keras RNNs over many weight samples (Numba).

``forward_maes`` evaluates, for every weight sample, the Keras ``Sequential`` of
FACTS.md (stacked LSTM / GRU (``reset_after=True``) / SimpleRNN layers, then a Dense
head) on all windows, and returns each sample's MAE.  It is "fused": one task per
(weight sample, block of windows) runs every time step of every layer, the gates,
the cell update, the head and the absolute errors in small per-task buffers; nothing
of the size of the whole batch (samples x windows) is ever allocated, except the
predictions when they are asked for.

Layout inside a task: windows run along the last (contiguous) axis, so the state of
a block of ``R`` windows is a (features, R) float32 array.  One buffer holds
``[x_t; h_0; h_1; ...]`` row blocks, so the input of layer ``k`` followed by its own
previous state is a contiguous slice and each step of a layer is a single product
``Z = [K; U]^T @ [x; h]`` (``np.dot`` -> BLAS sgemm), followed by element-wise passes
over contiguous rows (vectorised, with the activation chosen outside the loop).
At ``t = 0`` the recurrent half of the product is skipped (``h = 0``).

BLAS and threads: the tasks already run in parallel (``prange``); every product is
kept below OpenBLAS' multi-threading threshold (``M*N*K < 2 * 65536 * 4``) by the
choice of ``R``, so that OpenBLAS never starts its own threads inside ours.

Activations are float32 approximations with errors of a few float32 ulps (a Cephes
style ``exp`` built from a bit-cast, no libm calls, so the loops vectorise).

This module is a leaf: it knows nothing of the rest of mae-ort and raises plain
``TypeError`` / ``ValueError``.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

__all__ = ["forward_maes", "warmup", "ACTIVATION_CODES", "CELL_CODES", "choose_block"]

#: Activation names and their integer codes in the kernels.
ACTIVATION_CODES = {
    "tanh": 0,
    "sigmoid": 1,
    "hard_sigmoid": 2,
    "hard_sigmoid_keras2": 3,
    "relu": 4,
    "linear": 5,
}
#: Cells, their integer codes and gate blocks.
CELL_CODES = {"lstm": 0, "gru": 1, "simple_rnn": 2}
_GATES = {"lstm": 4, "gru": 3, "simple_rnn": 1}

_FM = {"contract"}

# ---------------------------------------------------------------------------------
# float32 scalar activations
# ---------------------------------------------------------------------------------
_f32 = np.float32
_ZERO = _f32(0.0)
_ONE = _f32(1.0)
_TWO = _f32(2.0)
_HALF = _f32(0.5)
_SIXTH = _f32(1.0 / 6.0)
_FIFTH = _f32(0.2)
_EXP_HI = _f32(88.0)
_EXP_LO = _f32(-87.0)
_LOG2E = _f32(1.44269504088896341)
_SHIFT = _f32(200.5)
_C1 = _f32(0.693359375)
_C2 = _f32(-2.12194440e-4)
_P0 = _f32(1.9875691500e-4)
_P1 = _f32(1.3981999507e-3)
_P2 = _f32(8.3334519073e-3)
_P3 = _f32(4.1665795894e-2)
_P4 = _f32(1.6666665459e-1)
_P5 = _f32(5.0000001201e-1)
_T0 = _f32(-5.70498872745e-3)
_T1 = _f32(2.06390887954e-2)
_T2 = _f32(-5.37397155531e-2)
_T3 = _f32(1.33314422036e-1)
_T4 = _f32(-3.33332819422e-1)
_TANH_SMALL = _f32(0.625)
_TANH_ARG_HI = _f32(44.0)


@intrinsic
def _bits_to_f32(typingctx, bits):
    """Reinterpret the low 32 bits of an integer as a float32 (LLVM trunc + bitcast)."""
    if not isinstance(bits, types.Integer):
        return None
    sig = types.float32(bits)

    def codegen(context, builder, signature, args):
        v = args[0]
        if v.type.width > 32:
            v = builder.trunc(v, ir.IntType(32))
        return builder.bitcast(v, ir.FloatType())

    return sig, codegen


@njit(cache=True, inline="always", fastmath=_FM)
def _exp32(x):
    """exp of a float32 in [-87, 88] (clamped), Cephes expf; about 1 ulp."""
    x = min(max(x, _EXP_LO), _EXP_HI)
    n = np.int32(x * _LOG2E + _SHIFT) - np.int32(200)  # floor(x log2 e + 1/2); the argument is > 0
    fn = np.float32(n)
    r = x - fn * _C1
    r = r - fn * _C2
    z = r * r
    p = (((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5) * z + r + _ONE
    return p * _bits_to_f32((n + 127) << 23)


@njit(cache=True, inline="always", fastmath=_FM)
def _tanh(x):
    ax = abs(x)
    e = _exp32(min(ax, _TANH_ARG_HI) * _TWO)
    big = _ONE - _TWO / (e + _ONE)
    big = big if x >= _ZERO else -big
    z = x * x
    small = ((((_T0 * z + _T1) * z + _T2) * z + _T3) * z + _T4) * z * x + x
    r = small if ax < _TANH_SMALL else big
    return r if x == x else x


@njit(cache=True, inline="always", fastmath=_FM)
def _sigmoid(x):
    r = _ONE / (_ONE + _exp32(-x))
    return r if x == x else x


@njit(cache=True, inline="always", fastmath=_FM)
def _hard_sigmoid(x):
    y = x * _SIXTH + _HALF
    y = _ZERO if y < _ZERO else y
    return _ONE if y > _ONE else y


@njit(cache=True, inline="always", fastmath=_FM)
def _hard_sigmoid_keras2(x):
    y = x * _FIFTH + _HALF
    y = _ZERO if y < _ZERO else y
    return _ONE if y > _ONE else y


@njit(cache=True, inline="always", fastmath=_FM)
def _relu(x):
    return _ZERO if x < _ZERO else x


@njit(cache=True, inline="always", fastmath=_FM)
def _linear(x):
    return x


@njit(cache=True, fastmath=_FM)
def activate(code, x):
    """Scalar activation by code (for tests and odd jobs; the kernels use passes)."""
    if code == 0:
        return _tanh(x)
    elif code == 1:
        return _sigmoid(x)
    elif code == 2:
        return _hard_sigmoid(x)
    elif code == 3:
        return _hard_sigmoid_keras2(x)
    elif code == 4:
        return _relu(x)
    return _linear(x)


# ---------------------------------------------------------------------------------
# element-wise passes over (rows, R) blocks; the activation is a compile-time argument
# ---------------------------------------------------------------------------------
@njit(cache=True, fastmath=_FM)
def _act_bias_f(f, src, r0, nrows, bias, b0, dst, d0):
    """dst[d0 + j, :] = f(src[r0 + j, :] + bias[b0 + j]) for j < nrows."""
    R = src.shape[1]
    for j in range(nrows):
        bj = bias[b0 + j]
        s = src[r0 + j]
        d = dst[d0 + j]
        for l in range(R):
            d[l] = f(s[l] + bj)


@njit(cache=True)
def _act_bias(code, src, r0, nrows, bias, b0, dst, d0):
    if code == 0:
        _act_bias_f(_tanh, src, r0, nrows, bias, b0, dst, d0)
    elif code == 1:
        _act_bias_f(_sigmoid, src, r0, nrows, bias, b0, dst, d0)
    elif code == 2:
        _act_bias_f(_hard_sigmoid, src, r0, nrows, bias, b0, dst, d0)
    elif code == 3:
        _act_bias_f(_hard_sigmoid_keras2, src, r0, nrows, bias, b0, dst, d0)
    elif code == 4:
        _act_bias_f(_relu, src, r0, nrows, bias, b0, dst, d0)
    else:
        _act_bias_f(_linear, src, r0, nrows, bias, b0, dst, d0)


@njit(cache=True, fastmath=_FM)
def _lstm_update_f(f, Z, C, c0, Hb, h0, H):
    """c = f_gate*c + i*g ; h = o * a(c)   (Z rows: i, f, g, o already activated)."""
    R = Z.shape[1]
    for j in range(H):
        zi = Z[j]
        zf = Z[H + j]
        zg = Z[2 * H + j]
        zo = Z[3 * H + j]
        c = C[c0 + j]
        h = Hb[h0 + j]
        for l in range(R):
            cl = zf[l] * c[l] + zi[l] * zg[l]
            c[l] = cl
            h[l] = zo[l] * f(cl)


@njit(cache=True)
def _lstm_update(code, Z, C, c0, Hb, h0, H):
    if code == 0:
        _lstm_update_f(_tanh, Z, C, c0, Hb, h0, H)
    elif code == 1:
        _lstm_update_f(_sigmoid, Z, C, c0, Hb, h0, H)
    elif code == 2:
        _lstm_update_f(_hard_sigmoid, Z, C, c0, Hb, h0, H)
    elif code == 3:
        _lstm_update_f(_hard_sigmoid_keras2, Z, C, c0, Hb, h0, H)
    elif code == 4:
        _lstm_update_f(_relu, Z, C, c0, Hb, h0, H)
    else:
        _lstm_update_f(_linear, Z, C, c0, Hb, h0, H)


@njit(cache=True, fastmath=_FM)
def _gru_zr_f(f, Zx, Zh, bias, H):
    """Zx[j] = f(Zx[j] + Zh[j] + b_in[j] + b_rec[j]) for the z and r rows (j < 2H)."""
    R = Zx.shape[1]
    for j in range(2 * H):
        bj = bias[j] + bias[3 * H + j]
        x = Zx[j]
        h = Zh[j]
        for l in range(R):
            x[l] = f(x[l] + h[l] + bj)


@njit(cache=True)
def _gru_zr(code, Zx, Zh, bias, H):
    if code == 0:
        _gru_zr_f(_tanh, Zx, Zh, bias, H)
    elif code == 1:
        _gru_zr_f(_sigmoid, Zx, Zh, bias, H)
    elif code == 2:
        _gru_zr_f(_hard_sigmoid, Zx, Zh, bias, H)
    elif code == 3:
        _gru_zr_f(_hard_sigmoid_keras2, Zx, Zh, bias, H)
    elif code == 4:
        _gru_zr_f(_relu, Zx, Zh, bias, H)
    else:
        _gru_zr_f(_linear, Zx, Zh, bias, H)


@njit(cache=True, fastmath=_FM)
def _gru_h_f(f, Zx, Zh, bias, Hb, h0, H):
    """hh = a(xh + b_in_h + r * (U_h h + b_rec_h)) ; h = z h + (1 - z) hh."""
    R = Zx.shape[1]
    for j in range(H):
        bx = bias[2 * H + j]
        bh = bias[5 * H + j]
        z = Zx[j]
        r = Zx[H + j]
        xh = Zx[2 * H + j]
        hh = Zh[2 * H + j]
        h = Hb[h0 + j]
        for l in range(R):
            cand = f(xh[l] + bx + r[l] * (hh[l] + bh))
            h[l] = z[l] * h[l] + (_ONE - z[l]) * cand


@njit(cache=True)
def _gru_h(code, Zx, Zh, bias, Hb, h0, H):
    if code == 0:
        _gru_h_f(_tanh, Zx, Zh, bias, Hb, h0, H)
    elif code == 1:
        _gru_h_f(_sigmoid, Zx, Zh, bias, Hb, h0, H)
    elif code == 2:
        _gru_h_f(_hard_sigmoid, Zx, Zh, bias, Hb, h0, H)
    elif code == 3:
        _gru_h_f(_hard_sigmoid_keras2, Zx, Zh, bias, Hb, h0, H)
    elif code == 4:
        _gru_h_f(_relu, Zx, Zh, bias, Hb, h0, H)
    else:
        _gru_h_f(_linear, Zx, Zh, bias, Hb, h0, H)


# ---------------------------------------------------------------------------------
# the fused kernel
# ---------------------------------------------------------------------------------
@njit(cache=True, fastmath=_FM)
def _run_task(s, n0, nvalid, Xt, y, Ks, Us, Bs, Wd, bd, units, cell, act, ract, hact, R, want_pred, pred):
    """All steps of all layers, the head and the summed |error| of one block of windows."""
    depth = units.shape[0]
    n_in = Xt.shape[1]
    n_out = bd.shape[1]
    LB = Xt.shape[0]
    g = 4 if cell == 0 else (3 if cell == 1 else 1)

    # Row offsets: B = [x; h_0; h_1; ...], C = [c_0; c_1; ...].
    total_h = 0
    max_gh = 1
    max_h = 1
    wst_size = 0
    d = n_in
    for k in range(depth):
        H = units[k]
        total_h += H
        max_gh = max(max_gh, g * H)
        max_h = max(max_h, H)
        wst_size += (d + H) * g * H
        d = H
    B = np.zeros((n_in + total_h, R), dtype=np.float32)
    C = np.zeros((total_h if cell == 0 else 1, R), dtype=np.float32)
    Z = np.empty((max_gh, R), dtype=np.float32)
    Zh = np.empty((max_gh if cell == 1 else 1, R), dtype=np.float32)

    # Stacked [K; U] per layer (LSTM, SimpleRNN): one product per step.
    W = np.empty(wst_size if cell != 1 else 1, dtype=np.float32)
    if cell != 1:
        off = 0
        d = n_in
        for k in range(depth):
            H = units[k]
            gh = g * H
            Wk = W[off:off + (d + H) * gh].reshape((d + H, gh))
            Wk[:d] = Ks[k][s]
            Wk[d:] = Us[k][s]
            off += (d + H) * gh
            d = H

    for t in range(LB):
        B[:n_in] = Xt[t, :, n0:n0 + R]
        ioff = 0
        hoff = n_in
        coff = 0
        woff = 0
        d = n_in
        for k in range(depth):
            H = units[k]
            gh = g * H
            bias = Bs[k][s]
            Zk = Z[:gh]
            if cell == 1:
                Zhk = Zh[:gh]
                np.dot(Ks[k][s].T, B[ioff:ioff + d], Zk)
                if t == 0:
                    Zhk[:] = _ZERO
                else:
                    np.dot(Us[k][s].T, B[hoff:hoff + H], Zhk)
                _gru_zr(ract, Zk, Zhk, bias, H)
                _gru_h(act, Zk, Zhk, bias, B, hoff, H)
            else:
                Wk = W[woff:woff + (d + H) * gh].reshape((d + H, gh))
                if t == 0:
                    np.dot(Wk[:d].T, B[ioff:ioff + d], Zk)
                else:
                    np.dot(Wk.T, B[ioff:ioff + d + H], Zk)
                if cell == 0:
                    _act_bias(ract, Zk, 0, 2 * H, bias, 0, Zk, 0)
                    _act_bias(act, Zk, 2 * H, H, bias, 2 * H, Zk, 2 * H)
                    _act_bias(ract, Zk, 3 * H, H, bias, 3 * H, Zk, 3 * H)
                    _lstm_update(act, Zk, C, coff, B, hoff, H)
                else:
                    _act_bias(act, Zk, 0, H, bias, 0, B, hoff)
            woff += (d + H) * gh
            ioff = hoff
            hoff += H
            coff += H
            d = H

    # Dense head on the last layer's state: rows [ioff, ioff + d) of B.
    P = np.zeros((n_out, R), dtype=np.float32)
    Wds = Wd[s]
    for j in range(d):
        hj = B[ioff + j]
        for o in range(n_out):
            w = Wds[j, o]
            po = P[o]
            for l in range(R):
                po[l] += w * hj[l]
    _act_bias(hact, P, 0, n_out, bd[s], 0, P, 0)
    err = 0.0
    for o in range(n_out):
        for l in range(nvalid):
            err += abs(np.float64(P[o, l]) - np.float64(y[n0 + l, o]))
    if want_pred:
        for l in range(nvalid):
            for o in range(n_out):
                pred[s, n0 + l, o] = P[o, l]
    return err


@njit(parallel=True, cache=True)
def _forward_kernel(Xt, y, Ks, Us, Bs, Wd, bd, units, cell, act, ract, hact, R, want_pred, pred, partial):
    S, nblocks = partial.shape
    N = y.shape[0]
    for task in prange(S * nblocks):
        s = task // nblocks
        blk = task - s * nblocks
        n0 = blk * R
        nvalid = min(R, N - n0)
        partial[s, blk] = _run_task(s, n0, nvalid, Xt, y, Ks, Us, Bs, Wd, bd, units, cell, act, ract, hact, R,
                                    want_pred, pred)


# ---------------------------------------------------------------------------------
# Python wrapper
# ---------------------------------------------------------------------------------
#: OpenBLAS runs sgemm on one thread while M*N*K < 2 * 65536 * GEMM_MULTITHREAD_THRESHOLD(4).
_BLAS_SINGLE_THREAD_MNK = 2 * 65536 * 4
_DEFAULT_BLOCK = 64


def choose_block(cell: str, n_in: int, units, n_windows: int, block: int | None = None) -> int:
    """Windows per task: at most ``block`` (default 64), a multiple of 8 when >= 8,
    small enough that every sgemm stays single-threaded in OpenBLAS, and no larger
    than the windows (rounded up to 8)."""
    g = _GATES[cell]
    mk = 1
    d = n_in
    for H in units:
        if cell == "gru":
            mk = max(mk, g * H * max(d, H))
        else:
            mk = max(mk, g * H * (d + H))
        d = H
    r = block if block is not None else _DEFAULT_BLOCK
    r = min(r, max(1, (_BLAS_SINGLE_THREAD_MNK - 1) // mk))
    r = min(r, -(-n_windows // 8) * 8)
    if r >= 8:
        r -= r % 8
    return max(1, r)


def _code(value, table, name):
    if not isinstance(value, str) or value not in table:
        raise ValueError(f"forward_maes: '{name}' must be one of {sorted(table)}, got {value!r}.")
    return table[value]


def _as_f32(a, name):
    if not isinstance(a, np.ndarray):
        raise TypeError(f"forward_maes: '{name}' must be a numpy array, got {type(a).__name__}.")
    if a.dtype != np.float32:
        raise TypeError(f"forward_maes: '{name}' must have dtype float32, got {a.dtype}.")
    return np.ascontiguousarray(a)


def forward_maes(X, y, weights, *, cell, activation, recurrent_activation, head_activation, predictions=False,
                 block=None):
    """MAE of every weight sample of a stacked RNN + Dense model (float32, fused, parallel).

    Parameters
    ----------
    X : float32 array (N, LB, n_in)
        Windows.
    y : float32 array (N, n_out)
        Targets.
    weights : list of float32 arrays (S, *shape)
        In the order of ``Architecture.weight_shapes(n_in, n_out)``: per layer kernel
        (d, gH), recurrent kernel (H, gH), bias (gH,) or (2, 3H) for GRU; then the head
        kernel (H, n_out) and bias (n_out,).
    cell : {'lstm', 'gru', 'simple_rnn'}
    activation, recurrent_activation, head_activation : str
        Names of ``ACTIVATION_CODES``.
    predictions : bool
        Also return the predictions.
    block : int, optional
        Upper bound on windows per task (tuning; default 64).

    Returns
    -------
    maes : float64 array (S,)
        ``mean |pred - y|`` over windows and target columns (inf/nan where the
        predictions are not finite).
    pred : float32 array (S, N, n_out)
        Only with ``predictions=True``.
    """
    cell_code = _code(cell, CELL_CODES, "cell")
    act = _code(activation, ACTIVATION_CODES, "activation")
    ract = _code(recurrent_activation, ACTIVATION_CODES, "recurrent_activation")
    hact = _code(head_activation, ACTIVATION_CODES, "head_activation")
    X = _as_f32(X, "X")
    y = _as_f32(y, "y")
    if X.ndim != 3 or X.shape[0] < 1 or X.shape[1] < 1 or X.shape[2] < 1:
        raise ValueError(f"forward_maes: 'X' must have shape (N, LB, n_in) with N, LB, n_in >= 1, got {X.shape}.")
    N, LB, n_in = X.shape
    if y.ndim != 2 or y.shape[0] != N or y.shape[1] < 1:
        raise ValueError(f"forward_maes: 'y' must have shape (N={N}, n_out>=1), got {y.shape}.")
    n_out = y.shape[1]
    if not isinstance(weights, (list, tuple)) or len(weights) < 5 or (len(weights) - 2) % 3 != 0:
        raise ValueError("forward_maes: 'weights' must be a list of 3 arrays per layer plus 2 for the head.")
    weights = [_as_f32(w, f"weights[{i}]") for i, w in enumerate(weights)]
    depth = (len(weights) - 2) // 3
    S = weights[0].shape[0] if weights[0].ndim >= 1 else -1
    g = _GATES[cell]
    units = []
    d = n_in
    Ks, Us, Bs = [], [], []
    for k in range(depth):
        K, U, b = weights[3 * k:3 * k + 3]
        if U.ndim != 3 or U.shape[2] != g * U.shape[1] or U.shape[1] < 1:
            raise ValueError(f"forward_maes: layer {k} recurrent kernel must have shape (S, H, {g}H), got {U.shape}.")
        H = U.shape[1]
        bshape = (S, 2, 3 * H) if cell == "gru" else (S, g * H)
        for arr, shape, what in ((K, (S, d, g * H), "kernel"), (U, (S, H, g * H), "recurrent kernel"),
                                 (b, bshape, "bias")):
            if arr.shape != shape:
                raise ValueError(f"forward_maes: layer {k} {what} must have shape {shape}, got {arr.shape}.")
        units.append(H)
        Ks.append(K)
        Us.append(U)
        Bs.append(b.reshape(S, -1))
        d = H
    Wd, bd = weights[-2], weights[-1]
    if Wd.shape != (S, d, n_out) or bd.shape != (S, n_out):
        raise ValueError(f"forward_maes: head kernel/bias must have shapes {(S, d, n_out)} and {(S, n_out)}, "
                         f"got {Wd.shape} and {bd.shape}.")
    if S == 0:
        maes = np.empty(0, dtype=np.float64)
        return (maes, np.empty((0, N, n_out), dtype=np.float32)) if predictions else maes

    R = choose_block(cell, n_in, units, N, block)
    nblocks = -(-N // R)
    Xt = np.zeros((LB, n_in, nblocks * R), dtype=np.float32)
    Xt[:, :, :N] = X.transpose(1, 2, 0)
    pred = np.empty((S, N, n_out) if predictions else (1, 1, 1), dtype=np.float32)
    partial = np.empty((S, nblocks), dtype=np.float64)
    _forward_kernel(Xt, y, tuple(Ks), tuple(Us), tuple(Bs), Wd, bd, np.asarray(units, dtype=np.int64),
                    np.int64(cell_code), np.int64(act), np.int64(ract), np.int64(hact), np.int64(R),
                    bool(predictions), pred, partial)
    maes = partial.sum(axis=1) / float(N * n_out)
    return (maes, pred) if predictions else maes


def warmup(max_depth: int = 3) -> None:
    """Compile (or load from the disk cache) the kernels for depths 1..max_depth."""
    X = np.zeros((3, 2, 1), dtype=np.float32)
    y = np.zeros((3, 1), dtype=np.float32)
    for depth in range(1, max_depth + 1):
        w = []
        d = 1
        for _ in range(depth):
            w += [np.zeros((1, d, 4), np.float32), np.zeros((1, 1, 4), np.float32), np.zeros((1, 4), np.float32)]
            d = 1
        w += [np.zeros((1, 1, 1), np.float32), np.zeros((1, 1), np.float32)]
        forward_maes(X, y, w, cell="lstm", activation="tanh", recurrent_activation="sigmoid",
                     head_activation="tanh")
