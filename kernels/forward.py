"""Fused float32 forward pass of stacked Keras RNNs over many weight samples (Numba).

``forward_maes`` evaluates, for every weight sample, the Keras ``Sequential`` of
Keras 3 (stacked LSTM / GRU (``reset_after=True``) / SimpleRNN layers, then a Dense
head) on all windows, and returns each sample's MAE.  It is "fused": one task per
(weight sample, block of windows) runs every time step of every layer, the gates,
the cell update, the head and the absolute errors in small per-task buffers; nothing
of the size of the whole batch (samples x windows) is ever allocated, except the
predictions when they are asked for.

Layout inside a task: windows run along the last (contiguous) axis, so the state of
a block of ``R`` windows is a (features, R) float32 array.  One buffer holds the row
blocks ``[x_t; 1; h_0; 1; h_1; ...; h_last; 1]``, so the input of layer ``k``, a row
of ones and its own previous state are one contiguous slice, and each step of a layer
is a single product ``Z = [K; b; U]^T @ [x; 1; h]`` with the bias inside (``np.dot``
-> BLAS sgemm; GRU: ``[K; b_in]^T @ [x; 1]`` and ``[U; b_rec]^T @ [h; 1]``), followed
by short element-wise passes over contiguous memory that LLVM vectorises.  At
``t = 0`` the recurrent half of the product is skipped (``h = 0``).  The last block
of windows is only as wide as the windows left (rounded up to 8).  The weights of each
sample are packed into one row first (a copy of all weights, per call), so one
compiled kernel serves every cell, activation and depth.

Measured on a 2-core AMD EPYC (Zen 4), [31,31,31] LB 30, 100 samples
(``python -m bench.profile``): the products alone run at ~105 GFLOP/s per thread,
as fast as numpy's 2048 x 2048 sgemm on one thread, and take ~70 % of the kernel;
the element-wise passes take the rest.  Hand-written Numba loops ran the products at
25-40 GFLOP/s (even for 28 x 8 products), hence BLAS.

BLAS and threads: the tasks already run in parallel (``prange``); every product is
kept below OpenBLAS' multi-threading threshold (``M*N*K < 2 * 65536 * 4``) by the
choice of ``R``, so that OpenBLAS never starts its own threads inside ours.

Activations are float32 code without libm calls, so the loops vectorise.  ``tanh``
is the rational approximation TensorFlow's CPU kernels use (Eigen's, |error| < 3e-7,
half the instructions of an ``exp``-based one); ``sigmoid`` is ``1 / (1 + exp(-x))``
with a Cephes-style ``exp`` built from a bit-cast (a few ulps, relative).

This module is a leaf: it knows nothing of the rest of mae-ort and raises plain
``TypeError`` / ``ValueError``.
"""

from __future__ import annotations

import numpy as np
from llvmlite import ir
from numba import njit, prange, types
from numba.extending import intrinsic

from ._cache import is_cached

__all__ = ["forward_maes", "forward_maes_group", "warmup", "warmup_group", "compiled", "activate", "activate_array",
           "ACTIVATION_CODES", "CELL_CODES", "choose_block"]

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
_u64 = np.uint64  # unsigned indices: no negative-index wraparound, so loops vectorise

# ---------------------------------------------------------------------------------
# float32 scalar activations
# ---------------------------------------------------------------------------------
_f32 = np.float32
_ZERO = _f32(0.0)
_ONE = _f32(1.0)
_HALF = _f32(0.5)
_SIXTH = _f32(1.0 / 6.0)
_FIFTH = _f32(0.2)
_EXP_HI = _f32(88.0)
_EXP_LO = _f32(-87.0)
_LOG2E = _f32(1.44269504088896341)
_SHIFT = _f32(200.5)
_F200 = _f32(200.0)
_C1 = _f32(0.693359375)
_C2 = _f32(-2.12194440e-4)
_P0 = _f32(1.9875691500e-4)
_P1 = _f32(1.3981999507e-3)
_P2 = _f32(8.3334519073e-3)
_P3 = _f32(4.1665795894e-2)
_P4 = _f32(1.6666665459e-1)
_P5 = _f32(5.0000001201e-1)
# tanh: odd numerator / even denominator of Eigen's ``generic_fast_tanh_float``
# (Eigen/src/Core/MathFunctionsImpl.h, also TensorFlow's and XLA's CPU tanh).
_TA1 = _f32(4.89352455891786e-03)
_TA3 = _f32(6.37261928875436e-04)
_TA5 = _f32(1.48572235717979e-05)
_TA7 = _f32(5.12229709037114e-08)
_TA9 = _f32(-8.60467152213735e-11)
_TA11 = _f32(2.00018790482477e-13)
_TA13 = _f32(-2.76076847742355e-16)
_TB0 = _f32(4.89352518554385e-03)
_TB2 = _f32(2.26843463243900e-03)
_TB4 = _f32(1.18534705686654e-04)
_TB6 = _f32(1.19825839466702e-06)
_TCLAMP = _f32(7.99881172180175781)


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


@njit(cache=True, inline="always", fastmath=_FM, error_model="numpy")
def _exp32(x):
    """exp of a float32 in [-87, 88] (clamped), Cephes expf; about 1 ulp."""
    x = min(max(x, _EXP_LO), _EXP_HI)
    it = np.int32(x * _LOG2E + _SHIFT)  # floor(x log2 e + 1/2) + 200; the argument is > 0
    fn = np.float32(it) - _F200
    r = x - fn * _C1
    r = r - fn * _C2
    z = r * r
    p = (((((_P0 * r + _P1) * r + _P2) * r + _P3) * r + _P4) * r + _P5) * z + r + _ONE
    return p * _bits_to_f32(np.int32((it - 73) << 23))  # 2**n: exponent bits n + 127, n = it - 200


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _tanh(x):
    """tanh as TensorFlow's CPU kernels compute it: Eigen's 13/6 rational approximation,
    input clamped to +-7.9988 (where it reaches exactly +-1); |error| < 3e-7.

    Half the instructions of an ``exp``-based tanh, and the same function Keras uses."""
    c = min(max(x, -_TCLAMP), _TCLAMP)  # NaN propagates (Python min/max semantics)
    z = c * c
    p = ((((((_TA13 * z + _TA11) * z + _TA9) * z + _TA7) * z + _TA5) * z + _TA3) * z + _TA1) * c
    q = ((_TB6 * z + _TB4) * z + _TB2) * z + _TB0
    return p / q


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _sigmoid(x):
    r = _ONE / (_ONE + _exp32(-x))
    return r if x == x else x


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _hard_sigmoid(x):
    y = x * _SIXTH + _HALF
    y = _ZERO if y < _ZERO else y
    return _ONE if y > _ONE else y


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _hard_sigmoid_keras2(x):
    y = x * _FIFTH + _HALF
    y = _ZERO if y < _ZERO else y
    return _ONE if y > _ONE else y


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _relu(x):
    return _ZERO if x < _ZERO else x


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _linear(x):
    return x


@njit(cache=True, inline="always", fastmath=_FM, error_model="numpy")
def _act(code, x):
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


@njit(cache=True, fastmath=_FM, error_model="numpy")
def activate(code, x):
    """Scalar float32 activation by code (``ACTIVATION_CODES``)."""
    return _act(code, x)


@njit(cache=True, fastmath=_FM, error_model="numpy")
def activate_array(code, x):
    """Element-wise float32 activation of a 1-D float32 array by code (a new array)."""
    out = np.empty_like(x)
    for i in range(x.shape[0]):
        out[i] = _act(code, x[i])
    return out


# ---------------------------------------------------------------------------------
# element-wise passes over flat (rows x R) blocks.
#
# Only ``_act_inplace`` and ``_lstm_cell_out`` switch on an activation code: each
# runs over one contiguous range with a loop-invariant code, which LLVM unswitches
# and vectorises, so every activation costs one tight vector loop and the compiled
# code stays small.  The other passes are plain arithmetic.  Indices are unsigned (no
# negative-index wraparound) and loops touch few arrays (LLVM's runtime alias checks
# stay under its limit), so that they all vectorise.  The biases are not added here:
# they ride in the products (a row of ones in the state buffer, see ``_run_task``).
# ---------------------------------------------------------------------------------
@njit(cache=True, fastmath=_FM, error_model="numpy")
def _act_inplace(code, z, base, n):
    """z[base:base + n] = act(z[base:base + n])."""
    b = _u64(base)
    for e in range(_u64(n)):
        z[b + e] = _act(code, z[b + e])


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _lstm_cell_out(code, z, c, cbase, hb, hbase, HR):
    """c = f*c + i*g;  h = o * act(c)  (gates activated, blocks i, f, g, o of ``z``)."""
    cb = _u64(cbase)
    hbs = _u64(hbase)
    n = _u64(HR)
    for e in range(n):
        ce = z[n + e] * c[cb + e] + z[e] * z[_u64(2) * n + e]
        c[cb + e] = ce
        hb[hbs + e] = z[_u64(3) * n + e] * _act(code, ce)


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _gru_pre_zr(zx, zh, n):
    """Pre-activations of z and r (the first ``n = 2HR`` entries): zx += zh."""
    for e in range(_u64(n)):
        zx[e] = zx[e] + zh[e]


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _gru_pre_h(zx, zh, HR):
    """Pre-activation of the candidate: (x K_h + b_in_h) + r * (h U_h + b_rec_h), r activated."""
    n = _u64(HR)
    for e in range(n):
        i = _u64(2) * n + e
        zx[i] = zx[i] + zx[n + e] * zh[i]


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _gru_out(zx, hb, hbase, HR):
    """h = z h + (1 - z) hh  (z in the first block, hh activated in the third)."""
    hbs = _u64(hbase)
    n = _u64(HR)
    for e in range(n):
        z = zx[e]
        hb[hbs + e] = z * hb[hbs + e] + (_ONE - z) * zx[_u64(2) * n + e]


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _copy(src, dst, dbase, n):
    db = _u64(dbase)
    for e in range(_u64(n)):
        dst[db + e] = src[e]


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _broadcast_rows(z, nrows, R, v):
    """Row j < nrows of the (nrows, R) block at the start of ``z`` = v[j]."""
    for j in range(nrows):
        vj = v[j]
        off = _u64(j * R)
        for l in range(_u64(R)):
            z[off + l] = vj


# ---------------------------------------------------------------------------------
# the fused kernel
# ---------------------------------------------------------------------------------
@njit(cache=True, fastmath=_FM, error_model="numpy")
def _layer_step(t, cell, act, ract, Wk, B, B1, ioff, d, H, Z1, Zh1, C1, coff, R):
    """One time step of one layer: its input, a row of ones and its own state are rows
    ``ioff ..`` of ``B`` (``[x; 1; h]``); the new state overwrites ``h`` (rows ``ioff + d + 1 ..``).

    ``Wk`` is the layer's packed ``[K; b; U]`` ((d + 1 + H) x gH; GRU ``[K; b_in; U; b_rec]``,
    (d + H + 2) x 3H); ``C1[coff * R ..]`` its LSTM cell state.
    """
    g = 4 if cell == 0 else (3 if cell == 1 else 1)
    gh = g * H
    HR = H * R
    hoff = ioff + d + 1  # first row of this layer's state
    Zk = Z1[:gh * R].reshape((gh, R))
    if cell == 1:
        np.dot(Wk[:d + 1].T, B[ioff:ioff + d + 1], Zk)
        if t == 0:  # h = 0: the recurrent product is its bias
            _broadcast_rows(Zh1, gh, R, Wk[d + H + 1])
        else:
            np.dot(Wk[d + 1:].T, B[hoff:hoff + H + 1], Zh1[:gh * R].reshape((gh, R)))
        _gru_pre_zr(Z1, Zh1, 2 * HR)
        _act_inplace(ract, Z1, 0, 2 * HR)
        _gru_pre_h(Z1, Zh1, HR)
        _act_inplace(act, Z1, 2 * HR, HR)
        _gru_out(Z1, B1, hoff * R, HR)
    else:
        if t == 0:  # h = 0: skip the recurrent half
            np.dot(Wk[:d + 1].T, B[ioff:ioff + d + 1], Zk)
        else:
            np.dot(Wk.T, B[ioff:ioff + d + 1 + H], Zk)
        if cell == 0:
            _act_inplace(ract, Z1, 0, 2 * HR)
            _act_inplace(act, Z1, 2 * HR, HR)
            _act_inplace(ract, Z1, 3 * HR, HR)
            _lstm_cell_out(act, Z1, C1, coff * R, B1, hoff * R, HR)
        else:
            _act_inplace(act, Z1, 0, HR)
            _copy(Z1, B1, hoff * R, HR)


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _packed_rows(cell, d, H):
    """Rows of a layer's packed weights."""
    return d + H + 2 if cell == 1 else d + 1 + H


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _head_error(w, hoff_w, d, n_out, B1, ioff, R, hact, y, n0, nvalid, s, want_pred, pred):
    """The Dense head on the state rows ``[ioff, ioff + d)`` and the summed |error| of the valid windows."""
    Wd = w[hoff_w:hoff_w + d * n_out].reshape((d, n_out))
    bd = w[hoff_w + d * n_out:hoff_w + d * n_out + n_out]
    P = np.empty(n_out * R, dtype=np.float32)
    _broadcast_rows(P, n_out, R, bd)
    for j in range(d):
        hj = (ioff + j) * R
        for o in range(n_out):
            wjo = Wd[j, o]
            po = o * R
            for l in range(R):
                P[po + l] += wjo * B1[hj + l]
    _act_inplace(hact, P, 0, n_out * R)
    err = 0.0
    for o in range(n_out):
        for l in range(nvalid):
            err += abs(np.float64(P[o * R + l]) - np.float64(y[n0 + l, o]))
    if want_pred:
        for l in range(nvalid):
            for o in range(n_out):
                pred[s, n0 + l, o] = P[o * R + l]
    return err


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _state_buffer(n_in, units, R):
    """The rows ``[x; 1; h_0; 1; h_1; ...; h_last; 1]`` of a block (the ones rows set)."""
    depth = units.shape[0]
    total_h = 0
    for k in range(depth):
        total_h += units[k]
    nrows = n_in + total_h + depth + 1
    B1 = np.zeros(nrows * R, dtype=np.float32)
    B = B1.reshape((nrows, R))
    one_row = n_in
    for k in range(depth + 1):
        B[one_row] = _ONE
        if k < depth:
            one_row += units[k] + 1
    return B1, B


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _run_task(s, n0, nvalid, Xt, y, Wp, units, woff, hoff_w, n_out, cell, act, ract, hact, R, want_pred, pred,
              want_h, hout):
    """All steps of all layers, the head and the summed |error| of one block of windows.

    ``Wp[s]`` holds sample ``s``'s weights packed: per layer ``k`` at ``woff[k]`` the
    rows ``[K; b; U]`` ((d + 1 + H) x gH; GRU: ``[K; b_in; U; b_rec]``, (d + H + 2) x 3H),
    then the head kernel (H, n_out) at ``hoff_w`` followed by its bias (n_out).

    The state buffer ``B`` holds the rows ``[x; 1; h_0; 1; h_1; ...; h_last; 1]`` for
    the block's windows: layer ``k`` reads its input, a row of ones and its own state
    as one contiguous slice, so a step is the single product ``[K; b; U]^T @ [x; 1; h]``
    with the bias included (GRU: ``[K; b_in]^T @ [x; 1]`` and ``[U; b_rec]^T @ [h; 1]``).
    With ``want_h`` the last layer's final state of each valid window goes to ``hout[s, n0 + l]``.
    """
    depth = units.shape[0]
    n_in = Xt.shape[1]
    LB = Xt.shape[0]
    g = 4 if cell == 0 else (3 if cell == 1 else 1)
    w = Wp[s]
    total_h = 0
    max_gh = 1
    for k in range(depth):
        total_h += units[k]
        max_gh = max(max_gh, g * units[k])
    B1, B = _state_buffer(n_in, units, R)
    C1 = np.zeros(total_h * R if cell == 0 else 1, dtype=np.float32)
    Z1 = np.empty(max_gh * R, dtype=np.float32)
    Zh1 = np.empty(max_gh * R if cell == 1 else 1, dtype=np.float32)

    for t in range(LB):
        B[:n_in] = Xt[t, :, n0:n0 + R]
        ioff = 0  # first row of this layer's input
        coff = 0
        d = n_in
        for k in range(depth):
            H = units[k]
            Wk = w[woff[k]:woff[k] + _packed_rows(cell, d, H) * g * H].reshape((_packed_rows(cell, d, H), g * H))
            _layer_step(t, cell, act, ract, Wk, B, B1, ioff, d, H, Z1, Zh1, C1, coff, R)
            ioff = ioff + d + 1
            coff += H
            d = H
    if want_h:
        for l in range(nvalid):
            for j in range(d):
                hout[s, n0 + l, j] = B[ioff + j, l]
    return _head_error(w, hoff_w, d, n_out, B1, ioff, R, hact, y, n0, nvalid, s, want_pred, pred)


@njit(cache=True, fastmath=_FM, error_model="numpy")
def _run_group_task(s, n0, nvalid, Xt, y, Wp, units, woff, Wl, last_units, loff, lhoff, n_out, cell, act, ract,
                    hact, R, out):
    """One block of windows of a group of architectures that share all layers but the last.

    The shared layers (``units``, packed in ``Wp[s]`` at ``woff``) run once over every step;
    their last layer's output sequence is kept (LB x d x R, small); then each variant ``v``
    runs its own last layer (``last_units[v]`` units, packed in ``Wl[s]`` at ``loff[v]``, its
    head at ``lhoff[v]``) on that sequence and its head.  Every product and element-wise pass
    is the one :func:`_run_task` runs for that architecture alone, in the same order, so the
    MAEs are the same to the bit.  ``out[v]`` receives variant ``v``'s summed |error|.
    """
    depth = units.shape[0]
    n_in = Xt.shape[1]
    LB = Xt.shape[0]
    g = 4 if cell == 0 else (3 if cell == 1 else 1)
    w = Wp[s]
    wl = Wl[s]
    d = n_in
    total_h = 0
    max_gh = 1
    for k in range(depth):
        total_h += units[k]
        max_gh = max(max_gh, g * units[k])
        d = units[k]
    V = last_units.shape[0]
    for v in range(V):
        max_gh = max(max_gh, g * last_units[v])
    Z1 = np.empty(max_gh * R, dtype=np.float32)
    Zh1 = np.empty(max_gh * R if cell == 1 else 1, dtype=np.float32)
    seq = np.empty((LB, d, R), dtype=np.float32)
    if depth > 0:
        B1, B = _state_buffer(n_in, units, R)
        C1 = np.zeros(total_h * R if cell == 0 else 1, dtype=np.float32)
        for t in range(LB):
            B[:n_in] = Xt[t, :, n0:n0 + R]
            ioff = 0
            coff = 0
            dk = n_in
            for k in range(depth):
                H = units[k]
                Wk = w[woff[k]:woff[k] + _packed_rows(cell, dk, H) * g * H].reshape((_packed_rows(cell, dk, H),
                                                                                      g * H))
                _layer_step(t, cell, act, ract, Wk, B, B1, ioff, dk, H, Z1, Zh1, C1, coff, R)
                ioff = ioff + dk + 1
                coff += H
                dk = H
            seq[t] = B[ioff:ioff + d]
    else:
        for t in range(LB):
            seq[t] = Xt[t, :, n0:n0 + R]
    one = np.ones(1, dtype=np.int64)
    no_pred = np.empty((1, 1, 1), dtype=np.float32)
    for v in range(V):
        H = last_units[v]
        lu = one * H
        Bv1, Bv = _state_buffer(d, lu, R)
        Cv = np.zeros(H * R if cell == 0 else 1, dtype=np.float32)
        Wk = wl[loff[v]:loff[v] + _packed_rows(cell, d, H) * g * H].reshape((_packed_rows(cell, d, H), g * H))
        for t in range(LB):
            Bv[:d] = seq[t]
            _layer_step(t, cell, act, ract, Wk, Bv, Bv1, 0, d, H, Z1, Zh1, Cv, 0, R)
        out[v] = _head_error(wl, lhoff[v], H, n_out, Bv1, d + 1, R, hact, y, n0, nvalid, s, False, no_pred)


@njit(cache=True, inline="always")
def _block(task, nblocks, R, N):
    """Sample, block, first window, valid windows and width of a task; the last block is only as wide as
    the windows left, rounded up to 8 (``Xt`` is padded)."""
    s = task // nblocks
    blk = task - s * nblocks
    n0 = blk * R
    nvalid = min(R, N - n0)
    return s, blk, n0, nvalid, min(R, ((nvalid + 7) // 8) * 8)


@njit(parallel=True, cache=True, error_model="numpy")
def _group_kernel(Xt, y, Wp, units, woff, Wl, last_units, loff, lhoff, cell, act, ract, hact, R, partial):
    V, S, nblocks = partial.shape
    N = y.shape[0]
    n_out = y.shape[1]
    for task in prange(S * nblocks):
        s, blk, n0, nvalid, Rt = _block(task, nblocks, R, N)
        out = np.empty(V, dtype=np.float64)
        _run_group_task(s, n0, nvalid, Xt, y, Wp, units, woff, Wl, last_units, loff, lhoff, n_out, cell, act, ract,
                        hact, Rt, out)
        for v in range(V):
            partial[v, s, blk] = out[v]


@njit(parallel=True, cache=True, error_model="numpy")
def _forward_kernel(Xt, y, Wp, units, woff, hoff_w, cell, act, ract, hact, R, want_pred, pred, want_h, hout,
                    partial):
    S, nblocks = partial.shape
    N = y.shape[0]
    n_out = y.shape[1]
    for task in prange(S * nblocks):
        s, blk, n0, nvalid, Rt = _block(task, nblocks, R, N)
        partial[s, blk] = _run_task(s, n0, nvalid, Xt, y, Wp, units, woff, hoff_w, n_out, cell, act, ract, hact, Rt,
                                    want_pred, pred, want_h, hout)


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
            mk = max(mk, g * H * (max(d, H) + 1))
        else:
            mk = max(mk, g * H * (d + 1 + H))
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
                 hidden=False, block=None):
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
    hidden : bool
        Also return the last layer's hidden state at the last time step of every window
        (the features of the echo-state readout), written by the same pass.
    block : int, optional
        Upper bound on windows per task (tuning; default 64).

    Returns
    -------
    maes : float64 array (S,)
        ``mean |pred - y|`` over windows and target columns (inf/nan where the
        predictions are not finite).
    pred : float32 array (S, N, n_out)
        Only with ``predictions=True``.
    h_last : float32 array (S, N, H_last)
        Only with ``hidden=True`` (after ``pred`` when both are asked).
    """
    args = _forward_args(X, y, weights, cell, activation, recurrent_activation, head_activation, predictions, block,
                         hidden)
    N, n_out = args[1].shape if len(args) > 3 else (0, 0)
    if len(args) == 3:  # no samples: (maes, pred, h_last)
        maes, pred, hout = args
    else:
        _forward_kernel(*args)
        pred, hout, partial = args[-4], args[-2], args[-1]
        maes = partial.sum(axis=1) / float(N * n_out)
    extra = ((pred,) if predictions else ()) + ((hout,) if hidden else ())
    return (maes, *extra) if extra else maes


def _forward_args(X, y, weights, cell, activation, recurrent_activation, head_activation, predictions, block,
                  hidden=False):
    """The checked, packed arguments of ``_forward_kernel`` for :func:`forward_maes` (the predictions, the hidden
    states and the partial sums it fills are among the last four), or ``(maes, pred, h_last)`` when there are no
    samples."""
    cell_code = _code(cell, CELL_CODES, "cell")
    if block is not None and (isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1):
        raise ValueError(f"forward_maes: 'block' must be a positive integer or None, got {block!r}.")
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
    units, d = _check_layers(weights, depth, cell, S, n_in, "forward_maes")
    Wd, bd = weights[-2], weights[-1]
    if Wd.shape != (S, d, n_out) or bd.shape != (S, n_out):
        raise ValueError(f"forward_maes: head kernel/bias must have shapes {(S, d, n_out)} and {(S, n_out)}, "
                         f"got {Wd.shape} and {bd.shape}.")
    if S == 0:
        return (np.empty(0, dtype=np.float64), np.empty((0, N, n_out), dtype=np.float32),
                np.empty((0, N, d), dtype=np.float32))

    Wp, woff, hoff_w = _pack(weights, depth, cell, S)
    R = choose_block(cell, n_in, units, N, block)
    nblocks = -(-N // R)
    Xt = np.zeros((LB, n_in, nblocks * R), dtype=np.float32)
    Xt[:, :, :N] = X.transpose(1, 2, 0)
    pred = np.empty((S, N, n_out) if predictions else (1, 1, 1), dtype=np.float32)
    hout = np.empty((S, N, d) if hidden else (1, 1, 1), dtype=np.float32)
    partial = np.empty((S, nblocks), dtype=np.float64)
    i64 = np.int64
    return (Xt, y, Wp, np.asarray(units, dtype=i64), np.asarray(woff, dtype=i64), i64(hoff_w),
            i64(cell_code), i64(act), i64(ract), i64(hact), i64(R), bool(predictions), pred, bool(hidden), hout,
            partial)


def _pack(weights, depth, cell, S):
    """Every sample's weights in one row: per layer ``[K; b; U]`` (GRU: ``[K; b_in; U; b_rec]``), then
    whatever follows the layers (the head kernel and bias); returns the rows, the layers' offsets and the
    offset of what follows."""
    parts = []
    woff = []
    for k in range(depth):
        K, U, b = weights[3 * k:3 * k + 3]
        woff.append(sum(p.size // S for p in parts))
        parts += [K, b[:, 0], U, b[:, 1]] if cell == "gru" else [K, b, U]
    hoff_w = sum(p.size // S for p in parts)
    parts += list(weights[3 * depth:])
    Wp = np.empty((S, max(1, sum(p.size // S for p in parts))), dtype=np.float32)
    pos = 0
    for p in parts:
        n = p.size // S
        Wp[:, pos:pos + n] = p.reshape(S, n)
        pos += n
    return Wp, woff, hoff_w


def _check_layers(weights, depth, cell, S, d, where):
    g = _GATES[cell]
    units = []
    for k in range(depth):
        K, U, b = weights[3 * k:3 * k + 3]
        if U.ndim != 3 or U.shape[2] != g * U.shape[1] or U.shape[1] < 1:
            raise ValueError(f"{where}: layer {k} recurrent kernel must have shape (S, H, {g}H), got {U.shape}.")
        H = U.shape[1]
        bshape = (S, 2, 3 * H) if cell == "gru" else (S, g * H)
        for arr, shape, what in ((K, (S, d, g * H), "kernel"), (U, (S, H, g * H), "recurrent kernel"),
                                 (b, bshape, "bias")):
            if arr.shape != shape:
                raise ValueError(f"{where}: layer {k} {what} must have shape {shape}, got {arr.shape}.")
        units.append(H)
        d = H
    return units, d


def forward_maes_group(X, y, shared, variants, *, cell, activation, recurrent_activation, head_activation,
                       block=None):
    """MAEs of architectures that share every layer but the last, for every weight sample.

    Parameters
    ----------
    X, y
        As :func:`forward_maes`.
    shared : list of float32 arrays (S, *shape)
        The shared layers' weights (3 per layer, Keras order); empty for one-layer architectures.
    variants : list of lists of float32 arrays (S, *shape)
        Per architecture, its last layer's kernel, recurrent kernel and bias, then its head
        kernel and bias.
    cell, activation, recurrent_activation, head_activation, block
        As :func:`forward_maes`.

    Returns
    -------
    maes : float64 array (V, S)
        Row ``v`` equals ``forward_maes`` of ``shared + variants[v]`` exactly (same products,
        same order), computed with the shared layers run once per block of windows.
    """
    S, calls = _group_calls(X, y, shared, variants, cell, activation, recurrent_activation, head_activation, block)
    maes = np.empty((len(variants), S), dtype=np.float64)
    N, n_out = np.shape(y)
    for idx, args in calls:
        _group_kernel(*args)
        maes[idx] = args[-1].sum(axis=2) / float(N * n_out)
    return maes


def _group_calls(X, y, shared, variants, cell, activation, recurrent_activation, head_activation, block):
    """The checked, packed ``_group_kernel`` calls of :func:`forward_maes_group`: ``(S, [(variant indices,
    arguments), ...])``, one call per block size (the last argument is the partial sums it fills)."""
    cell_code = _code(cell, CELL_CODES, "cell")
    act = _code(activation, ACTIVATION_CODES, "activation")
    ract = _code(recurrent_activation, ACTIVATION_CODES, "recurrent_activation")
    hact = _code(head_activation, ACTIVATION_CODES, "head_activation")
    X = _as_f32(X, "X")
    y = _as_f32(y, "y")
    if X.ndim != 3 or y.ndim != 2 or y.shape[0] != X.shape[0]:
        raise ValueError(f"forward_maes_group: 'X' (N, LB, n_in) and 'y' (N, n_out) do not fit: {X.shape}, {y.shape}.")
    N, LB, n_in = X.shape
    n_out = y.shape[1]
    if len(shared) % 3 != 0 or not variants or any(len(v) != 5 for v in variants):
        raise ValueError("forward_maes_group: 'shared' must hold 3 arrays per layer and every variant 5 arrays.")
    shared = [_as_f32(w, "shared") for w in shared]
    variants = [[_as_f32(w, "variants") for w in v] for v in variants]
    S = variants[0][0].shape[0]
    depth = len(shared) // 3
    units, d = _check_layers(shared, depth, cell, S, n_in, "forward_maes_group")
    last = []
    for v in variants:
        (H,), _ = _check_layers(v[:3], 1, cell, S, d, "forward_maes_group")
        if v[3].shape != (S, H, n_out) or v[4].shape != (S, n_out):
            raise ValueError(f"forward_maes_group: head kernel/bias must have shapes {(S, H, n_out)} and "
                             f"{(S, n_out)}, got {v[3].shape} and {v[4].shape}.")
        last.append(H)
    if S == 0:
        return S, []
    Wp, woff, _ = _pack(shared, depth, cell, S)  # one padding column when nothing is shared
    i64 = np.int64
    # The block size of each architecture alone decides its products' shapes: run one kernel per block size.
    by_block: dict[int, list[int]] = {}
    for i, H in enumerate(last):
        by_block.setdefault(choose_block(cell, n_in, units + [H], N, block), []).append(i)
    calls = []
    for R, idx in by_block.items():
        packs = [_pack(variants[i], 1, cell, S) for i in idx]
        loff, lhoff, pos = [], [], 0
        for Wv, _, h in packs:
            loff.append(pos)
            lhoff.append(pos + h)
            pos += Wv.shape[1]
        Wl = np.concatenate([Wv for Wv, _, _ in packs], axis=1)
        nblocks = -(-N // R)
        Xt = np.zeros((LB, n_in, nblocks * R), dtype=np.float32)
        Xt[:, :, :N] = X.transpose(1, 2, 0)
        partial = np.empty((len(idx), S, nblocks), dtype=np.float64)
        calls.append((idx, (Xt, y, Wp, np.asarray(units, dtype=i64), np.asarray(woff, dtype=i64),
                            Wl, np.asarray([last[i] for i in idx], dtype=i64), np.asarray(loff, dtype=i64),
                            np.asarray(lhoff, dtype=i64), i64(cell_code), i64(act), i64(ract), i64(hact), i64(R),
                            partial)))
    return S, calls


def _warm_inputs():
    X = np.zeros((3, 2, 1), dtype=np.float32)
    y = np.zeros((3, 1), dtype=np.float32)
    w = [np.zeros((1, 1, 4), np.float32), np.zeros((1, 1, 4), np.float32), np.zeros((1, 4), np.float32),
         np.zeros((1, 1, 1), np.float32), np.zeros((1, 1), np.float32)]
    return X, y, w


_WARM_ACTS = dict(activation="tanh", recurrent_activation="sigmoid", head_activation="tanh")


def warmup(group: bool = False) -> None:
    """Compile (or load from the disk cache) the forward kernel, and with ``group=True`` the shared-prefix
    kernel of :func:`forward_maes_group` as well (:func:`warmup_group`).

    One compiled kernel serves every cell, activation and depth."""
    X, y, w = _warm_inputs()
    forward_maes(X, y, w, cell="lstm", **_WARM_ACTS)
    if group:
        warmup_group()


def warmup_group() -> None:
    """Compile (or load from the disk cache) the shared-prefix kernel of :func:`forward_maes_group` (a sweep's)."""
    X, y, w = _warm_inputs()
    forward_maes_group(X, y, [], [w], cell="lstm", **_WARM_ACTS)


def compiled(group: bool = False) -> bool:
    """Whether :func:`warmup` (and so every :func:`forward_maes` call) needs no compilation: the kernel is
    loaded in this process or held by Numba's disk cache (:func:`mae_ort.kernels.is_cached`); with
    ``group=True``, the shared-prefix kernel of :func:`forward_maes_group` as well."""
    X, y, w = _warm_inputs()
    if not is_cached(_forward_kernel, _forward_args(X, y, w, "lstm", *_WARM_ACTS.values(), False, None, False)):
        return False
    if not group:
        return True
    _, calls = _group_calls(X, y, [], [w], "lstm", *_WARM_ACTS.values(), None)
    return is_cached(_group_kernel, calls[0][1])
