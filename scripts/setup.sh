#!/usr/bin/env bash
# Create (or refresh) the project's virtual environment in .venv from pyproject.toml.
# Usage: bash scripts/setup.sh [EXTRAS]   (default extras: dev = keras, dask, parquet, search, test, bench, baselines)
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_signals.sh
INTERRUPTED="rerun the same command to finish setting up .venv"
extras="${1:-dev}"
py="${PYTHON:-python3}"
stamp=".venv/.mae-ort-setup"
want="$(cat pyproject.toml | sha256sum | cut -c1-16) $extras"
if [ -x .venv/bin/python ] && [ -f "$stamp" ] && grep -qxF "$want" "$stamp"; then
  exit 0
fi
echo "setting up .venv with extras [$extras] (first run downloads the dependencies)..." >&2
run "$py" -m venv .venv
run .venv/bin/python -m pip install --quiet --upgrade pip
run .venv/bin/python -m pip install --quiet -e ".[$extras]"
echo "$want" >> "$stamp"
