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
    colorbar = [ax for ax in fig.axes if ax.get_ylabel() == "units of layer 2"]
    assert colorbar
    colours = {tuple(line.get_color()) for line in panels[0].get_lines()}
    assert len(colours) == 3
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
    with pytest.raises(DataError, match="several models"):
        heatmap(cells)
    with pytest.raises(InvalidParameterError, match="'y'"):
        p_vs_units(frame, y="nope")
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

