"""The storage contract (mae_ort.results.base.Store): one test class run over the store on a file and in memory,
as Optuna's StorageTestCase runs over its storages; and every store method called outside results/ is declared."""

from __future__ import annotations

import ast
import inspect
import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from mae_ort.errors import DataError, StoreError
from mae_ort.results.base import Store
from mae_ort.results.store import SQLiteStore, open_store
from tests.results.test_store import result, settings

PKG = Path(__file__).resolve().parents[2] / "mae_ort"


def _trained(sampling_id: int, epochs: int, *, mae: float = 0.1, seed: int = 0) -> dict:
    return dict(sampling_id=sampling_id, split_key="k", train_key="t", seed=seed, epochs=epochs, max_epochs=2,
                test_mae=mae, epochs_run=epochs, best_epoch=epochs, train_seconds=1.0, split="{}", train_settings="{}")


@pytest.fixture(params=["file", ":memory:"])
def store(request, tmp_path):
    s = open_store(tmp_path / "r.sqlite" if request.param == "file" else ":memory:")
    assert isinstance(s, Store)
    yield s
    s.close()


class TestStoreContract:
    """Each rule of :class:`Store`'s docstring, on every backend of the ``store`` fixture."""

    def test_settings_are_idempotent_and_named_by_a_unique_prefix(self, store):
        sid = store.add_settings(settings())
        assert store.add_settings(settings()) == sid == settings().id
        other = store.add_settings(settings(seed=1))
        assert set(store.settings_frame()["settings_id"]) == {sid, other}
        assert store.settings_id(sid[:12]) == sid
        with pytest.raises(DataError, match="no settings 'zz'"):
            store.settings_id("zz")
        with pytest.raises(DataError, match="ambiguous"):
            store.settings_id("")

    def test_rows_first_write_wins_and_resume_keys(self, store):
        sid = store.add_settings(settings())
        assert store.done_keys(sid) == set()
        assert store.add_results(sid, [result((3,), 1), result((4, 2), 2)]) == 2
        assert store.add_results(sid, [result((3,), 1, mean=0.9), result((5,), 1)]) == 1
        df = store.frame(sid, maes=True)
        assert sorted(df.units) == ["3", "4,2", "5"] and df.loc[df.units == "3", "mean"].item() == 0.5
        assert len(store.done_keys(sid)) == 3
        np.testing.assert_array_equal(df.maes.iloc[0], result().maes)
        assert len(store.frame(sid, look_back=2)) == 1 and len(store.frame(sid, depth=1)) == 2

    def test_unknown_settings_are_refused_and_nothing_is_kept(self, store):
        with pytest.raises(StoreError):
            store.add_results("0" * 16, [result()])
        assert len(store.frame()) == 0

    def test_scores_are_kept_once_and_joined(self, store):
        sid = store.add_settings(settings())
        store.add_results(sid, [result((3,), 1), result((4,), 1)])
        ids = list(store.frame(sid).id)
        assert store.add_scores([(ids[0], "readout", 0.25), (ids[1], "readout", math.nan)]) == 2
        assert store.add_scores([(ids[0], "readout", 9.0)]) == 0
        df = store.frame(sid).set_index("id")
        assert df.loc[ids[0], "score_readout"] == 0.25 and math.isnan(df.loc[ids[1], "score_readout"])

    def test_trained_rows_budgets_links_and_frame(self, store):
        sid = store.add_settings(settings())
        store.add_results(sid, [result((3,), 1)])
        store.add_results(store.add_settings(settings(seed=9)), [result((3,), 1, mean=0.7)])  # as on the test part
        a, test_row = list(store.frame().id)[:2]
        assert store.add_trained([_trained(a, 1), _trained(a, 2, mae=0.05)]) == 2
        assert store.add_trained([_trained(a, 2, mae=0.9)]) == 0  # first write wins
        assert store.trained_budgets([a, 999], split_key="k", train_key="t", seed=0) == {a: {1, 2}}
        assert store.trained_budgets([a], split_key="k", train_key="other", seed=0) == {}
        tf = store.trained_frame(sampling_ids=[a])
        assert sorted(zip(tf.epochs, tf.test_mae)) == [(1, 0.1), (2, 0.05)]
        store.link_test_rows({a: test_row}, split_key="k")
        store.link_test_rows({a: 999}, split_key="k")  # set once: never changed
        linked = store.trained_frame(link="test_sampling_id")
        assert len(linked) == 2 and set(linked["mean"]) == {0.7}  # the test row's statistics, not 999's

    def test_a_failed_trained_batch_keeps_nothing(self, store):
        sid = store.add_settings(settings())
        store.add_results(sid, [result()])
        a = int(store.frame().id.iloc[0])
        bad = dict(_trained(a, 2), split_key=None)  # NOT NULL
        with pytest.raises(StoreError):
            store.add_trained([_trained(a, 1), bad])
        assert store.trained_budgets([a], split_key="k", train_key="t", seed=0) == {}

    def test_costs_and_own_models(self, store):
        sid = store.add_settings(settings())
        store.add_results(sid, [result()])
        a = int(store.frame().id.iloc[0])
        assert len(store.costs_frame()) == 0
        row = {"kind": "sampling", "units": "3", "look_back": 1, "epochs": None, "samples": 5, "work_seconds": 0.5,
               "setup_seconds": 0.1, "process_seconds": 1.0, "peak_rss_bytes": 1e8}
        store.add_costs([row], sampling_id=a)
        costs = store.costs_frame()
        assert len(costs) == 1 and costs.sampling_id.iloc[0] == a and costs.work_seconds.iloc[0] == 0.5
        model = {"digest": "d" * 16, "options": "o" * 16, "file": "m.onnx", "n_weights": 7, "tensors": [["w", [7]]],
                 "settings": "scale=1"}
        assert store.add_own_models([model]) == 1 and store.add_own_models([model]) == 0


def test_every_store_method_called_outside_results_is_declared_by_the_contract():
    public = {n for n, _ in inspect.getmembers(SQLiteStore, inspect.isfunction) if not n.startswith("_")}
    public -= set(dir(pd.DataFrame))  # ``.count(`` and the like: a DataFrame's too, not only a store's
    called = set()
    for path in PKG.rglob("*.py"):
        if "results" in path.relative_to(PKG).parts:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr in public:
                called.add(node.func.attr)
    assert called >= {"add_results", "add_trained", "trained_frame"}  # the scan finds the callers
    undeclared = sorted(n for n in called if n not in vars(Store))
    assert not undeclared, undeclared
    for name in called:  # each declared with its contract written down
        assert (getattr(Store, name).__doc__ or "").strip(), name
