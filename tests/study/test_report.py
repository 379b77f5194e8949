"""Report: correlations equal scipy's on the joined data, the paper's layout, files (Table 4's measurement:
tests/study/test_jobs.py)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from mae_ort.cli import main
from mae_ort.data import sine_split
from mae_ort.study.train import TrainSettings

SPLIT = sine_split(120, 20)


def _db(tmp_path, samples=100, preset="paper", season=None):
    """Screened rows on SPLIT's training part and synthetic trained rows at budgets 1 and 10."""
    from mae_ort.results import open_store
    from mae_ort.screening.space import grid
    from mae_ort.screening.sweep import screen
    from mae_ort.study import validation

    path = tmp_path / "r.sqlite"
    df = screen(grid(units="2:4", layers="1:2", look_back="1,2", preset=preset), SPLIT.train, store=str(path),
                samples=samples, workers=1)
    rng = np.random.default_rng(0)
    store = open_store(path, create=False)
    settings = TrainSettings()
    for sid, mean in zip(df.id, df["mean"]):
        budgets = [dict(epochs=e, test_mae=float(0.6 - 0.1 * mean * (e > 1) + 0.01 * rng.normal()),
                        test_mae_recursive=float(0.7 + 0.01 * rng.normal()), train_mae=0.5, monitor_loss=0.3,
                        epochs_run=e, best_epoch=e, seconds=0.1 * e) for e in (1, 10)]
        result = {"sampling_id": int(sid), "budgets": budgets, "stopped_epoch": None}
        store.add_trained(validation._trained_rows(
            result, skey=validation.split_key(SPLIT), tkey=settings.key(), seed=0, max_epochs=10,
            split_json=json.dumps({**SPLIT.to_dict(), "spec": SPLIT.spec, **({"season": season} if season else {})}),
            settings_json=json.dumps(settings.to_dict()), test_sampling_id=None))
    store.close()
    return path


@pytest.fixture
def db(tmp_path):
    return _db(tmp_path)


def test_correlations_equal_scipy_on_the_joined_data(db):
    from mae_ort.study.report import add_fits, correlations
    from mae_ort.study.validation import joined

    df = add_fits(joined(db))
    assert len(df) == 2 * 24
    corr = correlations(df)
    assert set(corr.statistic) == {"mean", "sd", "log_p", "log_p_exact", "log_p_mle"}
    for (depth, epochs, s, method), value in corr.set_index(["depth", "epochs", "statistic", "method"]).value.items():
        g = df[(df.depth == depth) & (df.epochs == epochs)]
        f = stats.pearsonr if method == "pearson" else stats.spearmanr
        assert value == pytest.approx(f(g[s], g.test_mae)[0], abs=1e-12)
    # the paper's values sit beside ours
    row = corr[(corr.depth == 2) & (corr.epochs == 10) & (corr.statistic == "log_p") & (corr.method == "pearson")]
    assert row.paper.iloc[0] == -0.635
    g = df[(df.depth == 1) & (df.epochs == 1)]
    first = corr[(corr.depth == 1) & (corr.epochs == 1)].iloc[0]
    assert first.mae_mean == pytest.approx(g.test_mae.mean()) and first.mae_sd == pytest.approx(g.test_mae.std())


def test_add_fits_recomputes_the_stored_log_p(db):
    from mae_ort.study.report import add_fits
    from mae_ort.study.validation import joined

    raw = joined(db)
    df = add_fits(raw)
    np.testing.assert_allclose(df.log_p, raw.log_p, rtol=1e-12)
    np.testing.assert_allclose(df.log_p_exact, raw.log_p_exact, rtol=1e-9)
    assert np.isfinite(df.log_p_mle).all()


def test_write_report(db, tmp_path):
    from mae_ort.study.report import write_report

    out = tmp_path / "rep"
    readme = write_report(db, out, title="tiny", notes="Scale: tiny.")
    text = readme.read_text()
    for f in ("correlations.csv", "trained.csv", "scatter-depth1.png", "scatter-depth2.png"):
        assert (out / f).stat().st_size > 0
    assert "# tiny" in text and "Scale: tiny." in text and "## 1-layer study" in text and "## 2-layer study" in text
    assert "-0.447" in text  # the paper's 1-layer, 1-epoch Mean r beside ours
    assert "Where our numbers differ" in text and "Table 4" in text and "Versions:" in text
    assert text.index("## Verdict") < text.index("## Did the networks train?") < text.index("## 1-layer study")
    assert "the training mean →" in text and "persistence" in text  # the baselines beside the trained MAEs
    for f in ("evidence.csv", "decisions.csv"):
        assert (out / f).stat().st_size > 0
    recursive = write_report(db, tmp_path / "rec", test_mode="recursive")
    assert "test MAE: recursive" in recursive.read_text()


def test_the_paper_is_only_drawn_beside_the_papers_settings(tmp_path):
    from mae_ort.study.report import write_report

    db = _db(tmp_path, samples=12)
    text = write_report(db, tmp_path / "rep").read_text()
    assert "not sampled with the paper's settings (samples 12 (paper: 100))" in text
    assert "-0.447" not in text and "Where our numbers differ" not in text


def test_table4_shows_the_papers_columns_only_beside_the_papers_series(db, tmp_path):
    from mae_ort.study.report import write_report

    def table4(text):
        part = text[text.index("## Table 4"):]
        return [line for line in part.splitlines() if line.startswith("|")]

    with_paper = table4(write_report(db, tmp_path / "sine").read_text())
    assert "paper: time (s)" in with_paper[0] and with_paper[0].count("|") == with_paper[1].count("|") == 8
    assert any("| 996 | 127 |" in line for line in with_paper)  # the paper's training row (1000 epochs)
    alone = table4(write_report(db, tmp_path / "own", paper=False).read_text())
    assert "paper" not in alone[0] and all(line.count("|") == 6 for line in alone)
    assert not any("996" in line for line in alone)


def test_baselines_are_the_trivial_predictors():
    from mae_ort.study.evidence import baseline_maes

    te = SPLIT.test_windows(3)
    y = te.y[:, 0].astype(float)
    b = baseline_maes(SPLIT, 3)
    assert b["zero"] == pytest.approx(np.abs(y).mean())
    assert b["train_mean"] == pytest.approx(np.abs(y - SPLIT.train.targets.mean()).mean())
    prev = np.concatenate([SPLIT.train.targets[-1:, 0], SPLIT.test.targets[:-1, 0]])  # the point before each
    assert b["persistence"] == pytest.approx(np.abs(y - prev).mean(), rel=1e-6)


def test_table_layout_is_the_papers(db):
    from mae_ort.study.report import add_fits, correlations, study_table
    from mae_ort.study.validation import joined

    table = study_table(correlations(add_fits(joined(db))), 1).splitlines()
    assert table[0].startswith("| epochs | n | Mean r (paper) | Mean r | Mean ρ | Sd r (paper)")
    assert table[2].startswith("| 1 | 6 | -0.447 |") and table[3].startswith("| 10 | 6 | -0.726 |")


def test_differences_are_said_plainly():
    import pandas as pd

    from mae_ort.study.report import differences

    corr = pd.DataFrame([
        dict(depth=1, epochs=100, statistic="log_p", method="pearson", value=0.3, n=10, mae_mean=0.13),
        dict(depth=1, epochs=100, statistic="mean", method="pearson", value=-0.2, n=10, mae_mean=0.13),
        dict(depth=1, epochs=100, statistic="sd", method="pearson", value=-0.6, n=10, mae_mean=0.13),
    ])
    out = differences(corr)
    assert any("opposite sign" in d and "log p" in d for d in out)
    assert any("Mean" in d and "weaker" in d for d in out)
    assert not any("Sd" in d for d in out)


def test_cli_report_errors_are_one_line(capsys, tmp_path, db):
    from mae_ort.results.store import open_store

    empty = tmp_path / "empty.sqlite"
    open_store(str(empty)).close()
    for args, msg in (([str(tmp_path / "none.sqlite")], "no results database"),
                      ([str(empty)], "no trained architectures")):
        code = main(["report", "--db", *args, "--out", str(tmp_path / "o")])
        err = capsys.readouterr().err
        assert code == 2 and err.count("\n") == 1 and msg in err
    code = main(["report", "--db", str(db), "--out", str(tmp_path / "o2"), "--notes", str(tmp_path / "nope.md")])
    assert code == 2 and "notes file" in capsys.readouterr().err


def test_cli_report_writes(capsys, tmp_path, db):
    code = main(["report", "--db", str(db), "--out", str(tmp_path / "o")])
    assert code == 0 and (tmp_path / "o" / "README.md").exists()


def _calibration(text):
    part = text[text.index("## Did the networks train?"):]
    return part[:part.index("\n## ", 5)]


def test_the_report_rebuilds_the_baselines_with_the_stored_season(tmp_path, monkeypatch):
    from mae_ort.study import baselines
    from mae_ort.study.report import write_report

    monkeypatch.setattr(baselines, "statsmodels_available", lambda: False)  # ETS/ARIMA: tested in test_baselines
    db = _db(tmp_path, season=10)  # the sine repeats every 10 points
    with pytest.warns(UserWarning, match="mae-ort\\[baselines\\]"):
        part = _calibration(write_report(db, tmp_path / "rep").read_text())
    assert "seasonal naive (the value 10 steps back) → 0.0000" in part and "persistence → 0.3804" \
        in part
    rows = {b.look_back: b.test_mae for b in baselines.evaluate(SPLIT, look_backs=(1, 2), statistical=False)
            if b.name == "ridge_ar"}
    assert f"look-back 1 → {rows[1]:.4f}, look-back 2 → {rows[2]:.4f}" in part
    # each network is matched with the ridge at its own look-back: the column is their mean, the count is by hand
    trained = pd.read_csv(tmp_path / "rep" / "trained.csv")
    g = trained[(trained.depth == 1) & (trained.epochs == 10)]
    r = g.look_back.map(rows).to_numpy()
    line = next(x for x in part.splitlines() if x.startswith("| paper | 1 | 10 |"))
    assert line.rstrip(" |").endswith(f"| {r.mean():.3f} | {int((g.mae < r).sum())} of {len(g)}")
    # --season overrides the stored one
    with pytest.warns(UserWarning):
        part = _calibration(write_report(db, tmp_path / "rep12", season=12).read_text())
    assert "the value 12 steps back" in part


def test_a_baseline_that_cannot_be_fitted_is_named_with_why(tmp_path, capsys):
    db = _db(tmp_path, season=60)  # ETS and ARIMA need two seasons and 2 more: 122 of the 120 training points
    code = main(["report", "--db", str(db), "--out", str(tmp_path / "o")])
    part = _calibration((tmp_path / "o" / "README.md").read_text())
    assert code == 0 and "Traceback" not in capsys.readouterr().err
    if baselines_available():
        assert ("Not fitted: exponential smoothing: exponential smoothing needs at least 122 training points (two "
                "full seasons of 60 and 2 more); the training part has 120; ARIMA: ARIMA needs at least 122") in part


def baselines_available():
    from mae_ort.study.baselines import statsmodels_available

    return statsmodels_available()


@pytest.mark.parametrize("season", ["1", "121"])
def test_cli_report_bad_season_is_one_line_and_writes_nothing(capsys, tmp_path, db, season):
    code = main(["report", "--db", str(db), "--out", str(tmp_path / "o"), "--season", season])
    err = capsys.readouterr().err
    assert code == 2 and len(err.strip().splitlines()) == 1
    assert "The 'season' parameter of report must be an int in the range [2, 120]" in err
    assert not (tmp_path / "o").exists()


# -- repeated trainings ----------------------------------------------------------------------------------

# 6 one-layer architectures x 3 seeds (columns: seeds 0, 1, 2), at budget 10
SEED_MAES = np.array([
    [0.30, 0.34, 0.20],
    [0.10, 0.12, 0.50],
    [0.25, 0.21, 0.22],
    [0.40, 0.33, 0.60],
    [0.05, 0.31, 0.07],
    [0.15, 0.11, 0.30],
])


def _seeds_db(tmp_path):
    """Screened rows on SPLIT's training part; the one-layer ones trained with seeds 0, 1, 2 (SEED_MAES)."""
    from mae_ort.results import open_store
    from mae_ort.screening.space import grid
    from mae_ort.screening.sweep import screen
    from mae_ort.study import validation

    path = tmp_path / "s.sqlite"
    df = screen(grid(units="2:4", layers="1", look_back="1,2"), SPLIT.train, store=str(path), samples=20,
                workers=1)
    ids = sorted(int(i) for i in df.id)
    store = open_store(path, create=False)
    settings = TrainSettings()
    for i, sid in enumerate(ids):
        for seed in range(3):
            budgets = [dict(epochs=10, test_mae=float(SEED_MAES[i, seed]), test_mae_recursive=0.7, train_mae=0.5,
                            monitor_loss=0.3, epochs_run=10, best_epoch=10, seconds=0.1)]
            store.add_trained(validation._trained_rows(
                {"sampling_id": sid, "budgets": budgets, "stopped_epoch": None},
                skey=validation.split_key(SPLIT), tkey=settings.key(), seed=seed, max_epochs=10,
                split_json=json.dumps({**SPLIT.to_dict(), "spec": SPLIT.spec}),
                settings_json=json.dumps(settings.to_dict()), test_sampling_id=None))
    store.close()
    return path, ids


def test_repeated_trainings_are_summarised_by_their_median(tmp_path):
    from mae_ort.study.report import _paper_style_rows, add_fits, score_frame
    from mae_ort.study.validation import joined

    db, ids = _seeds_db(tmp_path)
    fitted = add_fits(joined(db))
    sf = score_frame(fitted, forward=False).sort_values("sampling_id")
    assert list(sf.sampling_id) == ids and (sf.repeats == 3).all()
    np.testing.assert_allclose(sf.mae, np.median(SEED_MAES, axis=1), rtol=0, atol=1e-15)
    assert json.loads(sf.mae_seeds.iloc[1]) == {"0": 0.10, "1": 0.12, "2": 0.50}
    # the paper-style tables' rows (one per architecture) carry the same median
    one = _paper_style_rows(fitted, sf).sort_values("sampling_id")
    assert len(one) == 6
    np.testing.assert_allclose(one.test_mae, np.median(SEED_MAES, axis=1), rtol=0, atol=1e-15)


def test_the_noise_ceiling_is_the_mean_over_all_seed_pairs_beside_every_score(tmp_path):
    import pandas as pd

    from mae_ort.study.report import add_fits, ceilings, score_frame, write_report
    from mae_ort.study.validation import joined

    db, _ = _seeds_db(tmp_path)
    sf = score_frame(add_fits(joined(db)), forward=False)
    ceil = ceilings(sf, boot=200)
    expected = np.mean([stats.spearmanr(SEED_MAES[:, i], SEED_MAES[:, j])[0] for i, j in ((0, 1), (0, 2), (1, 2))])
    assert len(ceil) == 1 and ceil.spearman.iloc[0] == pytest.approx(expected, abs=1e-12)
    assert (int(ceil.n.iloc[0]), int(ceil.seeds.iloc[0]), int(ceil.pairs.iloc[0])) == (6, 3, 3)
    assert ceil.spearman_low.iloc[0] <= ceil.spearman.iloc[0] <= ceil.spearman_high.iloc[0]

    out = tmp_path / "rep"
    text = write_report(db, out, boot=200, paper=False).read_text()
    ev = pd.read_csv(out / "evidence.csv")
    assert ev.ceiling.to_numpy() == pytest.approx(np.full(len(ev), expected), abs=1e-12)  # beside every score
    row = next(line for line in text.splitlines() if line.startswith("| noise ceiling"))
    assert f"{expected:+.2f}" in row
    assert "mean over 3 seed pairs" in text
    trained = pd.read_csv(out / "trained.csv").sort_values("sampling_id")
    np.testing.assert_allclose(trained.mae, np.median(SEED_MAES, axis=1), atol=1e-12)


def test_forecast_verdict_compares_the_best_network_with_every_baseline_by_hand():
    import pandas as pd

    from mae_ort.study.baselines import Baseline
    from mae_ort.study.report import forecast_verdict

    sf = pd.DataFrame([
        dict(trainer="forecast", depth=1, epochs=10, mae=0.01, repeats=3, units="4", look_back=2),  # a smaller budget
        dict(trainer="forecast", depth=1, epochs=100, mae=0.08, repeats=3, units="4", look_back=2),
        dict(trainer="forecast", depth=1, epochs=100, mae=0.12, repeats=3, units="8", look_back=4),
        dict(trainer="forecast", depth=1, epochs=100, mae=0.30, repeats=3, units="16", look_back=4),
        dict(trainer="forecast", depth=2, epochs=100, mae=float("nan"), repeats=0, units="4,4", look_back=2),
    ])
    bl = [Baseline("train_mean", 0.5, model="mean"), Baseline("persistence", 0.1, model="the previous value"),
          Baseline("ridge_ar", 0.064, 2, "ridge"), Baseline("ridge_ar", 0.05, 4, "ridge"),
          Baseline("ridge_ar", 0.01, 8, "ridge"),  # not a look-back of the study: left out
          Baseline("arima", float("nan"), model="", error="too short")]
    one, two = forecast_verdict(sf, bl)
    assert "units 4, look-back 2; median over 3 seeds) has test MAE 0.0800" in one
    assert "beats the training mean (0.5000, -84.0 %)" in one and "beats persistence (0.1000, -20.0 %)" in one
    assert "does not beat the linear autoregression at its best look-back (4) (0.0500, +60.0 %)" in one
    assert "does not beat the linear autoregression at the network's look-back (2) (0.0640, +25.0 %)" in one
    assert "ARIMA" not in one and "(8)" not in one
    assert "best network 0.800, median network 1.200" in one  # median of 0.08, 0.12, 0.30 over persistence 0.1
    assert two.endswith("no network finished training.") and "2-layer study" in two
    assert forecast_verdict(sf, []) == []
