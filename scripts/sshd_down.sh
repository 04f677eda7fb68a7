#!/usr/bin/env bash
# Stop the sshd started by scripts/sshd_up.sh DIR (by its pid file) and remove DIR.
set -uo pipefail
DIR=${1:?usage: sshd_down.sh DIR}
if [ -s "$DIR/sshd.pid" ]; then
  pid=$(cat "$DIR/sshd.pid")
  kill "$pid" 2>/dev/null
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null
fi
case "$DIR" in */hwmon-sshd.*) rm -rf "$DIR" ;; esac
exit 0
