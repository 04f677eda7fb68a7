#!/usr/bin/env bash
# The integration lane (CI runs it after the default suite): the tests marked `integration` — a real single-node
# Slurm and sshd on 127.0.0.1 (started by scripts/slurm_up.sh / sshd_up.sh from the tests), tmux, real trainings,
# supervised runs, Prometheus, Chromium, the CLI in subprocesses. One process: the real servers are per session.
set -euo pipefail
cd "$(dirname "$0")/.."
export PATH="$PWD/.venv/bin:$PATH"
python -m pytest -q -m integration -p no:xdist "$@"
