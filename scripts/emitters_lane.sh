#!/usr/bin/env bash
# The real-emitter test lane: tiny CPU trainings with the real libraries (tqdm, Lightning, HF Trainer, Keras 3,
# cerebras.pytorch, the MNIST workload) write real logs, and tests/emitters checks that `hwmon summary --json` and a
# live `hwmon attach --plain` read what each library reports itself.
#
# One cached venv per combination in constraints/emitters-*.txt, under ~/.cache/hwmon/emitters/<combo>. torch is
# installed once, in a base venv (<cache>/_torch-2.13.0, the local CPU wheel), and each combination's venv sees it
# through a .pth file: a fresh combination then costs only its own packages (no second 900 MB torch). A venv is
# rebuilt when its constraints file changes (its sha256 is stamped in the venv).
#
# Usage: scripts/emitters_lane.sh [--build-only] [pytest args...]
# Env: HWMON_EMITTERS_CACHE (default ~/.cache/hwmon/emitters), PYTHON_FOR_EMITTERS (python3.11 if present: the
#      torch wheel is cp311), PIP_ARGS (extra pip options), HWMON_EMITTERS_KEEP=DIR (keep the generated logs there),
#      HWMON_CSTORCH_PYTHON (the cerebras-pytorch venv's python; default ~/.cache/hwmon/venv-cstorch/bin/python),
#      HWMON_EMITTERS_REQUIRED=1 (fail instead of skipping when a venv cannot be built).
set -euo pipefail
cd "$(dirname "$0")/.."
CACHE="${HWMON_EMITTERS_CACHE:-$HOME/.cache/hwmon/emitters}"
PY="${PYTHON_FOR_EMITTERS:-$(command -v python3.11 || command -v python3)}"
TORCH_SPEC="torch==2.13.0"
BASE="$CACHE/_torch-2.13.0"
build_only=0
if [ "${1:-}" = "--build-only" ]; then build_only=1; shift; fi

note() { echo "emitters lane: $*" >&2; }
skip() {
    note "$*"
    if [ "${HWMON_EMITTERS_REQUIRED:-0}" = 1 ]; then exit 1; fi
    note "skipped"
    exit 0
}
# shellcheck disable=SC2086
pip_in() { "$1/bin/python" -m pip install -q --disable-pip-version-check ${PIP_ARGS:-} "${@:2}"; }
site_of() { "$1/bin/python" -c 'import sysconfig; print(sysconfig.get_paths()["purelib"])'; }

mkdir -p "$CACHE"
lane_start=$(date +%s)

if ! "$BASE/bin/python" -c "import torch; assert torch.__version__.startswith('2.13.0')" 2>/dev/null; then
    note "creating the base venv $BASE with $TORCH_SPEC (python: $PY)"
    rm -rf "$BASE"
    "$PY" -m venv "$BASE" || skip "cannot create a venv with $PY"
    pip_in "$BASE" "$TORCH_SPEC" || skip "pip could not install $TORCH_SPEC"
fi
base_site=$(site_of "$BASE")

failed=()
for constraints in constraints/emitters-*.txt; do
    combo=$(basename "$constraints" .txt)
    combo=${combo#emitters-}
    venv="$CACHE/$combo"
    want=$(sha256sum "$constraints" | cut -d' ' -f1)
    if [ -x "$venv/bin/python" ] && [ "$(cat "$venv/.hwmon-constraints.sha256" 2>/dev/null)" = "$want" ]; then
        continue
    fi
    note "creating $venv from $constraints"
    t0=$(date +%s)
    rm -rf "$venv"
    if ! "$PY" -m venv "$venv"; then failed+=("$combo"); continue; fi
    echo "$base_site" >"$(site_of "$venv")/_hwmon_base_torch.pth"
    if ! pip_in "$venv" -r "$constraints"; then
        note "pip could not install $constraints"
        failed+=("$combo")
        continue
    fi
    echo "$want" >"$venv/.hwmon-constraints.sha256"
    note "$combo ready in $(($(date +%s) - t0))s"
done
if [ ${#failed[@]} -gt 0 ]; then
    note "could not build: ${failed[*]} (their tests skip)"
    if [ "${HWMON_EMITTERS_REQUIRED:-0}" = 1 ]; then exit 1; fi
fi
note "venvs ready in $(($(date +%s) - lane_start))s"
[ "$build_only" = 1 ] && exit 0

cstorch="${HWMON_CSTORCH_PYTHON:-$HOME/.cache/hwmon/venv-cstorch/bin/python}"
PYTEST_PY="${HWMON_PYTHON:-.venv/bin/python}"
start=$(date +%s)
HWMON_EMITTERS_CACHE="$CACHE" HWMON_CSTORCH_PYTHON="$cstorch" \
    "$PYTEST_PY" -m pytest tests/emitters -m emitters -q "$@"
note "tests $(($(date +%s) - start))s, lane $(($(date +%s) - lane_start))s"
