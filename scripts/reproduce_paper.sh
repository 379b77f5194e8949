#!/usr/bin/env bash
# Reproduce the paper's validation (Tables 1-4): screen, train, report.  See docs/REPRODUCING.md.
#
# Usage: bash scripts/reproduce_paper.sh small|full|eunite|waste|co2 [--docs]
#   small   the three studies (1, 2, 3 layers) scaled for a 2-core laptop: PER_STUDY (40) random
#           architectures of each paper space trained with the paper trainer (batch 5) for epochs 1,10,100,
#           plus the modern trainer with 2 repeats on ROBUST (10) of them (the noise ceiling)
#   full    the paper's sizes: every architecture of the three spaces screened, 100 trained per study,
#           epochs 1,10,100,1000 (days on a laptop, hours on a big machine)
#   eunite  a real series at the small scale: EUNITE daily maximum load (min-max scaled), trained on
#           1997-1998 and tested on January 1999; a 1-layer and a 2-layer study of PER_STUDY (20) random
#           rows each, epochs 1,10,100
#   waste   a second real series, the same way: the fill level of one waste container (C-A12, the first of
#           data/waste-2013.csv with a reading on every date; min-max scaled), trained on its first 207
#           readings and tested on the last 52 (20 %); a 1-layer and a 2-layer study of PER_STUDY (20) rows
#   co2     a long real series: the Mauna Loa weekly CO2 (data/co2-weekly.csv, statsmodels' co2 with its gaps
#           interpolated; min-max scaled on its training part), trained on its first 80 % (1,827 weeks) and
#           tested on the last 20 % (457 weeks); a 1-layer and a 2-layer study of PER_STUDY (20) rows
# Everything goes to runs/<mode>/ (database, notes, report/); --docs (or DOCS=1) also refreshes the
# committed report in docs/report-<mode>/, so a newcomer's run leaves the working tree clean.
#
# Environment overrides (any mode): PER_STUDY, ROBUST (architectures per study for the modern trainer; 0 =
# none), SEEDING (2, the default; 1 resumes a database screened by mae-ort 0.1), EPOCHS, JOBS, MEASURE (Table 4 architectures), MEASURE_EPOCHS, SEED, DB (results database), OUT
# (report folder), SCREEN_SAMPLE (full: screen a random subset of each space instead of all of it).
# Reruns resume: finished rows and trainings are kept.
set -euo pipefail
cd "$(dirname "$0")/.."
. scripts/_signals.sh  # Ctrl-C / SIGTERM: the running step stops cleanly, one line, exit 130 / 143

mode="${1:-}"
case "$mode" in
  small|full|eunite|waste|co2) ;;
  *) echo "usage: bash scripts/reproduce_paper.sh small|full|eunite|waste|co2 [--docs]" >&2; exit 2 ;;
esac
DOCS="${DOCS:-0}"
if [ "${2:-}" = "--docs" ]; then DOCS=1; elif [ -n "${2:-}" ]; then
  echo "usage: bash scripts/reproduce_paper.sh small|full|eunite|waste|co2 [--docs]" >&2; exit 2
fi

run_mae bash scripts/setup.sh dev
export TF_CPP_MIN_LOG_LEVEL="${TF_CPP_MIN_LOG_LEVEL:-3}"
py=.venv/bin/python
mae() { run_mae .venv/bin/mae-ort "$@"; }

cores=$(nproc 2>/dev/null || echo 2)
JOBS="${JOBS:-$cores}"
SEED="${SEED:-0}"
SEEDING="${SEEDING:-2}"

case "$mode" in
  small)
    PER_STUDY="${PER_STUDY:-40}"; ROBUST="${ROBUST:-10}"; EPOCHS="${EPOCHS:-1,10,100}"; MEASURE="${MEASURE:-3}" ;;
  full)
    PER_STUDY="${PER_STUDY:-100}"; ROBUST="${ROBUST:-50}"; EPOCHS="${EPOCHS:-1,10,100,1000}"; MEASURE="${MEASURE:-5}" ;;
  eunite|waste|co2)
    PER_STUDY="${PER_STUDY:-20}"; ROBUST="${ROBUST:-10}"; EPOCHS="${EPOCHS:-1,10,100}"; MEASURE="${MEASURE:-2}" ;;
esac
DB="${DB:-runs/$mode/results.sqlite}"; OUT="${OUT:-runs/$mode/report}"
MEASURE_EPOCHS="${MEASURE_EPOCHS:-${EPOCHS##*,}}"
INTERRUPTED="finished rows and trainings are kept in $DB, rerun the same command to resume"
mkdir -p "$(dirname "$DB")" "$OUT"
notes="$(dirname "$DB")/notes-$mode.md"
t_all=$(date +%s)
step() {  # step NAME COMMAND...: run, time, and log it for the report's notes
  local name="$1"; shift
  local t0; t0=$(date +%s)
  echo "== $name" >&2
  "$@"
  echo "- $name: $(( $(date +%s) - t0 )) s" >> "$notes.timing"
}
rm -f "$notes.timing"

if [ "$mode" = eunite ] || [ "$mode" = waste ] || [ "$mode" = co2 ]; then
  if [ "$mode" = eunite ]; then
    name=EUNITE
    series=(--csv data/eunite-training.csv --input MaxLoads --scale minmax)
    test_split=(--test-csv data/eunite-testing.csv)
  elif [ "$mode" = co2 ]; then
    name=CO2
    wdir="$(dirname "$DB")"; mkdir -p "$wdir"
    run $py - "$wdir" <<'PY'
import sys
import pandas as pd
d = pd.read_csv("data/co2-weekly.csv")[["date", "co2"]]
n_train = int(len(d) * 0.8)
d.iloc[:n_train].to_csv(f"{sys.argv[1]}/co2-train.csv", index=False)
d.iloc[n_train:].to_csv(f"{sys.argv[1]}/co2-test.csv", index=False)
PY
    series=(--csv "$wdir/co2-train.csv" --index-col date --input co2 --scale minmax)
    test_split=(--test-csv "$wdir/co2-test.csv")
  else
    name=waste
    # the split as two files, so that screening samples on the training part only
    wdir="$(dirname "$DB")"; mkdir -p "$wdir"
    run $py - "$wdir" <<'PY'
import sys
import pandas as pd
d = pd.read_csv("data/waste-2013.csv")[["date", "C-A12"]]
d.iloc[:-52].to_csv(f"{sys.argv[1]}/waste-C-A12-train.csv", index=False)
d.iloc[-52:].to_csv(f"{sys.argv[1]}/waste-C-A12-test.csv", index=False)
PY
    series=(--csv "$wdir/waste-C-A12-train.csv" --index-col date --input C-A12 --scale minmax)
    test_split=(--test-csv "$wdir/waste-C-A12-test.csv")
  fi
  # the reference on [0,1]-scaled series: sigmoid head, truncation bounds [0, 1]
  model=(--preset paper --head-activation sigmoid)
  sampling=(--samples 100 --threshold 0.01 --lower 0 --upper 1 --seed "$SEED" --seeding "$SEEDING")
  if [ "$mode" = co2 ]; then  # the test part rises above the training range: a linear head can follow it
    model=(--preset paper --head-activation linear)
    sampling=(--samples 100 --threshold 0.01 --lower 0 --upper 2 --seed "$SEED" --seeding "$SEEDING")
  fi
  step "screen $name 1-layer study (1-100 units, look-back 1,7,14,30; $PER_STUDY random rows)" \
    mae screen --units 1:100 --layers 1 --look-back 1,7,14,30 --sample "$PER_STUDY" "${model[@]}" \
      "${series[@]}" "${sampling[@]}" --db "$DB" --quiet --top 0
  step "screen $name 2-layer study (7-31 units per layer, look-back 1,7,14,30; $PER_STUDY random rows)" \
    mae screen --units 7:31 --layers 2 --look-back 1,7,14,30 --sample "$PER_STUDY" "${model[@]}" \
      "${series[@]}" "${sampling[@]}" --db "$DB" --quiet --top 0
  for d in 1 2; do
    step "validate $name ${d}-layer study (paper trainer, $PER_STUDY architectures, epochs $EPOCHS, $JOBS jobs)" \
      mae validate --db "$DB" --depth "$d" --pick all --epochs "$EPOCHS" --seed "$SEED" --jobs "$JOBS" \
        --trainer paper "${series[@]}" "${test_split[@]}" --quiet
    if [ "$ROBUST" -gt 0 ]; then
      step "validate $name ${d}-layer study (modern trainer, 2 repeats, $ROBUST architectures)" \
        mae validate --db "$DB" --depth "$d" --pick "$ROBUST" --epochs "$EPOCHS" --seed "$SEED" --jobs "$JOBS" \
          --trainer modern --repeats 2 "${series[@]}" "${test_split[@]}" --quiet
    fi
  done
  if [ "$mode" = eunite ]; then
    cat > "$notes" <<EOF
**Series**: EUNITE 2001 daily maximum load (\`MaxLoads\` of \`data/eunite-training.csv\`, 730 days of
1997-1998), min-max scaled to [0, 1] with the training part's minimum and maximum. **Test**: the 31 days of
January 1999 (\`data/eunite-testing.csv\`), scaled with the same parameters; test windows take their look-back
history from the end of 1998.
EOF
    what_series="EUNITE daily maximum load"
  elif [ "$mode" = co2 ]; then
    cat > "$notes" <<EOF
**Series**: the Mauna Loa weekly atmospheric CO2 (ppm) of \`data/co2-weekly.csv\` (statsmodels' \`co2\` data set,
2,284 weeks from 1958-03-29 to 2001-12-29, the 59 missing weeks linearly interpolated; public domain), min-max
scaled to [0, 1] with the training part's minimum and maximum. **Split**: the first 80 % (1,827 weeks, to
1993) train, the last 457 weeks test; the test windows take their look-back history from the end of the
training part. A trend with a yearly cycle whose test part lies above the training range (scaled values up to
about 1.3), so this study uses a **linear** Dense head (a sigmoid one could not reach it) and truncation
bounds [0, 2]; the other settings are the real-series studies' below.
EOF
    what_series="Mauna Loa weekly CO2"
  else
    cat > "$notes" <<EOF
**Series**: the fill level (percent) of waste container C-A12 in \`data/waste-2013.csv\` (259 readings of 2013,
the first container with a reading on every date), min-max scaled to [0, 1] with the training part's minimum
and maximum. **Split**: the first 207 readings train, the last 52 (20 %) test; the test windows take their
look-back history from the end of the training part. The RESN paper models all 217 containers jointly; this
is one of them, univariate. The last row is dated 2014-12-31 in the file (after 2013-12-30): kept as given.
EOF
    what_series="one waste container's fill level"
  fi
  cat >> "$notes" <<EOF
**Model**: the paper's LSTM (Keras 2 \`hard_sigmoid\` gates) with a \`sigmoid\`
head and truncation bounds [0, 1], as the reference implementation on [0, 1]-scaled series (CO2: see above). **Studies**:
one layer of 1-100 units, and two layers of 7-31 units each, at look-back 1, 7, 14 or 30 steps; $PER_STUDY
rows of each picked at random (seed $SEED), sampled with 100 Normal(0, 1) weight samples on the training
part, all trained with the paper trainer (Adam 5e-5, batch 5, dropout 0.3, early stopping) for epochs
$EPOCHS, and $ROBUST of them with the modern trainer (Adam 1e-3, batch 32, shuffled), twice each with
different seeds (the noise ceiling). The paper has no table for this series: the columns are ours only.
EOF
  paper_flag=--no-paper
  title="Validation on a real series: $what_series ($PER_STUDY architectures per study, epochs $EPOCHS)"
else
  sampling=(--samples 100 --threshold 0.01 --lower 0 --upper 2 --seed "$SEED" --seeding "$SEEDING")
  for d in 1 2 3; do
    if [ "$mode" = small ]; then
      subset=(--sample "$PER_STUDY"); what="$PER_STUDY random rows"
    elif [ -n "${SCREEN_SAMPLE:-}" ]; then
      subset=(--sample "$SCREEN_SAMPLE"); what="$SCREEN_SAMPLE random rows"
    else
      subset=(); what="the whole space"
    fi
    step "screen paper-${d}layer ($what)" \
      mae screen --space "paper-${d}layer" "${subset[@]}" "${sampling[@]}" --db "$DB" --quiet --top 0
  done
  for d in 1 2 3; do
    step "validate the ${d}-layer study (paper trainer, $PER_STUDY architectures, epochs $EPOCHS, $JOBS jobs)" \
      mae validate --db "$DB" --depth "$d" --pick "$PER_STUDY" --epochs "$EPOCHS" --seed "$SEED" --jobs "$JOBS" \
        --trainer paper --quiet
  done
  if [ "$ROBUST" -gt 0 ]; then
    for d in 1 2 3; do
      step "validate the ${d}-layer study (modern trainer, 2 repeats, $ROBUST architectures)" \
        mae validate --db "$DB" --depth "$d" --pick "$ROBUST" --epochs "$EPOCHS" --seed "$SEED" --jobs "$JOBS" \
          --trainer modern --repeats 2 --quiet
    done
  fi
  if [ "$mode" = small ]; then
    scale="**Scale (small)**: each study screens $PER_STUDY architecture x look-back rows drawn at random (seed $SEED)
from the paper's space (\`paper-1layer\`: 1-100 units x look-back 1-30; \`paper-2layer\`/\`paper-3layer\`: 7-31
units per layer x look-back 1, 10, 20, 30), and trains all of them for epochs $EPOCHS (the paper: 100 per
study, up to 1000 epochs)."
  else
    scale="**Scale (full)**: the paper's: spaces screened ${SCREEN_SAMPLE:+(a random $SCREEN_SAMPLE rows of each)}${SCREEN_SAMPLE:-in full},
$PER_STUDY architectures per study picked at random (seed $SEED) and trained for epochs $EPOCHS."
  fi
  cat > "$notes" <<EOF
**Series**: the paper's sine, \`sin(2 pi t)\` at 10 points per second; the networks are trained on
t in [0, 100) (1000 points) and tested on the next 200 points, t in [100, 120) (one-step windows whose
history reaches back into the training part). **Sampling** on the training part: 100 Normal(0, 1) weight
samples, threshold 0.01, truncation bounds [0, 2], the paper's model (LSTM with Keras 2 \`hard_sigmoid\`
gates, \`tanh\` head). **Training**: the paper trainer (the reference implementation's: Adam 5e-5, MSE,
dropout 0.3 after each LSTM layer, last 30 % of the training windows for early stopping with patience 50 and
min_delta 1e-4, best weights kept; **batch 5**, see docs/REPRODUCING.md), Keras seed $SEED, each network
trained once and its test MAE recorded at each budget; and, as a robustness check, the modern trainer
(Adam 1e-3, batch 32, shuffled, no dropout, early stopping with patience 20) on $ROBUST architectures per
study, twice each with seeds $SEED and $((SEED + 1)) (the noise ceiling).

$scale
EOF
  paper_flag=--paper
  title="Reproducing the paper's Tables 1-4 ($mode scale)"
fi

step "report (Table 4: $MEASURE architectures, $MEASURE_EPOCHS epochs)" \
  mae report --db "$DB" --out "$OUT" --measure "$MEASURE" --measure-epochs "$MEASURE_EPOCHS" \
    --title "$title" --notes "$notes" "$paper_flag"
{
  cat "$notes"
  echo
  echo "**Timing** of this run ($JOBS training process(es); total $(( $(date +%s) - t_all )) s):"
  echo
  cat "$notes.timing"
} > "$notes.full"
# Rewrite the report with the timing in its notes (no new measurements).
mae report --db "$DB" --out "$OUT" --title "$title" --notes "$notes.full" "$paper_flag" >/dev/null
echo "report: $OUT/README.md (database $DB); total $(( $(date +%s) - t_all )) s" >&2
if [ "$DOCS" = 1 ]; then
  rm -rf "docs/report-$mode"
  mkdir -p "docs/report-$mode"
  cp "$OUT"/* "docs/report-$mode/"
  echo "refreshed docs/report-$mode/ from $OUT" >&2
fi
