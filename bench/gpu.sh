#!/usr/bin/env bash
# GPU run of issues 5 and 22: mae-ort with onnxruntime's CUDA provider, the PyTorch peers on CUDA
# (torch_batched_cuda, torch_compile_cuda) and JAX on the GPU (jax_vmap_gpu) where importable, against
# mae-ort's CPU runtimes of the same machine in the same run, on the six cases; then a 2,000-row slice
# of the paper's three-layer space (7-31 units per layer, look-back 1/10/20/30) swept once by maeort_cuda.
# Bounded by GPU_BENCH_BUDGET_S (default 540 s, the whole script; the suite checkpoints after each case). Writes bench/gpu_results.json (picked up by bench/RESULTS.md
# in a GPU section; this script re-renders RESULTS.md when bench/results.json exists) and copies it,
# with the worker logs, to $OUT when that is set.
#
# Python, in this order:
#   1. the repository's .venv when it exists (with onnxruntime-gpu in place of onnxruntime for CUDA);
#   2. else bench/_work/gpu-venv: a venv on top of the system Python's packages, with mae-ort installed
#      into it offline (--no-deps); if the system Python lacks dependencies, `pip install -e .` from the
#      package registry (bounded to 120 s; fails fast when there is none).
# When the chosen onnxruntime has no CUDAExecutionProvider, the script says so plainly, then tries to add
# onnxruntime-gpu (a wheel named by $ORT_GPU_WHEEL or found in bench/_work/wheels/, else the registry,
# bounded to 150 s) in bench/_work/ort-gpu, which shadows the CPU onnxruntime through PYTHONPATH.
# If the CUDA provider is still absent it runs the CPU contenders only and records "CUDA provider ABSENT".
# Usage: bash bench/gpu.sh [--dry-run] [python -m bench.suite options, e.g. --cases lstm31x3_lb30 --throughput 10]
#   --dry-run  the whole script on any machine (the CPU where there is no GPU), installing nothing: tiny cases,
#              a 4-row slice, results in $GPU_DRY_OUT (default bench/_work/gpu-dry-run), RESULTS.md untouched
# Environment: GPU_BENCH_BUDGET_S (default 540, the whole script), GPU_BENCH_NO_INSTALL=1 (never pip),
# ORT_GPU_WHEEL (a local onnxruntime-gpu wheel to add when the provider is absent), GPU_BENCH_PEERS_INSTALL=1
# (try `pip install torch jax[cuda12]` into the chosen Python when they are absent; bounded to 200 s).
set -uo pipefail
cd "$(dirname "$0")/.."
T0=$(date +%s)
DRY=0
ARGS=()
for a in "$@"; do
  if [ "$a" = "--dry-run" ]; then DRY=1; else ARGS+=("$a"); fi
done
if [ "$DRY" = 1 ]; then
  export GPU_BENCH_NO_INSTALL=1
  DRY_OUT="${GPU_DRY_OUT:-bench/_work/gpu-dry-run}"
  mkdir -p "$DRY_OUT"
  ARGS+=(--dry-run --out "$DRY_OUT")
fi
BUDGET=${GPU_BENCH_BUDGET_S:-540}          # the whole script, seconds
left() { echo $(( BUDGET - ($(date +%s) - T0) )); }
say() { echo "[gpu.sh $(date +%H:%M:%S)] $*" >&2; }
mkdir -p bench/_work/logs
export TF_CPP_MIN_LOG_LEVEL=3 PIP_DISABLE_PIP_VERSION_CHECK=1
export PYTHONPATH="$PWD${PYTHONPATH:+:$PYTHONPATH}"

if command -v nvidia-smi >/dev/null 2>&1; then
  nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv,noheader >&2 || true
else
  say "nvidia-smi not found: no NVIDIA driver visible on this machine"
fi

PY=""
core_ok() { "$1" -c "import numpy, scipy, pandas, onnx, onnxruntime, numba, mae_ort, mae_ort.kernels.forward" >/dev/null 2>&1; }
GV=bench/_work/gpu-venv
if [ -x .venv/bin/python ] && core_ok .venv/bin/python; then
  PY=.venv/bin/python; say "using the repository's .venv"
elif [ -x $GV/bin/python ] && core_ok $GV/bin/python; then
  PY=$GV/bin/python; say "using $GV"
else
  say "no usable .venv: creating $GV on top of the system Python's packages"
  python3 -m venv --system-site-packages $GV >/dev/null 2>&1 || true
  if [ -x $GV/bin/python ]; then
    # offline first: only mae-ort itself, on top of what the system Python already has
    timeout 60 $GV/bin/python -m pip install --quiet --no-deps --no-build-isolation --no-index -e . \
      >bench/_work/logs/gpu-venv.log 2>&1 || true
    if ! core_ok $GV/bin/python; then
      say "the system Python lacks dependencies: trying the package registry (bounded to 120 s)"
      timeout 120 $GV/bin/python -m pip install --quiet --retries 0 --timeout 15 -e . \
        >>bench/_work/logs/gpu-venv.log 2>&1 || true
    fi
    if core_ok $GV/bin/python; then PY=$GV/bin/python; say "using $GV"; fi
  fi
  if [ -z "$PY" ]; then
    say "FAILED: no Python with numpy, scipy, pandas, onnx, onnxruntime, numba and mae-ort (see bench/_work/logs/gpu-venv.log)"
    exit 1
  fi
fi

providers() { "$PY" -c "import onnxruntime as o; print(o.__version__, ','.join(o.get_available_providers()))" 2>/dev/null; }
read -r ORT_VER PROVS <<<"$(providers)"
say "onnxruntime $ORT_VER, providers: $PROVS"
if [[ ",$PROVS," != *",CUDAExecutionProvider,"* ]]; then
  say "CUDA provider ABSENT in this onnxruntime ($ORT_VER): it is the CPU-only package; trying to add onnxruntime-gpu"
  TGT=bench/_work/ort-gpu
  WHEEL="${ORT_GPU_WHEEL:-$(ls bench/_work/wheels/onnxruntime_gpu-*.whl 2>/dev/null | head -n1)}"
  if [ -n "$WHEEL" ]; then
    timeout 150 "$PY" -m pip install --quiet --no-deps --target "$TGT" "$WHEEL" >bench/_work/logs/ort-gpu.log 2>&1
  elif [ -n "${GPU_BENCH_NO_INSTALL:-}" ]; then
    say "GPU_BENCH_NO_INSTALL is set: not installing onnxruntime-gpu"
  elif [ "$(left)" -gt 200 ]; then
    # no numpy etc. into the target (they would shadow the venv's); the CUDA/cuDNN runtime wheels are plain libraries
    timeout 150 "$PY" -m pip install --quiet --retries 0 --timeout 15 --target "$TGT" --no-deps \
      onnxruntime-gpu nvidia-cuda-runtime-cu12 nvidia-cudnn-cu12 nvidia-cublas-cu12 nvidia-cufft-cu12 \
      nvidia-curand-cu12 nvidia-cuda-nvrtc-cu12 >bench/_work/logs/ort-gpu.log 2>&1
  fi
  if [ -d "$TGT/onnxruntime" ]; then
    export PYTHONPATH="$PWD/$TGT:$PYTHONPATH"
    for d in "$TGT"/nvidia/*/lib; do [ -d "$d" ] && export LD_LIBRARY_PATH="$PWD/$d${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"; done
    read -r ORT_VER PROVS <<<"$(providers)"
    say "after adding onnxruntime-gpu: onnxruntime $ORT_VER, providers: $PROVS"
  else
    say "could not add onnxruntime-gpu (offline? see bench/_work/logs/ort-gpu.log)"
  fi
fi
if [[ ",$PROVS," == *",CUDAExecutionProvider,"* ]]; then
  say "CUDA provider present"
else
  say "CUDA provider ABSENT: the GPU contender will be reported as not available; running the CPU baselines only"
fi

peer_state() {
  "$PY" - <<'PYEOF' 2>/dev/null
try:
    import torch
    t = f"torch {torch.__version__} cuda={'yes' if torch.cuda.is_available() else 'no'}"
except Exception as e:
    t = f"torch absent ({type(e).__name__})"
try:
    import jax
    try:
        g = len(jax.devices("gpu"))
    except Exception:
        g = 0
    j = f"jax {jax.__version__} gpus={g}"
except Exception as e:
    j = f"jax absent ({type(e).__name__})"
print(t + "; " + j)
PYEOF
}
say "peers: $(peer_state)"
if [ -n "${GPU_BENCH_PEERS_INSTALL:-}" ] && [ -z "${GPU_BENCH_NO_INSTALL:-}" ] && [ "$(left)" -gt 300 ] \
   && [[ "$(peer_state)" != *"cuda=yes"*"gpus="[1-9]* ]]; then
  say "trying to add torch (CUDA) and jax[cuda12] (bounded to 200 s)"
  timeout 200 "$PY" -m pip install --quiet --retries 0 --timeout 15 torch "jax[cuda12]" \
    >bench/_work/logs/peers-gpu.log 2>&1 || say "could not add them (offline? see bench/_work/logs/peers-gpu.log)"
  say "peers now: $(peer_state)"
fi

REM=$(( $(left) - 10 ))
if [ "$REM" -lt 60 ]; then REM=60; fi
say "running the GPU suite (limit ${REM} s)"
timeout "$REM" "$PY" -m bench.suite --gpu "${ARGS[@]}"
rc=$?
if [ "$DRY" = 1 ]; then
  say "dry run finished in $(( $(date +%s) - T0 )) s (exit $rc): $DRY_OUT/gpu_results.json"
  exit $rc
fi
if [ $rc -eq 124 ]; then say "the GPU suite ran out of time (${REM} s); bench/gpu_results.json may be missing"; fi
if [ -f bench/results.json ] && [ -f bench/gpu_results.json ]; then
  "$PY" -m bench.suite --report-only || true
fi
if [ -n "${OUT:-}" ] && [ -d "${OUT:-}" ]; then
  cp -f bench/gpu_results.json "$OUT"/ 2>/dev/null || true
  cp -f bench/RESULTS.md "$OUT"/ 2>/dev/null || true
  mkdir -p "$OUT/logs" && cp -f bench/_work/logs/*.log "$OUT/logs/" 2>/dev/null || true
fi
say "finished in $(( $(date +%s) - T0 )) s (exit $rc)"
exit $rc
