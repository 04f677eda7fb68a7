#!/usr/bin/env bash
# Regenerate the bundled example logs (src/hwmon/examples/) from the project's own code, never from anyone's run:
#   cerebras_gpt_small.log  bench/gen_cerebras_log.py: a synthetic appliance run in the cstorch/modelzoo format
#                           (compile, queue, programming, 165 steps at ~2 s with LoopTimeRemaining, checkpoints,
#                           eval, completion), seeded, so the file is the same on every run.
#   mnist_cpu.log           the real output of `hwmon run mnist --cpu` (the project's MNIST workload, 3 epochs of 500
#                           batches, 1 thread) on the synthetic IDX set of tests/fakes/synthetic_mnist.py.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
OUT=src/hwmon/examples
"$PY" bench/gen_cerebras_log.py --out "$OUT/cerebras_gpt_small.log" --size 36K --seed 7 --eta --ckpt-every 100 \
    --step-seconds 2.0 --state-target
work=$(mktemp -d /tmp/hwmon-examples.XXXXXX)
trap 'rm -rf "$work"' EXIT
"$PY" -c "import sys; from pathlib import Path; from tests.fakes.synthetic_mnist import write_idx_dir; \
write_idx_dir(Path(sys.argv[1]), 8192, 1024)" "$work/mnist-idx"
HWMON_RUNS_DIR="$work/runs" .venv/bin/hwmon run mnist --cpu --data "$work/mnist-idx" --epochs 3 --limit-batches 500 \
    --threads 1 --no-tui >/dev/null
# The data directory's temporary name is the only machine-specific text in the log.
sed "s#$work/mnist-idx#/data/mnist-idx#" "$work"/runs/*/output.log > "$OUT/mnist_cpu.log"
echo "wrote $OUT/cerebras_gpt_small.log and $OUT/mnist_cpu.log"
