#!/usr/bin/env bash
# Stop the Slurm started by scripts/slurm_up.sh DIR, by pid: its jobs' slurmstepd processes (found by the
# SLURM_CONF in their environment: a slurmstepd outlives slurmd), slurmd, slurmctld, munged; then remove DIR.
set -uo pipefail
DIR=${1:?usage: slurm_down.sh DIR}
export PATH="$PATH:/usr/sbin"
stop_pid() {
  local pid=$1
  [ -n "$pid" ] || return 0
  kill "$pid" 2>/dev/null || return 0
  for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.05; done
  kill -9 "$pid" 2>/dev/null
}
if [ -f "$DIR/slurm.conf" ]; then
  SLURM_CONF="$DIR/slurm.conf" timeout 5 scancel --full --user="$(id -un)" 2>/dev/null
  for env in /proc/[0-9]*/environ; do
    pid=${env#/proc/}; pid=${pid%/environ}
    [ "$pid" = "$$" ] && continue
    if { tr '\0' '\n' <"$env"; } 2>/dev/null | grep -qxF "SLURM_CONF=$DIR/slurm.conf"; then
      comm=$(cat "/proc/$pid/comm" 2>/dev/null)
      case "$comm" in slurmstepd) stop_pid "$pid" ;; esac
    fi
  done
fi
for f in slurmd.pid slurmctld.pid munge/munged.pid; do
  [ -s "$DIR/$f" ] && stop_pid "$(cat "$DIR/$f")"
done
case "$DIR" in */hwmon-slurm.*) rm -rf "$DIR" ;; esac
exit 0
