"""Table 4's measured jobs: each in a fresh process, with positive time and peak memory; measured once."""

from __future__ import annotations

import pytest

from tests.study.test_report import SPLIT, _db


@pytest.fixture
def db(tmp_path):
    return _db(tmp_path)


def test_measure_sampling_gives_positive_time_and_rss():
    from mae_ort.study.jobs import measure_costs

    rows = measure_costs(SPLIT.spec, {"units": [3]}, look_back=2, samples=10, kinds=("sampling",))
    assert len(rows) == 1 and rows[0]["kind"] == "sampling"
    assert rows[0]["work_seconds"] > 0 and rows[0]["process_seconds"] >= rows[0]["work_seconds"]
    assert rows[0]["peak_rss_bytes"] > 10e6


@pytest.mark.keras
def test_measure_training_gives_positive_time_and_rss(db):
    pytest.importorskip("keras")
    from mae_ort.study.jobs import measure_table4
    from mae_ort.study.validation import load_costs

    assert measure_table4(db, count=1, epochs=1, threads=1) == 1
    costs = load_costs(db)
    assert set(costs.kind) == {"training", "sampling"}
    assert (costs.work_seconds > 0).all() and (costs.peak_rss_bytes > 10e6).all()
    t = costs[costs.kind == "training"].iloc[0]
    assert t.peak_rss_bytes > costs[costs.kind == "sampling"].iloc[0].peak_rss_bytes  # TensorFlow is heavier
    assert measure_table4(db, count=1, epochs=1) == 0  # already measured: nothing to do
