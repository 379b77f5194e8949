"""The mae-ort command: output, JSON, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mae_ort.cli import main


def run(capsys, *args):
    code = main(list(args))
    out, err = capsys.readouterr()
    return code, out, err


def test_sample_prints_the_result(capsys):
    code, out, _ = run(capsys, "sample", "--arch", "5,4", "--look-back", "3", "--samples", "10")
    assert code == 0
    assert "lstm[5,4]" in out and "log p" in out and "mean MAE" in out


def test_json_has_the_python_result_fields(capsys):
    import mae_ort

    code, out, _ = run(capsys, "sample", "--arch", "6", "--look-back", "2", "--samples", "12", "--seed", "4", "--json")
    assert code == 0
    d = json.loads(out)
    r = mae_ort.sample(mae_ort.sine(), arch=[6], look_back=2, samples=12, seed=4)
    for k in ("mean", "sd", "p", "log_p", "maes", "seconds", "look_back", "samples", "seed"):
        assert k in d
    assert d["mean"] == pytest.approx(r.mean) and d["log_p"] == pytest.approx(r.log_p)
    np.testing.assert_allclose(d["maes"], r.maes)


def test_csv_multivariate(capsys, eunite_csv):
    code, out, _ = run(capsys, "sample", "--csv", str(eunite_csv), "--input", "MaxLoads,Temperature", "--target",
                       "MaxLoads", "--scale", "minmax", "--arch", "20,10", "--look-back", "7", "--samples", "8",
                       "--json")
    assert code == 0 and json.loads(out)["windows"] == 723


def test_save_model(capsys, tmp_path):
    import onnx

    path = tmp_path / "m.onnx"
    code, _, _ = run(capsys, "sample", "--arch", "3", "--look-back", "2", "--samples", "4", "--save-model", str(path))
    assert code == 0
    onnx.checker.check_model(onnx.load(str(path)))


def _bad_files(tmp_path):
    short = tmp_path / "short.csv"
    short.write_text("v\n1\n2\n3\n")
    nan = tmp_path / "nan.csv"
    nan.write_text("v\n1\n\n2\n3\nnan\n4\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    return short, nan, empty


@pytest.mark.parametrize(
    "args,match",
    [
        (["--arch", "0"], "'units'"),
        (["--arch", "a,b"], "'units'"),
        (["--samples", "1"], "'samples'"),
        (["--memory-budget", "0"], "'memory_budget'"),
        (["--memory-budget", "lots"], "'memory_budget'"),
        (["--device", "tpu"], "--device"),
        (["--cell", "foo"], "--cell"),
        (["--activation", "swish"], "--activation"),
        (["--look-back", "0"], "'look_back'"),
        (["--csv", "/nonexistent/x.csv"], "no such file"),
        (["--csv", "{data}/eunite-training.csv", "--input", "MaxLoad"], "did you mean 'MaxLoads'"),
        (["--csv", "{short}", "--look-back", "5"], "needs at least 6"),
        (["--csv", "{nan}"], "NaN"),
        (["--csv", "{empty}"], "cannot read"),
        (["--lower", "3"], "lower=3.0 must be below upper=2.0"),
        (["--bogus"], "No such option"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, args, match):
    from tests.conftest import DATA

    short, nan, empty = _bad_files(tmp_path)
    args = [a.format(data=DATA, short=short, nan=nan, empty=empty) for a in args]
    code, out, err = run(capsys, "sample", "--arch", "3", "--look-back", "2", "--samples", "4", *args)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert __import__("re").search(match, lines[0]), lines[0]
    assert "Traceback" not in err


def test_console_script_exit_code():
    p = subprocess.run([sys.executable, "-m", "mae_ort", "sample", "--arch", "0"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "error:" in p.stderr
