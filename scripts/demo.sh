#!/usr/bin/env bash
# Set up .venv (no TensorFlow needed) and run a real sampling run on the paper's sine wave:
# a 3-layer LSTM [31,31,31], look-back 30, 100 random Normal(0,1) weight samples, threshold 0.01.
# Extra arguments go to `mae-ort sample` (e.g. --preset paper, --arch 20,20 --look-back 10, --json).
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_signals.sh  # Ctrl-C / SIGTERM while .venv is set up: one line, exit 130 / 143
run_mae bash scripts/setup.sh test
exec .venv/bin/mae-ort sample --arch 31,31,31 --look-back 30 --samples 100 --threshold 0.01 --seed 0 "$@"
