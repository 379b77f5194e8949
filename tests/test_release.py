"""The release a user installs (issue 31 item 5): the sdist and the wheel build, the wheel installs in a fresh
virtual environment, and its ``mae-ort`` prints the version and samples as this checkout does.

Built offline with setuptools' own PEP 517 hooks (``setuptools.build_meta``, the build backend pyproject.toml
names), the wheel from the unpacked sdist as ``python -m build`` does, so that a file missing from the sdist
fails here.  The fresh environment gets mae-ort from the wheel only (``pip install --no-deps --no-index``); its
dependencies come from this environment's site-packages through a ``.pth`` line, which adds that folder without
running its ``.pth`` files (so this checkout's editable install stays out), instead of a download of several
hundred MB.  About 15 s.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import sysconfig
import tarfile
import zipfile
from pathlib import Path

import pytest

import mae_ort
from tests.conftest import ROOT

pytestmark = pytest.mark.release

BUILD = "import sys; from setuptools import build_meta as b; print(getattr(b, sys.argv[1])(sys.argv[2]))"


def _build(kind: str, source: Path, dist: Path) -> Path:
    proc = subprocess.run([sys.executable, "-c", BUILD, kind, str(dist)], cwd=source, capture_output=True,
                          text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return dist / proc.stdout.strip().splitlines()[-1]


def _env(tmp: Path) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "VIRTUAL_ENV")}
    env["MAE_ORT_CACHE"] = str(tmp / "cache")
    return env


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> tuple[Path, Path]:
    """The sdist of this checkout and the wheel built from it."""
    tmp = tmp_path_factory.mktemp("release")
    dist = tmp / "dist"
    dist.mkdir()
    sdist = _build("build_sdist", ROOT, dist)
    with tarfile.open(sdist) as tar:
        tar.extractall(tmp / "src", filter="data")
    return sdist, _build("build_wheel", tmp / "src" / sdist.name.removesuffix(".tar.gz"), dist)


def test_the_sdist_and_the_wheel_hold_the_package_its_licence_and_its_version(wheel):
    sdist, whl = wheel
    version = mae_ort.__version__
    assert sdist.name == f"mae_ort-{version}.tar.gz" and whl.name == f"mae_ort-{version}-py3-none-any.whl"
    with tarfile.open(sdist) as tar:
        names = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
    assert {"LICENSE", "CHANGELOG.md", "README.md", "pyproject.toml", "mae_ort/py.typed", "kernels/forward.py"} <= names
    with zipfile.ZipFile(whl) as z:
        files = set(z.namelist())
        meta = z.read(f"mae_ort-{version}.dist-info/METADATA").decode()
        licence = z.read(f"mae_ort-{version}.dist-info/licenses/LICENSE").decode()
    assert {"mae_ort/py.typed", "mae_ort/_version.py", "mae_ort/kernels/forward.py", "mae_ort/cli/jsonout.py"} <= files
    assert not any(f.startswith("tests/") for f in files)
    assert licence == (ROOT / "LICENSE").read_text() and licence.startswith("MIT License")
    assert f"\nVersion: {version}\n" in meta and "\nLicense-Expression: MIT\n" in meta
    assert "\nClassifier: Typing :: Typed\n" in meta and "\nLicense-File: LICENSE\n" in meta


def test_the_wheel_installs_and_its_command_runs(wheel, tmp_path):
    _, whl = wheel
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True, timeout=120)
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")
    site = subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    ours = {sysconfig.get_paths()["purelib"], sysconfig.get_paths()["platlib"]}
    (Path(site) / "_dependencies.pth").write_text("".join(f"{p}\n" for p in sorted(ours)))
    proc = subprocess.run([sys.executable, "-m", "pip", "--python", str(python), "install", "--quiet", "--no-deps",
                           "--no-index", "--disable-pip-version-check", str(whl)], capture_output=True, text=True,
                          timeout=300)
    assert proc.returncode == 0, proc.stderr[-3000:]
    env, cwd = _env(tmp_path), tmp_path  # not the checkout: nothing of it on the path
    where = subprocess.run([str(python), "-c", "import mae_ort; print(mae_ort.__file__)"], cwd=cwd, env=env,
                           capture_output=True, text=True, check=True).stdout.strip()
    assert Path(where).is_relative_to(venv)  # the wheel's copy, not this checkout's
    command = bin_dir / "mae-ort"
    version = subprocess.run([str(command), "--version"], cwd=cwd, env=env, capture_output=True, text=True,
                             timeout=120)
    assert version.returncode == 0 and version.stdout.strip() == f"mae-ort, version {mae_ort.__version__}"
    args = ["sample", "--arch", "4", "--look-back", "3", "--samples", "10", "--seed", "3", "--runtime", "onnxruntime"]
    run = subprocess.run([str(command), *args, "--json"], cwd=cwd, env=env, capture_output=True, text=True,
                         timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    got = json.loads(run.stdout)
    here = mae_ort.sample(mae_ort.sine(), arch=[4], look_back=3, samples=10, seed=3, runtime="onnxruntime")
    assert got["arch"] == [4] and got["samples"] == 10
    assert got["maes"] == pytest.approx(list(here.maes), rel=1e-6)
    assert got["log_p"] == pytest.approx(here.log_p, rel=1e-9)
