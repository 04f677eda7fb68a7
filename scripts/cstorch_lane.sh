#!/usr/bin/env bash
# The cerebras-pytorch test lane: create (or reuse) a cached venv with cerebras_pytorch==2.10.0 and run
# tests/cstorch against it. Usage: scripts/cstorch_lane.sh [pytest args...]
# Env: HWMON_CSTORCH_VENV (default ~/.cache/hwmon/venv-cstorch), PYTHON_FOR_CSTORCH (python3.11 if present),
#      PIP_ARGS (extra pip options, e.g. an index URL). Exits 0 with a note when the venv cannot be set up and
#      HWMON_CSTORCH_REQUIRED is not 1.
set -euo pipefail
cd "$(dirname "$0")/.."
VENV="${HWMON_CSTORCH_VENV:-$HOME/.cache/hwmon/venv-cstorch}"
PY="${PYTHON_FOR_CSTORCH:-$(command -v python3.11 || command -v python3)}"
skip() {
    echo "cstorch lane: $*" >&2
    if [ "${HWMON_CSTORCH_REQUIRED:-0}" = 1 ]; then exit 1; fi
    echo "cstorch lane: skipped" >&2
    exit 0
}
if ! "$VENV/bin/python" -c "import cerebras.pytorch as c; assert c.__version__.startswith('2.10')" 2>/dev/null; then
    echo "cstorch lane: creating $VENV with cerebras_pytorch==2.10.0 (python: $PY)" >&2
    "$PY" -m venv "$VENV" || skip "cannot create a venv with $PY"
    # shellcheck disable=SC2086
    "$VENV/bin/python" -m pip install -q ${PIP_ARGS:-} "cerebras_pytorch==2.10.0" numpy \
        || skip "pip could not install cerebras_pytorch==2.10.0"
    "$VENV/bin/python" -c "import cerebras.pytorch" || skip "cerebras.pytorch does not import in $VENV"
fi
PYTEST_PY="${HWMON_PYTHON:-.venv/bin/python}"
start=$(date +%s)
HWMON_CSTORCH_PYTHON="$VENV/bin/python" HWMON_CSTORCH_REQUIRED="${HWMON_CSTORCH_REQUIRED:-0}" "$PYTEST_PY" -m pytest tests/cstorch -m cstorch -q "$@"
echo "cstorch lane: $(( $(date +%s) - start ))s" >&2
