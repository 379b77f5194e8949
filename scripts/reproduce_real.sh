#!/usr/bin/env bash
# The evidence on five real series (issue 29): screen, train under both target forms, choose one, train it with
# several seeds, report.  See docs/REPRODUCING.md ("Five real series").
#
# Usage: bash scripts/reproduce_real.sh eunite|waste|co2|elnino|seattle [--docs]
#   eunite   EUNITE daily maximum load (1997-1998 train, January 1999 test; season 7)
#   waste    one waste container's fill level (C-A100 of data/waste-2013.csv: 259 irregular days, no season)
#   co2      Mauna Loa weekly CO2 (season 52)
#   elnino   El Nino monthly sea-surface temperature (season 12)
#   seattle  Seattle hourly temperature 2010, cut to its last CUT (3000) hours (season 24)
# Per series: a 1-layer and a 2-layer study of PER_STUDY (24) architectures (units 2..32 per layer, look-backs
# 1,2,4,8 and the season; 16 without one), each screened with every training-free score under BOTH target forms
# (level and delta, one database each) and trained once under both (forecast trainer); then the form chosen by
# scripts/choose_form.py is trained with REPEATS (3) seeds and reported with the baselines.
# Everything goes to runs/real-<series>/ (level.sqlite, delta.sqlite, form-<form>/, report/, timing.md); --docs
# (or DOCS=1) also refreshes docs/report-<series>/ with the report, both databases and the timing log after every
# step, so a commit of it resumes: on a fresh clone the databases are copied from there when runs/ has none;
# form-level/ and form-delta/ there keep both forms' one-seed tables (scripts/default_score.py reads them).
#
# Environment overrides: PER_STUDY, SAMPLES (100 weight samples per row), EPOCHS (150, the forecast trainer's
# budget), REPEATS (3), JOBS (1 training process), THREADS (1 per process), SEED (0), CUT (seattle: 3000), RUN
# (the run folder), OUT (the report folder), DOCS_DIR (docs/report-<series>).  Reruns resume: finished rows and
# trainings are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_signals.sh  # Ctrl-C / SIGTERM: the running step stops cleanly, one line, exit 130 / 143

usage="usage: bash scripts/reproduce_real.sh eunite|waste|co2|elnino|seattle [--docs]"
series="${1:-}"
case "$series" in
  eunite|waste|co2|elnino|seattle) ;;
  *) echo "$usage" >&2; exit 2 ;;
esac
DOCS="${DOCS:-0}"
if [ "${2:-}" = "--docs" ]; then DOCS=1; elif [ -n "${2:-}" ]; then echo "$usage" >&2; exit 2; fi

run_mae bash scripts/setup.sh dev
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
py=.venv/bin/python
mae() { run_mae .venv/bin/mae-ort "$@"; }

PER_STUDY="${PER_STUDY:-24}"; SAMPLES="${SAMPLES:-100}"; EPOCHS="${EPOCHS:-150}"; REPEATS="${REPEATS:-3}"
JOBS="${JOBS:-1}"; THREADS="${THREADS:-1}"; SEED="${SEED:-0}"; CUT="${CUT:-3000}"
RUN="${RUN:-runs/real-$series}"; OUT="${OUT:-$RUN/report}"; DOCS_DIR="${DOCS_DIR:-docs/report-$series}"
INTERRUPTED="finished rows and trainings are kept in $RUN/level.sqlite and $RUN/delta.sqlite, rerun the same command to resume"
mkdir -p "$RUN"
for f in level delta; do  # a fresh clone resumes from the committed databases
  if [ ! -f "$RUN/$f.sqlite" ] && [ -f "$DOCS_DIR/$f.sqlite" ]; then cp "$DOCS_DIR/$f.sqlite" "$RUN/$f.sqlite"; fi
done
if [ ! -f "$RUN/timing.md" ] && [ -f "$DOCS_DIR/timing.md" ]; then cp "$DOCS_DIR/timing.md" "$RUN/timing.md"; fi

snapshot() {  # --docs: the databases (a consistent copy of each) and the timing log into DOCS_DIR
  [ "$DOCS" = 1 ] || return 0
  mkdir -p "$DOCS_DIR"
  run $py - "$RUN" "$DOCS_DIR" <<'PY'
import sqlite3, sys
from pathlib import Path
run, docs = Path(sys.argv[1]), Path(sys.argv[2])
for form in ("level", "delta"):
    src = run / f"{form}.sqlite"
    if src.exists():
        tmp = docs / f".{form}.sqlite.tmp"
        with sqlite3.connect(src) as a, sqlite3.connect(tmp) as b:
            a.backup(b)
        b.close()
        tmp.replace(docs / f"{form}.sqlite")
if (run / "timing.md").exists():
    (docs / "timing.md").write_text((run / "timing.md").read_text())
PY
}
t_all=$(date +%s)
echo "- run started $(date -u '+%Y-%m-%d %H:%M UTC') on $(nproc 2>/dev/null || echo '?') cores, load $(cut -d' ' -f1-3 /proc/loadavg 2>/dev/null || echo '?'), JOBS=$JOBS THREADS=$THREADS" >> "$RUN/timing.md"
step() {  # step NAME COMMAND...: run, time, and log it (runs/.../timing.md, the report's notes)
  local name="$1"; shift
  local t0; t0=$(date +%s)
  echo "== $name" >&2
  "$@"
  echo "  - $name: $(( $(date +%s) - t0 )) s" >> "$RUN/timing.md"
  snapshot
}

# -- the series: a training and a test file (screening samples on the training part only) ------------------
season=""
case "$series" in
  eunite) season=7; col=MaxLoads ;;
  waste) col=C-A100 ;;
  co2) season=52; col=co2 ;;
  elnino) season=12; col=sst ;;
  seattle) season=24; col=temp ;;
esac
run $py - "$series" "$RUN" "$CUT" <<'PY'
import sys
import pandas as pd
series, run, cut = sys.argv[1], sys.argv[2], int(sys.argv[3])
if series == "eunite":
    tr = pd.read_csv("data/eunite-training.csv")[["MaxLoads"]]
    te = pd.read_csv("data/eunite-testing.csv")[["MaxLoads"]]
else:
    f, col = {"waste": ("data/waste-2013.csv", "C-A100"), "co2": ("data/co2-weekly.csv", "co2"),
              "elnino": ("data/elnino-monthly.csv", "sst"), "seattle": ("data/seattle-hourly-2010.csv", "temp")}[series]
    d = pd.read_csv(f)[["date", col]]
    if series == "seattle":
        d = d.iloc[-cut:]
    n_train = int(len(d) * 0.8)
    tr, te = d.iloc[:n_train], d.iloc[n_train:]
tr.to_csv(f"{run}/train.csv", index=False)
te.to_csv(f"{run}/test.csv", index=False)
PY
data=(--csv "$RUN/train.csv" --input "$col" --scale minmax)
[ "$series" = eunite ] || data+=(--index-col date)
test_split=(--test-csv "$RUN/test.csv")
look_backs="1,2,4,8${season:+,$season}"
[ -n "$season" ] || look_backs="1,2,4,8,16"
season_opt=(); [ -z "$season" ] || season_opt=(--season "$season")
model=(--head-activation linear)  # both forms: a head that can follow a series beyond its training range
sampling=(--samples "$SAMPLES" --threshold 0.01 --lower 0 --upper 2 --seed "$SEED" --scores all --workers 1 --threads "$THREADS")
train=(--epochs "$EPOCHS" --trainer forecast --seed "$SEED" --jobs "$JOBS" --threads "$THREADS" "${season_opt[@]}"
       "${data[@]}" "${test_split[@]}" --quiet)

for form in level delta; do
  for d in 1 2; do
    step "screen $series ${d}-layer study, $form ($PER_STUDY rows: units 2-32, look-back $look_backs, scores all)" \
      mae screen --units 2:32 --layers "$d" --look-back "$look_backs" --sample "$PER_STUDY" --target-form "$form" \
        "${model[@]}" "${data[@]}" "${sampling[@]}" --db "$RUN/$form.sqlite" --quiet --top 0
  done
done
for form in level delta; do
  for d in 1 2; do
    step "validate $series ${d}-layer study, $form (forecast trainer, 1 seed, $EPOCHS epochs)" \
      mae validate --db "$RUN/$form.sqlite" --depth "$d" --pick all "${train[@]}"
  done
  step "report $series $form (one seed)" \
    mae report --db "$RUN/$form.sqlite" --out "$RUN/form-$form" --no-paper "${season_opt[@]}" --quiet \
      --title "$series, target form $form, one seed"
done
form=$($py scripts/choose_form.py "$RUN/form-level" "$RUN/form-delta" --out "$RUN/form-choice.md" | tail -n 1)
echo "target form: $form" >&2
if [ "$DOCS" = 1 ]; then  # both forms' one-seed results, for scripts/default_score.py's choice of the default form
  for f in level delta; do
    rm -rf "$DOCS_DIR/form-$f"; mkdir -p "$DOCS_DIR/form-$f"
    for x in README.md trained.csv baselines.csv evidence.csv decisions.csv; do
      if [ -f "$RUN/form-$f/$x" ]; then cp "$RUN/form-$f/$x" "$DOCS_DIR/form-$f/"; fi
    done
  done
  cp "$RUN/form-choice.md" "$DOCS_DIR/"
fi
for d in 1 2; do
  step "validate $series ${d}-layer study, $form ($REPEATS seeds)" \
    mae validate --db "$RUN/$form.sqlite" --depth "$d" --pick all --repeats "$REPEATS" "${train[@]}"
done

case "$series" in
  eunite) what="EUNITE 2001 daily maximum load (\`MaxLoads\` of \`data/eunite-training.csv\`, 730 days of 1997-1998);
**test**: the 31 days of January 1999 (\`data/eunite-testing.csv\`)" ;;
  waste) what="the fill level (percent) of waste container C-A100 of \`data/waste-2013.csv\` (259 irregular readings
of 2013, no season); **split**: the first 80 % train, the last 20 % test" ;;
  co2) what="the Mauna Loa weekly CO2 of \`data/co2-weekly.csv\` (2,284 weeks, gaps interpolated); **split**: the
first 80 % train, the last 20 % test (above the training range)" ;;
  elnino) what="the monthly El Nino sea-surface temperature of \`data/elnino-monthly.csv\` (732 months, 1950-2010);
**split**: the first 80 % train, the last 20 % test" ;;
  seattle) what="the hourly Seattle temperature of 2010 (\`data/seattle-hourly-2010.csv\`), **cut to its last $CUT
hours**; **split**: the first 80 % of those train, the last 20 % test" ;;
esac
{
  cat "$RUN/form-choice.md"
  echo
  cat <<EOF
**Series**: $what; min-max scaled with the training part's minimum and maximum, test windows taking their
look-back history from the end of the training part${season:+; season $season (the seasonal baselines)}.
**Studies**: one layer and two layers, $PER_STUDY architectures each drawn at random (seed $SEED) from units
2-32 per layer x look-back $look_backs; LSTM (tanh, sigmoid gates) with a linear head. **Screening**: $SAMPLES
Normal(0, 1) weight samples per row on the training part, every training-free score (\`--scores all\`), under
both target forms. **Training**: the forecast trainer (Adam 5e-3, batch 64, early stopping, at most $EPOCHS
epochs), every architecture once under both forms, then the chosen form with $REPEATS seeds; every trained MAE
below is the median over the seeds. MAEs are in scaled units.

**Timing** (every run of this script on this series, each step in seconds):

EOF
  cat "$RUN/timing.md"
} > "$RUN/notes.md"
title="Evidence on a real series: $series ($form target, $PER_STUDY architectures per study, $REPEATS seeds)"
step "report $series ($form, $REPEATS seeds)" \
  mae report --db "$RUN/$form.sqlite" --out "$OUT" --no-paper "${season_opt[@]}" --title "$title" \
    --notes "$RUN/notes.md"
echo "- run finished $(date -u '+%Y-%m-%d %H:%M UTC'): total $(( $(date +%s) - t_all )) s" >> "$RUN/timing.md"
echo "report: $OUT/README.md (databases $RUN/level.sqlite, $RUN/delta.sqlite); total $(( $(date +%s) - t_all )) s" >&2
if [ "$DOCS" = 1 ]; then
  mkdir -p "$DOCS_DIR"
  find "$DOCS_DIR" -maxdepth 1 -type f ! -name '*.sqlite' ! -name timing.md -delete
  cp "$OUT"/* "$DOCS_DIR/"
  cp "$RUN/form-choice.md" "$DOCS_DIR/"
  snapshot
  echo "refreshed $DOCS_DIR/ from $OUT" >&2
fi
