"""The cerebras-pytorch lane: needs HWMON_CSTORCH_PYTHON (see scripts/cstorch_lane.sh)."""
