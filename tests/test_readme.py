"""The README runs top to bottom: every ```bash and ```python block, in order, in one scratch folder.

The folder starts empty but for links to the repository's ``data/`` and ``scripts/`` (the paths the
README uses) and to this interpreter's venv as ``.venv``, so each block sees the files the blocks
above it wrote (``results.sqlite``, ...), as a reader who follows the README does.  Bash blocks run
one command at a time with the interpreter's ``bin`` folder first on ``PATH`` (what ``source
.venv/bin/activate`` does); Python blocks run as scripts with this interpreter.

Tables say how each command runs; every key must be a command of the README (so an edit of one
of them fails here instead of silently running something else):

* :data:`SHRUNK`: long sweeps, shrunk only through their own size options (checked: the shrunk
  command is the README's with only :data:`SIZE_OPTIONS` changed or added);
* :data:`NOT_RUN`: commands that cannot run here, each with the reason and a cheaper check (the
  script exists, its syntax or ``--help`` works);
* :data:`NEEDS_SERVER`: commands that need a server this test does not have: they must fail with
  exit code 2 and the one ``error:`` line given;
* :data:`NEEDS_EXTRA`: commands that need an optional extra: each runs again with the extra's module
  hidden and must then fail with the one line that names the extra to install (and, in the
  sequence, when the extra is really missing).

(:data:`AFTER_EXTRA`: commands that read what such a command wrote, skipped when it could not run.)
Commands no table lists run as written, except benchmarks, pip and elided (``...``) commands that other
sections may add (:func:`_generic_not_run`).  Blocks that import a module that is not installed
(``torch``, an extra) are skipped with the reason.  The whole sequence took 5.5 minutes on a shared
2-core machine (load 2-3), most of it the Keras trainings of validate and train.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import re
import shlex
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
BIN = Path(sys.executable).parent

#: The options through which a command may be shrunk (sizes, budgets, waits), and nothing else.
SIZE_OPTIONS = ("--samples", "--sample", "--units", "--layers", "--look-back", "--epochs", "--pick", "--top",
                "--trials", "--repeats", "--connect-timeout")

#: README command -> the same command shrunk through its size options (keep their databases consistent:
#: every row of results.sqlite keeps the README's sampling settings, so validate and train find one).
SHRUNK = {
    "mae-ort screen --space paper-2layer --db results.sqlite":
        "mae-ort screen --space paper-2layer --db results.sqlite --sample 4",
    "mae-ort screen --space paper-1layer --db results.sqlite":
        "mae-ort screen --space paper-1layer --db results.sqlite --units 5,10,20 --look-back 10,20",
    "mae-ort screen --units 7:31 --layers 1:3 --look-back 1,10,20,30 --cell lstm --db results.sqlite":
        "mae-ort screen --units 7:8 --layers 1:2 --look-back 1 --cell lstm --db results.sqlite",
    "mae-ort screen --space paper-3layer --sample 500 --sample-seed 1 --db results.sqlite":
        "mae-ort screen --space paper-3layer --sample 3 --sample-seed 1 --db results.sqlite",
    "mae-ort screen --space paper-3layer --scheduler tcp://scheduler-host:8786 --db results.sqlite":
        "mae-ort screen --space paper-3layer --scheduler tcp://scheduler-host:8786 --db results.sqlite "
        "--connect-timeout 2",
    "mae-ort screen --space paper-2layer --samples auto --db auto.sqlite":
        "mae-ort screen --space paper-2layer --samples auto --db auto.sqlite --sample 3",
    "mae-ort screen --space paper-2layer --samples auto:round=25,max=400,tol=0.5,rel=0.5,mean=0.1 --db auto.sqlite":
        "mae-ort screen --space paper-2layer --samples auto:round=25,max=50,tol=0.5,rel=0.5,mean=0.1 "
        "--db auto.sqlite --sample 3",
    "mae-ort screen --space paper-2layer --samples auto --race 50 --db race.sqlite":
        "mae-ort screen --space paper-2layer --samples auto:max=50 --race 50 --db race.sqlite --sample 6",
    "mae-ort search --units 7:31 --layers 1:3 --look-back 1:30 --trials 300 --sampler tpe --db results.sqlite "
    "--study sine-tpe":
        "mae-ort search --units 7:31 --layers 1:3 --look-back 1:30 --trials 3 --sampler tpe --db results.sqlite "
        "--study sine-tpe",
    "mae-ort search --space paper-2layer --trials 200 --sampler resn --db results.sqlite":
        "mae-ort search --space paper-2layer --trials 3 --sampler resn --db results.sqlite",
    "mae-ort search --space paper-3layer --trials 300 --jobs 2 --db results.sqlite":
        "mae-ort search --space paper-3layer --trials 3 --jobs 2 --db results.sqlite",
    "mae-ort search --space paper-3layer --trials 300 --scheduler tcp://scheduler-host:8786 --jobs 16 "
    "--db results.sqlite":
        "mae-ort search --space paper-3layer --trials 3 --scheduler tcp://scheduler-host:8786 --jobs 16 "
        "--db results.sqlite --connect-timeout 2",
    "mae-ort validate --db results.sqlite --preset paper --pick 40 --trainer paper --epochs 1,10,100 --jobs 2":
        "mae-ort validate --db results.sqlite --preset paper --pick 3 --trainer paper --epochs 1,2 --jobs 2",
    "mae-ort validate --db results.sqlite --preset paper --pick 20 --trainer modern --repeats 2 --jobs 2":
        "mae-ort validate --db results.sqlite --preset paper --pick 1 --trainer modern --repeats 2 --jobs 2 "
        "--epochs 1",
    "mae-ort screen --units 5:40:5 --layers 1 --look-back 1,10,20 --samples 50 --db scored.sqlite --scores all "
    "--top 0":
        "mae-ort screen --units 5:10:5 --layers 1 --look-back 1,10,20 --samples 50 --db scored.sqlite --scores all "
        "--top 0",
    "mae-ort train --db results.sqlite --preset paper --top 5 --trainer paper --epochs 100 --out best/ --jobs 2":
        "mae-ort train --db results.sqlite --preset paper --top 2 --trainer paper --epochs 2 --out best/ --jobs 2",
}


def _bash_syntax(script):
    """A check: ``script`` exists and bash parses it."""
    def check(folder=None):
        path = ROOT / script
        assert path.is_file(), f"{script} is missing"
        res = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True)
        assert res.returncode == 0, res.stderr
    return check


def _usage_names(script, *modes):
    """A check: ``script`` parses, and its usage line (printed for a wrong mode, before any work) lists ``modes``."""
    def check(folder=None):
        _bash_syntax(script)()
        res = subprocess.run(["bash", str(ROOT / script), "--no-such-mode"], capture_output=True, text=True,
                             cwd=ROOT, timeout=60)
        assert res.returncode == 2 and "usage:" in res.stderr, res.stderr
        for mode in modes:
            assert re.search(rf"\b{mode}\b", res.stderr), f"{script}'s usage does not list {mode}: {res.stderr}"
    return check


def _python_help(module):
    """A check: ``python -m module --help`` exits with 0 (run from the repository, as the README does)."""
    def check(folder=None):
        path = ROOT / (module.replace(".", "/") + ".py")
        if not path.is_file():
            pytest.skip(f"{module} is not in this checkout (a benchmark another branch adds?)")
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        res = subprocess.run([sys.executable, "-m", module, "--help"], capture_output=True, text=True, cwd=ROOT,
                             env=env, timeout=300)
        assert res.returncode == 0, res.stderr[-2000:]
    return check


def _activate(folder: Path):
    """A check: the scratch folder's ``.venv`` (a link to this interpreter's venv) activates and gives ``mae-ort``."""
    assert (BIN / "mae-ort").exists(), f"no mae-ort script beside {sys.executable}"
    if not (folder / ".venv").exists():
        pytest.skip("this interpreter does not run in a virtual environment")
    res = subprocess.run(["bash", "-c", "source .venv/bin/activate && command -v mae-ort"], cwd=folder,
                         capture_output=True, text=True, timeout=60)
    found = Path(res.stdout.strip())
    assert res.returncode == 0 and found.name == "mae-ort" and found.is_file(), res  # (a copied venv's activate
    # script names the venv it was made in)


def _cpu_fallback(folder: Path):
    """``--device cuda`` runs anywhere: without the CUDA provider it warns once and runs on the CPU (as the README
    says below this block)."""
    import onnxruntime

    res = _run_bash("mae-ort sample --device cuda --arch 7 --look-back 1 --samples 10", folder)
    assert res.returncode == 0, res.stderr[-2000:]
    if "CUDAExecutionProvider" not in onnxruntime.get_available_providers():
        warned = [line for line in res.stderr.splitlines() if line.startswith("warning:")]
        assert len(warned) == 1 and "running on the CPU" in warned[0], res.stderr
        assert "device=cpu" in res.stdout, res.stdout


#: README command -> (why it is not run here, a cheaper check that runs instead).
NOT_RUN = {
    "bash scripts/demo.sh":
        ("sets up .venv in the repository (pip); the sampling run it ends with is the Command line block's first",
         _bash_syntax("scripts/demo.sh")),
    "bash scripts/test.sh":
        ("sets up .venv and runs this test suite, this test included", _bash_syntax("scripts/test.sh")),
    "source .venv/bin/activate":
        ("each command runs in its own shell; PATH starts with the interpreter's bin folder (the venv's) instead; "
         "checked: the folder's .venv, a link to that venv, activates", _activate),
    "pip install mae-ort":
        ("changes the installed packages", None),
    'pip uninstall -y onnxruntime && pip install "onnxruntime-gpu[cuda,cudnn]"':
        ("changes the installed packages", None),
    "mae-ort sample --device cuda ...":
        ("'...' stands for the other options; needs an NVIDIA GPU; checked: --device cuda runs anywhere",
         _cpu_fallback),
    "bash scripts/reproduce_paper.sh small":
        ("hours of training (83 minutes on 2 cores)", _usage_names("scripts/reproduce_paper.sh", "small")),
    "bash scripts/reproduce_paper.sh eunite":
        ("an hour of training", _usage_names("scripts/reproduce_paper.sh", "eunite")),
    "bash scripts/reproduce_paper.sh waste":
        ("an hour of training", _usage_names("scripts/reproduce_paper.sh", "waste")),
    "bash scripts/bench.sh":
        ("the full benchmark (timings, an idle machine, rewrites bench/RESULTS.md)", _bash_syntax("scripts/bench.sh")),
    "bash scripts/bench.sh --quick":
        ("a benchmark (3 minutes of timings, rewrites bench/RESULTS.md)", _python_help("bench.suite")),
    ".venv/bin/python -m bench.sweep_share":
        ("a benchmark (timings of a paper-3layer sub-grid)", _python_help("bench.sweep_share")),
    ".venv/bin/python -m bench.search_e2e --series sine --seeds 0,1,2":
        ("a benchmark (searches and trainings, hours)", _python_help("bench.search_e2e")),
    ".venv/bin/python -m bench.auto_samples":
        ("a benchmark (the whole paper-2layer three times)", _python_help("bench.auto_samples")),
    "bash bench/gpu.sh":
        ("needs an NVIDIA GPU", _bash_syntax("bench/gpu.sh")),
}

def _generic_not_run(command: str):
    """``(reason, check)`` for a command that no table lists but that cannot run here either (a benchmark, a pip
    command, an elided ``...`` command: those other sections may add), or None."""
    m = re.search(r"python\S* -m (bench\.\w+)", command)
    if m:
        return "a benchmark (not listed in NOT_RUN)", _python_help(m.group(1))
    m = re.match(r"bash ((?:bench|scripts)/\S*bench\S*\.sh)\b", command) or re.match(r"bash (bench/\S+\.sh)\b", command)
    if m:
        return "a benchmark script (not listed in NOT_RUN)", _bash_syntax(m.group(1))
    if re.match(r"(pip|python\S* -m pip) ", command):
        return "changes the installed packages", None
    if "..." in shlex.split(command):
        return "'...' stands for the other options", None
    return None


#: Commands that need a server this test does not have -> the start of the one ``error:`` line they must end with.
NEEDS_SERVER = {
    "mae-ort screen --space paper-3layer --scheduler tcp://scheduler-host:8786 --db results.sqlite":
        "error: cannot reach the Dask scheduler at 'tcp://scheduler-host:8786'",
    "mae-ort search --space paper-3layer --trials 300 --scheduler tcp://scheduler-host:8786 --jobs 16 "
    "--db results.sqlite":
        "error: cannot reach the Dask scheduler at 'tcp://scheduler-host:8786'",
    "mae-ort search --space paper-2layer --objective mean --storage postgresql://me@host/optuna --db results.sqlite":
        "error: cannot open the Optuna storage 'postgresql://me@host/optuna'",
}

#: What each extra (or database driver) installs -> (the modules that stand for it, what the one line of a
#: command without it says).  SQLAlchemy's PostgreSQL driver is psycopg2 or psycopg (3), by its version.
EXTRAS = {
    "dask": (("distributed",), "pip install 'mae-ort[dask]'"),
    "search": (("optuna",), "pip install 'mae-ort[search]'"),
    "parquet": (("pyarrow",), "pip install 'mae-ort[parquet]'"),
    "keras": (("keras",), "pip install 'mae-ort[keras]'"),
    "postgresql": (("psycopg2", "psycopg"), "its database driver is not installed (No module named 'psycopg"),
}

#: README command -> the extras it needs (when one is missing, it must fail with that extra's line).
NEEDS_EXTRA = {
    "mae-ort screen --space paper-3layer --scheduler tcp://scheduler-host:8786 --db results.sqlite": ("dask",),
    "mae-ort export --db results.sqlite --out results.parquet": ("parquet",),
    "mae-ort search --units 7:31 --layers 1:3 --look-back 1:30 --trials 300 --sampler tpe --db results.sqlite "
    "--study sine-tpe": ("search",),
    "mae-ort search --space paper-2layer --trials 200 --sampler resn --db results.sqlite": ("search",),
    "mae-ort search --space paper-3layer --trials 300 --jobs 2 --db results.sqlite": ("search",),
    "mae-ort search --space paper-3layer --trials 300 --scheduler tcp://scheduler-host:8786 --jobs 16 "
    "--db results.sqlite": ("search", "dask"),
    "mae-ort search --space paper-2layer --objective mean --storage postgresql://me@host/optuna --db results.sqlite":
        ("search", "postgresql"),
    "mae-ort validate --db results.sqlite --preset paper --pick 40 --trainer paper --epochs 1,10,100 --jobs 2":
        ("keras",),
    "mae-ort validate --db results.sqlite --preset paper --pick 20 --trainer modern --repeats 2 --jobs 2":
        ("keras",),
    "mae-ort train --db results.sqlite --preset paper --top 5 --trainer paper --epochs 100 --out best/ --jobs 2":
        ("keras",),
    "mae-ort train --db eunite-delta.sqlite --csv data/eunite-training.csv --test-csv data/eunite-testing.csv "
    "--input MaxLoads,Temperature --target MaxLoads --scale minmax --top 1 --trainer modern --epochs 5 "
    "--out best-delta/": ("keras",),
}

#: Commands that read what a command needing an extra wrote: skipped (with the reason) when that extra is missing.
AFTER_EXTRA = {
    "mae-ort report --db results.sqlite --preset paper --out report/": "keras",
}


# -- reading the README --------------------------------------------------------------------------
@dataclasses.dataclass
class Block:
    """One fenced block: its language, text, first line in README.md and section heading."""

    lang: str
    text: str
    line: int
    section: str

    def commands(self) -> list[tuple[int, str]]:
        """A bash block's commands: ``(line, command)``, continuation lines joined, comments and blanks dropped."""
        out, pending, start = [], "", 0
        for i, raw in enumerate(self.text.splitlines(), self.line + 1):
            if not pending:
                start = i
            if raw.rstrip().endswith("\\"):
                pending += raw.rstrip()[:-1] + " "
                continue
            command = " ".join(_strip_comment(pending + raw).split())
            pending = ""
            if command:
                out.append((start, command))
        return out


def _strip_comment(line: str) -> str:
    """``line`` without a shell comment (a ``#`` starting a word, outside quotes)."""
    quote = None
    for i, ch in enumerate(line):
        if quote:
            quote = None if ch == quote else quote
        elif ch in "'\"":
            quote = ch
        elif ch == "#" and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def readme_blocks(text: str) -> list[Block]:
    """Every ```bash and ```python block of ``text``, in order."""
    blocks, section, lang, body, start = [], "", None, [], 0
    for n, line in enumerate(text.splitlines(), 1):
        if lang is None:
            if line.startswith("#"):
                section = line.lstrip("#").strip()
            m = re.fullmatch(r"```(\w+)\s*", line)
            if m:
                lang, body, start = m.group(1), [], n
        elif line.strip() == "```":
            if lang in ("bash", "python"):
                blocks.append(Block(lang, "\n".join(body) + "\n", start, section))
            lang = None
        else:
            body.append(line)
    return blocks


BLOCKS = readme_blocks(README.read_text())
COMMANDS = [c for b in BLOCKS if b.lang == "bash" for _, c in b.commands()]


def _size_free(command: str) -> list[str]:
    """``command``'s words without the size options and their values."""
    words, out, skip = shlex.split(command), [], False
    for w in words:
        if skip:
            skip = False
        elif w in SIZE_OPTIONS:
            skip = True
        elif w.split("=")[0] not in SIZE_OPTIONS:
            out.append(w)
    return out


def _missing(module: str) -> bool:
    return importlib.util.find_spec(module) is None


def _imports(text: str) -> list[str]:
    return sorted(set(re.findall(r"^\s*(?:import|from)\s+([A-Za-z_]\w*)", text, flags=re.M)))


# -- running it ----------------------------------------------------------------------------------
def _env(hide: Path | None = None) -> dict:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}", MPLBACKEND="Agg",
               TF_CPP_MIN_LOG_LEVEL="3", PYTHONUNBUFFERED="1")
    env.pop("PYTHONPATH", None)
    if hide is not None:
        env["PYTHONPATH"] = str(hide)
    return env


def _run_bash(command: str, cwd: Path, hide: Path | None = None):
    return subprocess.run(["bash", "-c", command], cwd=cwd, env=_env(hide), capture_output=True, text=True,
                          timeout=600)


def _hidden(folder: Path, modules) -> Path:
    """A folder which, first on PYTHONPATH, makes ``import module`` fail as if it were not installed."""
    stub = folder / f".hide-{'-'.join(modules)}"
    for module in modules:
        (stub / module).mkdir(parents=True, exist_ok=True)
        (stub / module / "__init__.py").write_text(
            f"raise ModuleNotFoundError(\"No module named '{module}'\", name={module!r})\n")
    return stub


def _one_error_line(res, start: str, command: str) -> None:
    """Exit code 2, no traceback, and an ``error:`` line that starts with ``start`` as the last line."""
    lines = [line for line in res.stderr.strip().splitlines() if line.strip()]
    assert res.returncode == 2, f"{command}: exit code {res.returncode}, expected 2:\n{res.stderr[-2000:]}"
    assert "Traceback" not in res.stderr, f"{command}:\n{res.stderr[-3000:]}"
    assert lines and lines[-1].startswith(start), f"{command}: expected a line starting {start!r}:\n{res.stderr}"
    assert sum(line.startswith("error:") for line in lines) == 1, res.stderr


class Sequence:
    """The README's blocks run in order in one folder; :meth:`through` runs them up to a block, once each."""

    def __init__(self, folder: Path):
        self.folder = folder
        self.outcomes: list[tuple[str, str]] = []  # per block: ("ok" | "skip" | "fail", what happened)
        self.missing_extras: set[str] = set()
        self.unmade: set[tuple[str, int]] = set()  # (path, README line) that a skipped Python block would write
        for name in ("data", "scripts"):
            (folder / name).symlink_to(ROOT / name, target_is_directory=True)
        if sys.prefix != sys.base_prefix:  # `.venv/bin/...` as the README writes it: this interpreter's venv
            (folder / ".venv").symlink_to(sys.prefix, target_is_directory=True)

    def through(self, index: int) -> tuple[str, str]:
        while len(self.outcomes) <= index:
            block = BLOCKS[len(self.outcomes)]
            try:
                outcome = self._python(block) if block.lang == "python" else self._bash(block)
            except AssertionError as e:
                outcome = ("fail", str(e))
            self.outcomes.append(outcome)
        return self.outcomes[index]

    def _python(self, block: Block):
        absent = [m for m in _imports(block.text) if _missing(m)]
        if absent:
            self.unmade.update((p, block.line) for p in _written_paths(block.text))
            return "skip", f"README.md:{block.line}: needs {', '.join(absent)}, not installed"
        script = self.folder / f"readme_{block.line}.py"
        script.write_text(block.text)
        t0 = time.perf_counter()
        res = subprocess.run([sys.executable, script.name], cwd=self.folder, env=_env(), capture_output=True,
                             text=True, timeout=600)
        assert res.returncode == 0, f"README.md:{block.line} (python block) failed:\n{res.stderr[-3000:]}"
        return "ok", f"README.md:{block.line} python block: {time.perf_counter() - t0:.1f} s"

    def _bash(self, block: Block):
        if re.search(r"\bimport torch\b", block.text) and _missing("torch"):
            return "skip", f"README.md:{block.line}: needs torch, not installed"
        log, skipped = [], []
        for line, command in block.commands():
            where = f"README.md:{line}: {command}"
            reason, check = NOT_RUN.get(command) or _generic_not_run(command) or (None, None)
            made_by = [line for path, line in self.unmade if path in command]
            if reason is None and made_by:  # it reads what a skipped block would have written
                skipped.append(f"{where}: not run (needs the files of the skipped block README.md:{made_by[0]})")
                continue
            if reason is not None:
                if check is not None:
                    try:
                        check(self.folder)
                    except pytest.skip.Exception as e:
                        reason = f"{reason}; its check skipped: {e}"
                skipped.append(f"{where}: not run ({reason})")
                continue
            if command in AFTER_EXTRA and AFTER_EXTRA[command] in self.missing_extras:
                skipped.append(f"{where}: not run (the {AFTER_EXTRA[command]} extra is missing)")
                continue
            run = SHRUNK.get(command, command)
            for extra in NEEDS_EXTRA.get(command, ()):  # the same command without the extra: one line naming it
                modules, advice = EXTRAS[extra]
                res = _run_bash(run, self.folder, hide=_hidden(self.folder, modules))
                _one_error_line(res, "error:", f"{where} (without {extra})")
                assert advice in res.stderr, f"{where} without {extra}: expected {advice!r}:\n{res.stderr}"
            t0 = time.perf_counter()
            res = _run_bash(run, self.folder)
            seconds = time.perf_counter() - t0
            absent = [e for e in NEEDS_EXTRA.get(command, ()) if all(_missing(m) for m in EXTRAS[e][0])]
            if absent:
                self.missing_extras.update(absent)
                _one_error_line(res, "error:", where)
                assert any(EXTRAS[e][1] in res.stderr for e in absent), f"{where}: expected the line naming " \
                    f"{' or '.join(absent)}:\n{res.stderr}"
            elif command in NEEDS_SERVER:
                _one_error_line(res, NEEDS_SERVER[command], where)
            else:
                assert res.returncode == 0, f"{where}\n(ran: {run}) exit code {res.returncode}:\n{res.stderr[-3000:]}"
                assert "Traceback" not in res.stderr, f"{where}:\n{res.stderr[-3000:]}"
            log.append(f"{where}: {seconds:.1f} s")
        return ("ok" if log else "skip"), "\n".join(log + skipped)


def _written_paths(text: str) -> set[str]:
    """The file and folder names a Python block spells out (quoted literals with a ``/`` or a file suffix, and
    ``Path("...")`` arguments), cut at the first ``{`` of an f-string and at a trailing ``/``."""
    out = set()
    for lit in re.findall(r"""(?:Path\()?f?["']([\w.\-/{}]+)["']""", text):
        if "/" in lit or re.search(r"\.[a-z]{2,6}$", lit) or f'Path("{lit}")' in text:
            stem = lit.split("{", 1)[0].rstrip("/")
            if stem:
                out.add(stem)
    return out


@pytest.fixture(scope="module")
def sequence(tmp_path_factory):
    return Sequence(tmp_path_factory.mktemp("readme"))


# -- the tables match the README -----------------------------------------------------------------
def test_the_readme_has_bash_and_python_blocks():
    langs = [b.lang for b in BLOCKS]
    assert langs.count("bash") >= 5 and langs.count("python") >= 3


@pytest.mark.parametrize("table", ["SHRUNK", "NOT_RUN", "NEEDS_SERVER", "NEEDS_EXTRA", "AFTER_EXTRA"])
def test_every_listed_command_is_in_the_readme(table):
    stale = [c for c in globals()[table] if c not in COMMANDS]
    assert not stale, f"{table} lists commands the README no longer has (update the table): {stale}"


@pytest.mark.parametrize("command", sorted(SHRUNK))
def test_shrunk_commands_differ_only_in_their_size_options(command):
    assert _size_free(SHRUNK[command]) == _size_free(command)
    assert SHRUNK[command] != command


def test_comments_continuations_and_quotes_are_read_as_bash_reads_them():
    block = Block("bash", "a --x 1 \\\n  --y 2   # note\n\nb --sep ';#' # c\n# only a comment\n", 10, "s")
    assert block.commands() == [(11, "a --x 1 --y 2"), (14, "b --sep ';#'")]


def test_commands_no_table_lists_are_run_unless_they_cannot_be():
    assert _generic_not_run(".venv/bin/python -m bench.new_bench --quick")[0].startswith("a benchmark")
    assert _generic_not_run("bash bench/tpu.sh")[0].startswith("a benchmark script")
    assert _generic_not_run("pip install 'mae-ort[keras]'")[0] == "changes the installed packages"
    assert _generic_not_run("mae-ort sample --device cuda ...")[0].startswith("'...'")
    assert _generic_not_run("mae-ort sample --arch 7 --look-back 1") is None
    assert _generic_not_run("python my_model.py") is None


# -- the sequence --------------------------------------------------------------------------------
@pytest.mark.parametrize("index", range(len(BLOCKS)),
                         ids=[f"{i}-{b.lang}-line{b.line}" for i, b in enumerate(BLOCKS)])
def test_readme_block_runs_in_order(sequence, index):
    earlier = [f"block {i} (README.md:{BLOCKS[i].line})" for i, (s, _) in enumerate(sequence.outcomes[:index])
               if s == "fail"]
    status, text = sequence.through(index)
    if status == "fail":
        pytest.fail(text + (f"\n(earlier failures: {', '.join(earlier)})" if earlier else ""), pytrace=False)
    print(text)
    if status == "skip":
        pytest.skip(text)
