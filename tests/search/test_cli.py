"""mae-ort search: output, resuming, the shared database file, one-line errors with exit code 2."""

from __future__ import annotations

import optuna

from mae_ort.cli import COMMANDS
from mae_ort.results.store import open_store
from tests.conftest import one_line_error, run_cli

TINY = ["--units", "3:4", "--layers", "1:2", "--look-back", "1,2", "--samples", "5", "--quiet"]


run = run_cli


def test_search_is_registered_once():
    assert [name for name, _ in COMMANDS].count("search") == 1


def test_search_prints_the_best_trials_and_resumes(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    code, out, err = run(capsys, "search", *TINY, "--trials", "5", "--sampler", "resn", "--db", db, "--study", "cli")
    assert code == 0, err
    assert "study cli in" in out and "5 trials (5 new)" in out and "rank" in out and "log_p" in out
    study = optuna.load_study(study_name="cli", storage=f"sqlite:///{db}")
    assert len(study.trials) == 5
    assert open_store(db).count() == len({t.user_attrs["row_id"] for t in study.trials})
    code, out, _ = run(capsys, "search", *TINY, "--trials", "7", "--sampler", "resn", "--db", db, "--study", "cli")
    assert code == 0 and "7 trials (2 new)" in out
    code, out, _ = run(capsys, "rank", "--db", db, "--top", "3")  # the screening commands read the same file
    assert code == 0 and "log_p" in out


def test_bad_input_is_one_line_and_exit_code_2(tmp_path, capsys):
    db = tmp_path / "r.sqlite"
    assert run(capsys, "search", *TINY, "--trials", "3", "--db", db, "--study", "s")[0] == 0
    before = open_store(db).count()
    line = one_line_error(*run(capsys, "search", *TINY, "--trials", "0", "--db", db)[::2])
    assert "'trials' parameter of search" in line and "Got 0" in line
    line = one_line_error(*run(capsys, "search", *TINY, "--sampler", "cmaes", "--db", db)[::2])
    assert "--sampler" in line and "cmaes" in line
    line = one_line_error(*run(capsys, "search", *TINY, "--objective", "median", "--db", db)[::2])
    from mae_ort.sampling.scores import RANKABLE

    assert "--objective" in line and "'median'" in line and all(n in line for n in RANKABLE)
    line = one_line_error(*run(capsys, "search", *TINY, "--storage", "nope://", "--db", db)[::2])
    assert "cannot open the Optuna storage 'nope://'" in line
    line = one_line_error(*run(capsys, "search", *TINY[:4], "--look-back", "1,3", *TINY[6:], "--trials", "4",
                               "--db", db, "--study", "s")[::2])
    assert "a different space (look_backs 1,2 there, 1,3 here)" in line and "--study NAME" in line
    line = one_line_error(*run(capsys, "search", "--trials", "3", "--db", db)[::2])
    assert "say what to search" in line
    assert open_store(db).count() == before
    assert len(optuna.load_study(study_name="s", storage=f"sqlite:///{db}").trials) == 3


def test_search_without_optuna_names_the_extra(tmp_path):
    """Optuna missing (sys.modules blocks it, in a fresh process): one line naming the search extra, no traceback."""
    import subprocess
    import sys

    code = ("import sys; sys.modules['optuna'] = None\n"
            "from mae_ort.cli import main\n"
            f"sys.exit(main(['search', '--units', '3:4', '--layers', '1', '--look-back', '1', '--trials', '2', "
            f"'--db', {str(tmp_path / 'r.sqlite')!r}]))\n")
    res = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert res.returncode == 2, res.stderr
    assert res.stderr.strip() == "error: mae-ort search needs Optuna: pip install 'mae-ort[search]'"
    assert not (tmp_path / "r.sqlite").exists()
