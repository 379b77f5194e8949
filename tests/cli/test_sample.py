"""The mae-ort command: output, JSON, one-line errors with exit code 2."""

from __future__ import annotations

import json
import subprocess
import sys

import numpy as np
import pytest

from mae_ort.cli import main
from tests.conftest import one_line_error, run_cli


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
    nan = tmp_path / "nan.csv"  # (a blank line is its own error now: see "blank" below)
    nan.write_text("v\n1\n2\n3\nnan\n4\n")
    empty = tmp_path / "empty.csv"
    empty.write_text("")
    blank = tmp_path / "blank.csv"
    blank.write_text("v\n1\n\n2\n3\n4\n5\n")
    semi = tmp_path / "semi.csv"
    semi.write_text("date;value\n2020-01-01;1,5\n2020-01-02;2,5\n2020-01-03;1,25\n2020-01-04;3,0\n")
    stray = tmp_path / "stray.csv"
    stray.write_text("date,value\n2020-01-01,1\n2020-01-02,2\n2020-01-03,n/a?\n2020-01-04,3\n2020-01-05,4\n")
    return dict(short=short, nan=nan, empty=empty, blank=blank, semi=semi, stray=stray)


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
        (["--csv", "{blank}"], r"line 3 of .*blank\.csv' is blank"),
        (["--csv", "{semi}"], r"looks semicolon-separated .*--sep ';' --decimal ','"),
        (["--csv", "{semi}", "--sep", ";"], r"column 'value' .* decimal commas \(such as '1,5'\)"),
        (["--csv", "{stray}"], r"column 'value' has the text 'n/a\?' at line 4 of"),
        (["--csv", "{stray}", "--input", "date"], r"column 'date' is not numeric .*\(--index-col date\)"),
        (["--sep", ";"], "--sep needs --csv"),
        (["--csv", "{short}", "--sep", "ab"], r"'sep' parameter"),
        (["--samples", "1000000000000"], r"samples=1000000000000 needs about 32 TB .* use fewer samples"),
        (["--save-model", "{tmp}/no-such-folder/m.onnx"], "no-such-folder' does not exist"),
        (["--save-model", "{tmp}"], "is a directory"),
        (["--lower", "3"], "lower=3.0 must be below upper=2.0"),
        (["--bogus"], "No such option"),
        (["--target-form", "delta", "--head-activation", "relu"], "cannot be 'relu' with target_form='delta'"),
        (["--target-form", "change"], "'change' is not one of 'level', 'delta'"),
    ],
)
def test_bad_input_exits_2_with_one_line(capsys, tmp_path, args, match):
    from tests.conftest import DATA

    args = [a.format(data=DATA, tmp=tmp_path, **_bad_files(tmp_path)) for a in args]
    code, out, err = run(capsys, "sample", "--arch", "3", "--look-back", "2", "--samples", "4", *args)
    assert code == 2
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    assert __import__("re").search(match, lines[0]), lines[0]
    assert "Traceback" not in err


def test_console_script_exit_code():
    p = subprocess.run([sys.executable, "-m", "mae_ort", "sample", "--arch", "0"], capture_output=True, text=True)
    assert p.returncode == 2 and p.stderr.count("\n") == 1 and "error:" in p.stderr


# -- issue 10 -------------------------------------------------------------------------------------
def _series_file(tmp_path, sep=",", decimal=".", name="s.csv"):
    values = np.round(np.sin(np.arange(40) / 4.0), 4)
    lines = [f"date{sep}value"] + [f"2020-02-{i + 1:02d}{sep}{v:.4f}".replace(".", decimal) for i, v in
                                    enumerate(values)]
    path = tmp_path / name
    path.write_text("\n".join(lines) + "\n")
    return path, values


def test_ordinary_csv_files_sample_like_their_values(capsys, tmp_path):
    import mae_ort

    plain, values = _series_file(tmp_path)
    semi, _ = _series_file(tmp_path, ";", ",", "semi.csv")
    common = ["--arch", "4", "--look-back", "3", "--samples", "6", "--seed", "2", "--json"]
    code, out, err = run(capsys, "sample", "--csv", str(plain), *common)
    assert code == 0, err
    d = json.loads(out)
    expect = mae_ort.sample(values, arch=[4], look_back=3, samples=6, seed=2)
    assert d["windows"] == 37 and d["series"] == "s.csv"
    np.testing.assert_array_equal(d["maes"], expect.maes)
    code, out, err = run(capsys, "sample", "--csv", str(semi), "--sep", ";", "--decimal", ",", *common)
    assert code == 0, err
    np.testing.assert_array_equal(json.loads(out)["maes"], expect.maes)
    code, out, err = run(capsys, "sample", "--csv", str(semi), "--sep", ";", "--decimal", ",", "--index-col",
                         "date", *common)
    assert code == 0, err
    np.testing.assert_array_equal(json.loads(out)["maes"], expect.maes)


def test_json_writes_non_finite_numbers_as_null(capsys):
    code, out, _ = run(capsys, "sample", "--arch", "3", "--look-back", "2", "--samples", "6", "--threshold", "0",
                       "--fit", "mle", "--json")
    assert code == 0
    assert "inf" not in out.lower() and "nan" not in out.lower()
    d = json.loads(out)
    assert d["log_p"] is None and d["log_p_exact"] is None and d["p"] == 0.0


def test_warnings_print_as_one_line_each(capsys):
    code, out, err = run(capsys, "sample", "--arch", "3", "--look-back", "2", "--samples", "10", "--seed", "0",
                         "--upper", "0.3")
    assert code == 0 and "log p" in out
    import math
    import warnings

    import mae_ort

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        wider = math.ceil(mae_ort.sample(mae_ort.sine(), arch=[3], look_back=2, samples=10, seed=0).maes.max())
    assert err.splitlines() == [
        "warning: 10 of 10 MAEs of lstm[3] fall outside the truncation bounds [0, 0.3] (kept in the moments fit, "
        f"which the truncated normal does not describe); widen the bounds with a larger upper (upper={wider}, "
        f"--upper {wider})"]
    code, _, err = run(capsys, "sample", "--arch", "4,4", "--look-back", "6", "--samples", "30", "--init",
                       "normal:0,1e30", "--activation", "relu", "--head-activation", "linear")
    lines = err.splitlines()
    assert code == 0 and len(lines) == 2 and all(ln.startswith("warning: ") for ln in lines), err
    assert "gave non-finite predictions" in lines[0] and "outside the truncation bounds" in lines[1]
    import warnings

    assert warnings.showwarning.__module__ == "warnings"  # main put Python's back


def test_save_model_is_checked_before_sampling_and_reported(capsys, tmp_path, monkeypatch):
    from mae_ort.sampling import Sampler

    path = tmp_path / "m.onnx"
    code, out, _ = run(capsys, "sample", "--arch", "3", "--look-back", "2", "--samples", "4", "--save-model", str(path))
    assert code == 0 and out.splitlines()[-1] == f"wrote the ONNX graph of lstm[3] at look_back=2 to {path}"
    code, out, err = run(capsys, "sample", "--arch", "3", "--look-back", "2", "--samples", "4", "--json",
                         "--save-model", str(path))
    assert code == 0 and json.loads(out)["samples"] == 4 and err.strip().endswith(f"to {path}")

    def fail(*a, **k):
        raise AssertionError("sampled before checking --save-model")

    monkeypatch.setattr(Sampler, "sample", fail)
    code, _, err = run(capsys, "sample", "--arch", "3", "--look-back", "2", "--save-model",
                       str(tmp_path / "nope" / "m.onnx"))
    assert code == 2 and err.startswith("error: cannot write the model to") and "Traceback" not in err


def test_a_closed_pipe_ends_quietly():
    p = subprocess.Popen([sys.executable, "-m", "mae_ort", "sample", "--arch", "3", "--look-back", "2",
                          "--samples", "4"], stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    p.stdout.close()  # mae-ort sample ... | head -c0
    err = p.stderr.read().decode()
    assert p.wait(timeout=120) == 1 and err == "", err


class _Broken:
    def write(self, text):
        raise BrokenPipeError(32, "Broken pipe")

    def flush(self):
        raise BrokenPipeError(32, "Broken pipe")


def test_unwritable_stdout_returns_1_without_a_traceback(capsys, monkeypatch):
    import io

    monkeypatch.setattr(sys, "stdout", _Broken())
    assert main(["sample", "--arch", "3", "--look-back", "2", "--samples", "4"]) == 1
    closed = io.StringIO()
    closed.close()
    monkeypatch.setattr(sys, "stdout", closed)
    assert main(["sample", "--arch", "3", "--look-back", "2", "--samples", "4"]) == 1
    monkeypatch.undo()
    assert capsys.readouterr().err == ""


def test_sample_scores_are_those_of_the_scores_function(capsys):
    import json

    from mae_ort.data import prepare, sine
    from mae_ort.sampling.scores import scores

    code = main(["sample", "--arch", "5,4", "--look-back", "3", "--samples", "12", "--seed", "2", "--scores", "all",
                 "--json"])
    out = json.loads(capsys.readouterr().out)
    assert code == 0
    want = scores(prepare(sine(), name="sine"), [5, 4], 3, samples=12, seed=2)
    assert set(out["scores"]) == set(want)
    for k, v in want.items():
        assert out["scores"][k] == (None if not np.isfinite(v) else pytest.approx(v, rel=1e-12, abs=1e-12))
    code = main(["sample", "--arch", "5", "--look-back", "3", "--samples", "12", "--scores", "nope"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "'nope' (item 1)" in err
    code = main(["sample", "--arch", "5", "--look-back", "3", "--samples", "12", "--scores", "all,bogus"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "'bogus' (item 2)" in err  # the wrong token, not 'all'
    code = main(["sample", "--arch", "5", "--look-back", "3", "--samples", "12", "--scores", "readout,,q05"])
    err = capsys.readouterr().err
    assert code == 2 and err.count("\n") == 1 and "empty item 2 of 3" in err  # an empty field is refused


def test_a_first_run_samples_on_onnxruntime_and_compiles_in_the_background(capsys, monkeypatch):
    import mae_ort
    from mae_ort.runtimes import choose, fused

    started = []
    monkeypatch.setattr(choose, "numba_compiled", lambda: False)
    monkeypatch.setattr(fused, "compile_in_background", lambda: started.append(1))
    code, out, err = run(capsys, "sample", "--arch", "5,4", "--look-back", "3", "--samples", "10", "--json")
    assert code == 0 and started == [1]
    d = json.loads(out)
    assert d["runtime"] == "onnxruntime" and 0.0 < d["setup_seconds"] < d["seconds"]
    assert err.strip().startswith("note: the Numba kernels are not compiled yet")
    r = mae_ort.sample(mae_ort.sine(), arch=[5, 4], look_back=3, samples=10, runtime="numba")
    np.testing.assert_allclose(d["maes"], r.maes, rtol=1e-5)  # the same MAEs up to float32 round-off
    # compiled kernels: the ordinary runtime, no notice, nothing started
    monkeypatch.setattr(choose, "numba_compiled", lambda: True)
    code, out, err = run(capsys, "sample", "--arch", "5,4", "--look-back", "3", "--samples", "10")
    assert code == 0 and started == [1] and "runtime=numba" in out and "note:" not in err
    assert " s sampling + " in out or out.rstrip().endswith(" s sampling")


def test_sampling_an_array_imports_neither_pandas_nor_onnx_nor_scipy_stats():
    code = ("import sys\nfrom mae_ort.cli import main\n"
            "main(['sample', '--arch', '3', '--look-back', '2', '--samples', '4'])\n"
            "print(sorted(m for m in ('pandas', 'onnx', 'scipy.stats') if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300, check=True)
    assert out.stdout.strip().splitlines()[-1] == "[]", out.stdout


def test_sample_auto_prints_what_it_drew(capsys):
    code, out, err = run_cli(capsys, "sample", "--arch", "3", "--look-back", "2", "--samples", "auto:round=10,max=30",
                             "--json")
    assert code == 0, err
    d = json.loads(out)
    assert d["samples"] == len(d["maes"]) <= 30 and d["status"] in ("converged", "maximum")
    assert d["auto"] == "auto:round=10,max=30,tol=0.5,rel=0.5,mean=0.1"


@pytest.mark.parametrize("samples, fragment", [("auto:tol=0", "'tolerance'"), ("auto:max=1", "'maximum'"),
                                               ("auto:round=x", "round must be a number")])
def test_sample_bad_auto_is_one_line(capsys, samples, fragment):
    code, _, err = run_cli(capsys, "sample", "--arch", "3", "--look-back", "2", "--samples", samples)
    assert fragment in one_line_error(code, err)
