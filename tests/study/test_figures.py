"""The paper's figures: files written, axes labelled, clear errors on unsuitable rows."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest

from mae_ort.errors import DataError, InvalidParameterError
from mae_ort.model.architecture import Architecture
from mae_ort.results.store import Settings, open_store
from mae_ort.sampling.sampler import SamplingResult
from mae_ort.study.figures import FIGURES, figure, heatmap, p_vs_units, p_vs_units_2layer, save

PNG = b"\x89PNG\r\n\x1a\n"


def _result(units, lb, rng) -> SamplingResult:
    maes = rng.uniform(0.3, 0.9, 6)
    log_p = float(-5 - 20 * rng.random())
    return SamplingResult(
        arch=Architecture(units, recurrent_activation="hard_sigmoid_keras2"), look_back=lb, samples=6, seed=1,
        threshold=0.01, lower=0.0, upper=2.0, fit="moments", init="normal:0,1", maes=maes, mean=float(maes.mean()),
        sd=float(maes.std()), loc=float(maes.mean()), scale=float(maes.std()), p=math.exp(log_p), log_p=log_p,
        log_p_exact=log_p, n_nonfinite=0, n_outside=0, seconds=0.1, runtime="onnxruntime", device="cpu",
        series="sine", windows=990,
    )


@pytest.fixture(scope="module")
def frame():
    rng = np.random.default_rng(0)
    st = open_store(None)
    sid = st.add_settings(Settings(series="sine", series_fingerprint="f", samples=6, threshold=0.01, lower=0,
                                   upper=2, fit="moments", init="normal:0,1", seed=0))
    rows = [_result((u,), lb, rng) for u in range(1, 11) for lb in (1, 5, 10)]
    rows += [_result((u1, u2), lb, rng) for u1, u2 in itertools.product((7, 11, 15, 19), (7, 15, 31))
             for lb in (1, 10, 20, 30)]
    rows += [_result((u1, u2, u3), 1, rng) for u1, u2, u3 in itertools.product((7, 9), (7, 9), (7, 9))]
    st.add_results(sid, rows)
    return st.frame(sid)


def _check_png(path):
    data = path.read_bytes()
    assert data[:8] == PNG and len(data) > 5000


def test_fig2_p_vs_units(frame, tmp_path):
    fig = p_vs_units(frame)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "units of layer 1" and ax.get_ylabel().startswith("p = P(MAE < threshold)")
    assert "one-layer" in ax.get_title() and "LSTM" in ax.get_title()
    assert len(ax.get_lines()) == 3  # one line per look-back
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["LB 1", "LB 5", "LB 10"]
    x, _ = ax.get_lines()[0].get_data()
    assert list(x) == list(range(1, 11))
    out = save(fig, tmp_path / "fig2.png")
    _check_png(out)


def test_fig2_log_p_and_look_back_filter(frame):
    fig = p_vs_units(frame, y="log_p", look_back=[1, 10], log_y=False)
    ax = fig.axes[0]
    assert ax.get_ylabel() == "log p" and len(ax.get_lines()) == 2
    assert p_vs_units(frame, log_y=True).axes[0].get_yscale() == "log"


def test_fig3_one_panel_per_look_back(frame, tmp_path):
    fig = p_vs_units_2layer(frame)
    panels = [ax for ax in fig.axes if ax.get_visible() and ax.get_title().startswith("look-back")]
    assert [ax.get_title() for ax in panels] == ["look-back 1", "look-back 10", "look-back 20", "look-back 30"]
    for ax in panels:
        assert len(ax.get_lines()) == 3  # one colour per second-layer width
        assert ax.get_ylabel().startswith("p =")
        assert ax.get_xlabel() == "units of layer 1"
    # Discrete second-layer widths: a legend with one entry per width, no continuous colour bar (issue 10).
    assert len(fig.axes) == 4 and not [ax for ax in fig.axes if ax.get_ylabel() == "units of layer 2"]
    (legend,) = fig.legends
    assert legend.get_title().get_text() == "units of layer 2"
    assert [t.get_text() for t in legend.get_texts()] == ["7", "15", "31"]
    colours = {tuple(line.get_color()) for line in panels[0].get_lines()}
    assert len(colours) == 3
    for ax in panels:  # the same width has the same colour in every panel
        assert {line.get_label(): tuple(line.get_color()) for line in ax.get_lines()} == \
            {line.get_label(): tuple(line.get_color()) for line in panels[0].get_lines()}
    _check_png(save(fig, tmp_path / "fig3.png"))


def test_heatmap_axes_and_colorbar(frame, tmp_path):
    fig = heatmap(frame, x="u1", y="u2", look_back=10)
    ax = fig.axes[0]
    assert ax.get_xlabel() == "units of layer 1" and ax.get_ylabel() == "units of layer 2"
    assert "look-back 10" in ax.get_title() and "depth 2" in ax.get_title()
    assert fig.axes[1].get_ylabel() == "log p (mean)"
    mesh = ax.collections[0]
    assert mesh.get_array().shape == (3 * 4,) or mesh.get_array().shape == (3, 4)
    _check_png(save(fig, tmp_path / "heat.png"))


def test_heatmap_look_back_axis_and_third_layer(frame):
    fig = heatmap(frame, x="u1", y="look_back", depth=2, agg="max")
    assert fig.axes[0].get_ylabel() == "look-back" and "max over u2" in fig.axes[0].get_title()
    fig = heatmap(frame, x="u2", y="u3")
    assert "depth 3" in fig.axes[0].get_title()


def test_errors(frame, tmp_path):
    with pytest.raises(DataError, match="one-layer"):
        p_vs_units(frame[frame.depth == 2])
    with pytest.raises(DataError, match="two-layer"):
        p_vs_units_2layer(frame[frame.depth == 1])
    with pytest.raises(DataError, match="look-back 7"):
        p_vs_units(frame, look_back=7)
    mixed = frame.copy()
    mixed.loc[mixed.index[:3], "settings_id"] = "other"
    with pytest.raises(DataError, match="--settings"):
        p_vs_units(mixed)
    cells = frame.copy()
    cells.loc[cells.index[:3], "cell"] = "gru"
    with pytest.raises(DataError, match="mix 2 models .*gru.*lstm|mix 2 models .*lstm.*gru"):
        heatmap(cells)
    with pytest.raises(InvalidParameterError, match="'y' parameter of p-vs-units"):
        p_vs_units(frame, y="nope")
    with pytest.raises(InvalidParameterError, match="'value' parameter of heatmap"):
        heatmap(frame, value="nope")
    with pytest.raises(InvalidParameterError):
        heatmap(frame, x="u1", y="u1")
    with pytest.raises(InvalidParameterError):
        heatmap(frame, x="u1", y="colour")
    with pytest.raises(InvalidParameterError):
        heatmap(frame, agg="sum")
    with pytest.raises(DataError, match="4 or more layers"):
        heatmap(frame, x="u1", y="u4")
    with pytest.raises(InvalidParameterError):
        figure("fig9", frame)
    with pytest.raises(DataError, match="does not exist"):
        save(p_vs_units(frame), tmp_path / "no" / "f.png")
    assert set(FIGURES) == {"p-vs-units", "p-vs-units-2layer", "heatmap"}



def test_p_is_drawn_on_a_log_axis_by_default(frame):
    assert p_vs_units(frame).axes[0].get_yscale() == "log"  # a linear p axis is one or two spikes
    assert p_vs_units(frame, log_y=False).axes[0].get_yscale() == "linear"
    assert p_vs_units(frame, y="log_p").axes[0].get_yscale() == "linear"  # log p is negative
    panels = [ax for ax in p_vs_units_2layer(frame).axes if ax.get_title().startswith("look-back")]
    assert {ax.get_yscale() for ax in panels} == {"log"}


def test_rows_with_p_zero_are_left_out_of_a_log_axis_and_counted(frame):
    zero = frame.copy()
    one_layer = zero.index[zero.depth == 1]
    zero.loc[one_layer[:2], "p"] = 0.0
    ax = p_vs_units(zero).axes[0]
    drawn = sum(len(line.get_xdata()) for line in ax.get_lines())
    assert drawn == len(one_layer) - 2 and "2 rows with p <= 0 not drawn" in ax.get_title()
    everything = frame.copy()
    everything["p"] = 0.0
    with pytest.raises(DataError, match="log_p"):
        p_vs_units(everything)


def test_too_sparse_subsets_say_what_is_missing(frame):
    # One width per look-back: no line could be drawn.
    one_each = frame[frame.depth == 1].groupby("look_back").head(1)
    with pytest.raises(DataError, match="p-vs-units needs at least two widths at one look-back") as e:
        p_vs_units(one_each)
    assert "\n" not in str(e.value) and "--sample" in str(e.value)
    # Two-layer rows whose second-layer widths never repeat at a look-back.
    two = frame[frame.depth == 2]
    sparse = two.drop_duplicates(["look_back", "u2"])
    with pytest.raises(DataError, match="two first-layer widths for one second-layer width"):
        p_vs_units_2layer(sparse)
    # Look-backs that have a line keep their panel; the others are named, not drawn empty.
    partial = two[(two.look_back != 20) | (two.u1 == 7)]
    fig = p_vs_units_2layer(partial)
    titles = [ax.get_title() for ax in fig.axes if ax.get_visible()]
    assert titles == ["look-back 1", "look-back 10", "look-back 30"]
    assert "look-back 20: too few rows" in fig._suptitle.get_text()
    # A heat map of one cell, or with few of its cells filled (a diagonal: 12 of 12 x 12).
    with pytest.raises(DataError, match="only 1 of its 1 cells"):
        heatmap(two.iloc[[0]], x="u1", y="u2")
    st = open_store(None)
    sid = st.add_settings(Settings(series="sine", series_fingerprint="f", samples=6, threshold=0.01, lower=0,
                                   upper=2, fit="moments", init="normal:0,1", seed=0))
    rng = np.random.default_rng(1)
    st.add_results(sid, [_result((u, u), 1, rng) for u in range(1, 13)])
    with pytest.raises(DataError, match=r"only 12 of its 144 cells \(12 x 12\) have rows"):
        heatmap(st.frame(sid), x="u1", y="u2")
    st.add_results(sid, [_result((u, u + 1), 1, rng) for u in range(1, 12)])
    heatmap(st.frame(sid), x="u1", y="u2")  # 23 of 156 cells: drawn


def test_save_replaces_the_file_at_once(frame, tmp_path):
    out = tmp_path / "f.png"
    out.write_bytes(b"old")
    save(p_vs_units(frame), out)
    _check_png(out)
    assert [p.name for p in tmp_path.iterdir()] == ["f.png"]  # no temporary file left
