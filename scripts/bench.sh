#!/usr/bin/env bash
# Run the benchmark suite of issue 5: every contender checked against mae-ort's MAEs, then timed
# (interleaved rounds), plus throughput, one-time costs and peak memory.
# Writes bench/RESULTS.md and bench/results.json.
# Usage: bash scripts/bench.sh [--quick] [python -m bench.suite options, e.g. --only maeort_auto,keras_loop]
#   --quick   the same in under 3 minutes on a quiet 2-core machine (fewer cases, rounds, architectures)
# For honest numbers run it on an otherwise idle machine: RESULTS.md records the load average.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh dev
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"
start=$(date +%s)
.venv/bin/python -m bench.suite "$@"
echo "bench: finished in $(( $(date +%s) - start )) s; see bench/RESULTS.md and bench/results.json" >&2
