"""--sep, --decimal and --index-col reach every command that reads a CSV file."""

from __future__ import annotations

import json

import click
import numpy as np
import pytest

from mae_ort.cli import main
from mae_ort.cli.options import build_split, csv_options_in_use, load_series, series_options


def _semi(tmp_path, n=30):
    values = np.round(np.cos(np.arange(n) / 5.0), 4)
    rows = [f"{i};{v:.4f}".replace(".", ",") for i, v in enumerate(values)]
    path = tmp_path / "semi.csv"
    path.write_text("t;value\n" + "\n".join(rows) + "\n")
    return path, values


def test_screen_reads_a_semicolon_file(capsys, tmp_path):
    path, _ = _semi(tmp_path)
    db = tmp_path / "r.sqlite"
    common = ["screen", "--csv", str(path), "--units", "3", "--layers", "1", "--look-back", "2", "--samples", "4",
              "--workers", "0", "--quiet", "--db", str(db)]
    assert main(common) == 2
    assert "--sep ';' --decimal ','" in capsys.readouterr().err
    assert main(common + ["--sep", ";", "--decimal", ",", "--index-col", "t"]) == 0, capsys.readouterr().err


def test_load_series_and_build_split_take_the_options_of_the_running_command(tmp_path):
    path, values = _semi(tmp_path)
    seen = {}

    @click.command()
    @series_options
    def cmd(csv_path, input_cols, target_cols, scale):
        seen["format"] = csv_options_in_use()
        seen["series"] = load_series(csv_path, input_cols, target_cols, scale)
        seen["split"] = build_split(csv_path, input_cols, target_cols, scale, None, 5)

    cmd.main(["--csv", str(path), "--sep", ";", "--decimal", ",", "--index-col", "t"], standalone_mode=False)
    assert seen["format"] == {"sep": ";", "decimal": ",", "index_col": "t"}
    np.testing.assert_array_equal(seen["series"].inputs[:, 0], values)
    assert seen["split"].spec["sep"] == ";" and seen["split"].test.length == 5
    json.dumps(seen["split"].spec)  # JSON-ready
    # outside a command: the defaults, or what the caller passes
    assert csv_options_in_use() == {"sep": None, "decimal": None, "index_col": None}
    s = load_series(str(path), None, None, "none", sep=";", decimal=",", index_col="t")
    np.testing.assert_array_equal(s.inputs[:, 0], values)
    from mae_ort.errors import DataError

    with pytest.raises(DataError, match="looks semicolon-separated"):
        load_series(str(path), None, None, "none")
