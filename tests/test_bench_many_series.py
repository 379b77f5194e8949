"""bench.many_series at a tiny size: both ways give the same MAEs, and the result names its case and machine."""

from __future__ import annotations

import json

from bench.many_series import long_table, main


def test_long_table_is_seeded_and_in_long_format():
    a, b = long_table(3, 20, seed=1), long_table(3, 20, seed=1)
    assert list(a.columns) == ["unique_id", "ds", "y"] and len(a) == 60 and a.equals(b)
    assert a["unique_id"].nunique() == 3


def test_a_tiny_run_writes_its_json(tmp_path, capsys):
    out = tmp_path / "m.json"
    result = main(["--series", "3", "--points", "30", "--units", "2", "--look-back", "1", "--samples", "3",
                   "--repeats", "1", "--out", str(out)])
    assert result["same_maes"] is True and result["case"]["rows"] == 3
    assert set(result["rows_per_second"]) == {"separate", "long"} and min(result["rows_per_second"].values()) > 0
    assert result["machine"]["cpu"] and json.loads(out.read_text())["command"].startswith("python -m bench.many_series")
    assert "| 3 series x 30 points" in capsys.readouterr().out
