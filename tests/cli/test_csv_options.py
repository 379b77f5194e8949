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
    assert seen["format"] == {"sep": ";", "decimal": ",", "index_col": "t", "header": None}
    np.testing.assert_array_equal(seen["series"].inputs[:, 0], values)
    assert seen["split"].spec["sep"] == ";" and seen["split"].test.length == 5
    json.dumps(seen["split"].spec)  # JSON-ready
    # outside a command: the defaults, or what the caller passes
    assert csv_options_in_use() == {"sep": None, "decimal": None, "index_col": None, "header": None}
    s = load_series(str(path), None, None, "none", sep=";", decimal=",", index_col="t")
    np.testing.assert_array_equal(s.inputs[:, 0], values)
    from mae_ort.errors import DataError

    with pytest.raises(DataError, match="looks semicolon-separated"):
        load_series(str(path), None, None, "none")


# -- --header: a headerless file loses no point in any command ------------------------------------------------

NOTE = "no header: columns numbered 0..0"


def _headerless(tmp_path, name="no_header.csv", values=range(1, 61)):
    path = tmp_path / name
    path.write_text("".join(f"{v}\n" for v in values))
    return path


def test_sample_reads_a_headerless_file_whole_and_says_so(capsys, tmp_path):
    path = _headerless(tmp_path)
    common = ["sample", "--arch", "4", "--look-back", "3", "--samples", "10", "--csv", str(path)]
    assert main(common) == 0
    first = capsys.readouterr().out.splitlines()[0]
    assert "(57 windows; no header: columns numbered 0..0)" in first  # 60 points at look-back 3
    assert main(common + ["--header", "yes"]) == 0  # the old reading: the first value names the column
    assert "(56 windows)" in capsys.readouterr().out.splitlines()[0]
    assert main(common + ["--header", "none"]) == 0  # asked for: the same rows, nothing to say
    assert "(57 windows)" in capsys.readouterr().out.splitlines()[0]
    assert main(common + ["--json"]) == 0
    out, err = capsys.readouterr()
    assert json.loads(out)["windows"] == 57 and NOTE in err
    assert main(["sample", "--arch", "4", "--samples", "10", "--header", "none"]) == 2
    assert "--header needs --csv" in capsys.readouterr().err


@pytest.mark.parametrize("command", ["screen", "search"])
def test_screen_and_search_read_a_headerless_file_whole(capsys, tmp_path, command):
    from mae_ort.data import prepare
    from mae_ort.results.store import open_store

    path = _headerless(tmp_path)
    extra = ["--workers", "1"] if command == "screen" else ["--trials", "1"]
    fingerprints = {}
    for header in ("auto", "yes"):
        db = tmp_path / f"{command}-{header}.sqlite"
        args = [command, "--csv", str(path), "--units", "3", "--layers", "1", "--look-back", "3", "--samples", "4",
                "--quiet", "--top", "0", "--db", str(db), *extra] + ([] if header == "auto" else ["--header", "yes"])
        assert main(args) == 0, capsys.readouterr().err
        err = capsys.readouterr().err
        assert (NOTE in err) == (header == "auto")
        store = open_store(db, create=False, readonly=True)
        try:
            fingerprints[header] = set(store.settings_frame()["series_fingerprint"])
        finally:
            store.close()
    whole, named = prepare(str(path)), prepare(str(path), header="yes")
    assert whole.length == 60 and named.length == 59  # 57 and 56 windows at look-back 3
    assert fingerprints == {"auto": {whole.fingerprint()}, "yes": {named.fingerprint()}}


@pytest.mark.parametrize("command", ["validate", "train"])
def test_validate_and_train_read_a_headerless_file_whole(capsys, tmp_path, monkeypatch, command):
    from mae_ort.study import validation, winners

    path, test = _headerless(tmp_path), _headerless(tmp_path, "test.csv", range(61, 71))
    seen = []

    def stop(db, split, **kw):
        seen.append(split)
        raise KeyboardInterrupt  # the split is all this test needs

    monkeypatch.setattr(validation, "validate", stop)
    monkeypatch.setattr(winners, "train_top", stop)
    for header in ("auto", "yes"):
        args = [command, "--db", str(tmp_path / "r.sqlite"), "--csv", str(path), "--test-csv", str(test), "--quiet"]
        assert main(args + ([] if header == "auto" else ["--header", "yes"])) == 130
        err = capsys.readouterr().err
        assert (NOTE in err) == (header == "auto")
    auto, named = seen
    assert auto.train_windows(3).n == 57 and auto.test.length == 10 and auto.spec["header"] == "auto"
    assert named.train_windows(3).n == 56 and named.test.length == 9 and named.spec["header"] == "yes"


def test_report_rebuilds_a_headerless_split_from_its_spec(tmp_path):
    # report reads no CSV option: it rebuilds the split that validate stored (its spec records the header)
    from mae_ort.data import csv_split, split_from_spec

    path, test = _headerless(tmp_path), _headerless(tmp_path, "test.csv", range(61, 71))
    for header, n in (("auto", 57), ("yes", 56), ("none", 57)):
        spec = json.loads(json.dumps(csv_split(path, test, header=header).spec))
        assert split_from_spec(spec).train_windows(3).n == n
