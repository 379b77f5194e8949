"""screen_own: own models into the results store beside built-in rows, keyed by content and options, resumable;
databases without own models read as before."""

from __future__ import annotations

import shutil

import numpy as np
import onnx
import pytest

import mae_ort
from mae_ort.errors import OnnxModelError
from mae_ort.results.store import open_store
from mae_ort.screening.own import model_paths, screen_own
from tests.sampling.test_own import linear_model

DATA = __import__("pathlib").Path(__file__).resolve().parents[1] / "results" / "data"


def test_rows_beside_builtin_rows_keyed_by_content_and_options(tmp_path):
    db = tmp_path / "r.db"
    mae_ort.screen([mae_ort.screening.Row(mae_ort.Architecture((4,)), 5)], store=db, samples=10)
    onnx.save(linear_model(), tmp_path / "a.onnx")
    onnx.save(linear_model(), tmp_path / "same-content.onnx")
    df = screen_own(tmp_path / "*.onnx", store=db, samples=10)
    assert len(df) == 1 and df.attrs["new_rows"] == 1          # the same bytes are one row
    again = screen_own(tmp_path / "a.onnx", store=db, samples=10, scale="file")
    assert again.attrs["new_rows"] == 1                         # other options: another row
    frozen = screen_own(tmp_path / "a.onnx", store=db, samples=10, frozen=["b"])
    assert frozen.attrs["new_rows"] == 1
    with open_store(db, readonly=True) as st:
        all_rows = st.frame()
    assert len(all_rows) == 4 and all_rows["settings_id"].nunique() == 1
    builtin = all_rows[all_rows["cell"] == "lstm"]
    assert builtin["model_file"].isna().all() and builtin["n_weights"].isna().all()
    own = all_rows[all_rows["cell"] == "onnx"]
    assert set(own["model_file"]) == {"a.onnx"} and set(own["n_weights"]) == {6}
    assert own["recurrent_activation"].nunique() == 3


def test_resume_after_a_partial_screen(tmp_path):
    for lb in (3, 4):
        onnx.save(linear_model(look_back=lb), tmp_path / f"m{lb}.onnx")
    db = tmp_path / "r.db"
    first = screen_own(tmp_path / "m3.onnx", store=db, samples=8, seed=1)
    both = screen_own(tmp_path, store=db, samples=8, seed=1)
    assert both.attrs["new_rows"] == 1 and len(both) == 2
    np.testing.assert_array_equal(first["log_p"].iloc[0], both.set_index("model_file").loc["m3.onnx", "log_p"])


def test_a_database_without_own_models_reads_as_before(tmp_path):
    db = tmp_path / "old.sqlite"
    shutil.copy(DATA / "schema3.sqlite", db)
    with open_store(db) as st:
        before = st.frame()
    assert "model_file" not in before.columns and "n_weights" not in before.columns
    assert st.own_models_frame().empty


def test_model_paths(tmp_path):
    with pytest.raises(OnnxModelError, match="holds no .onnx files"):
        model_paths(tmp_path)
    onnx.save(linear_model(), tmp_path / "b.onnx")
    onnx.save(linear_model(), tmp_path / "a.onnx")
    assert [p.name for p in model_paths(tmp_path)] == ["a.onnx", "b.onnx"]
    assert [p.name for p in model_paths([tmp_path / "b.onnx", tmp_path])] == ["b.onnx", "a.onnx"]


def test_own_rows_are_ranked_not_trained(tmp_path):
    from mae_ort.errors import MaeOrtError
    from mae_ort.screening.space import Row
    from mae_ort.study.validation import candidates

    onnx.save(linear_model(), tmp_path / "a.onnx")
    db = tmp_path / "r.db"
    screen_own(tmp_path / "a.onnx", store=db, samples=10)
    with pytest.raises(MaeOrtError, match="own ONNX models .* cannot rebuild to train"):
        candidates(db)
    mae_ort.screen([Row(mae_ort.Architecture((4,)), 5)], store=db, samples=10)
    assert list(candidates(db)["cell"]) == ["lstm"]  # beside built-in rows: only those are trained
