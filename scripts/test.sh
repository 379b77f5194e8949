#!/usr/bin/env bash
# Set up .venv from pyproject.toml (the dev extras: keras, dask, search, test, baselines...; and the integrations
# extra: Darts and NeuralForecast with PyTorch's CPU build), lint with ruff, type-check with mypy, run the tests
# (tests/test_release.py builds and installs the wheel).
# Usage: bash scripts/test.sh [pytest args]     e.g.  bash scripts/test.sh -m slow
#        bash scripts/test.sh -m "not slow and not kills"     the development loop (no process-stopping tests)
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
# The integrations extra on its own line (its own stamp): scripts that check for `setup.sh dev` still find it.
bash scripts/setup.sh integrations
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-2}"
echo "ruff check (configuration in pyproject.toml)..." >&2
.venv/bin/ruff check mae_ort kernels tests bench
echo "mypy (configuration in mypy.ini)..." >&2
.venv/bin/mypy
set +e
.venv/bin/python -m pytest "$@"
rc=$?
set -e
if [ "$rc" -eq 5 ]; then
  echo "pytest collected no tests" >&2
  exit 1
fi
exit "$rc"
