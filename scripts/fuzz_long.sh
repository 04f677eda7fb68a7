#!/usr/bin/env bash
# The long fuzz run: the hypothesis suites in tests/fuzz/ with the "long" profile, in chunks (one pytest process per
# chunk, each with its own seed) until TARGET cases have run or MINUTES have passed. Prints the running total.
#
#   scripts/fuzz_long.sh [TARGET_CASES] [MINUTES]        defaults: 1000000 cases, 600 minutes
#   HWMON_FUZZ_SCALE=0.01   examples per chunk, as a fraction of each test's long count (default 0.02)
#   HWMON_FUZZ_K=EXPR       pytest -k expression (default: the property tests, not the fixed-size checks)
set -euo pipefail
cd "$(dirname "$0")/.."
target=${1:-1000000}
minutes=${2:-600}
python=${PYTHON:-.venv/bin/python}
counts=$(mktemp -t hwmon-fuzz-counts.XXXXXX)
trap 'rm -f "$counts"' EXIT
deadline=$(( $(date +%s) + minutes * 60 ))
seed=${HWMON_FUZZ_SEED:-$RANDOM}
total=0
chunk=0
started=$(date +%s)
while (( total < target && $(date +%s) < deadline )); do
    chunk=$((chunk + 1))
    seed=$((seed + 1))
    HWMON_LONG=1 HYPOTHESIS_PROFILE=long HWMON_FUZZ_SCALE=${HWMON_FUZZ_SCALE:-0.02} HWMON_FUZZ_COUNT_FILE="$counts" \
        "$python" -m pytest tests/fuzz -q -p no:cacheprovider -x --timeout=0 \
        -k "${HWMON_FUZZ_K:-not memory and not bounded and not quadratic and not backwards and not absurd}" \
        --hypothesis-seed="$seed" >/tmp/hwmon-fuzz-chunk.log 2>&1 || {
        echo "fuzz chunk $chunk (seed $seed) FAILED; see /tmp/hwmon-fuzz-chunk.log" >&2
        tail -40 /tmp/hwmon-fuzz-chunk.log >&2
        exit 1
    }
    total=$(awk '{s += $1} END {print s + 0}' "$counts")
    echo "chunk $chunk seed $seed: $total cases so far, $(( $(date +%s) - started )) s"
done
echo "fuzz_long: $total cases in $chunk chunks, $(( $(date +%s) - started )) s, no failure"
