#!/usr/bin/env bash
# The checks that need an NVIDIA GPU (CI has none; run this by hand on a GPU machine, from the repository root):
#   1. `hwmon run mnist --gpu` trains on CUDA under the supervisor; `hwmon summary --json` of its log must say a
#      succeeded gpu run on the CUDA device with falling loss;
#   2. the dashboard's system sampler (hwmon.sources.system) reads the GPU through NVML while a CUDA job runs;
#   3. Lightning and HF Trainer logs written on CUDA (tests/emitters/emit, HWMON_EMIT_DEVICE=gpu) read with the
#      step, status and vendor the libraries report themselves;
#   4. bench/bench_overhead.py --device gpu: samples/s bare vs monitored.
# Needs: python3 with torch (CUDA build) and numpy; textual/psutil/nvidia-ml-py for 2; lightning/transformers for 3.
# Env: PYTHON (default python3), OUT (where logs and results go; default a temp dir). Exit 1 if any check failed.
set -uo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
OUT=${OUT:-$(mktemp -d /tmp/hwmon-gpu.XXXXXX)}
mkdir -p "$OUT"
export PYTHONPATH="$PWD/src:$PWD${PYTHONPATH:+:$PYTHONPATH}" PYTHONUNBUFFERED=1 HWMON_RUNS_DIR="$OUT/runs"
failed=0
verdict() { if [ "$1" = 0 ]; then echo "PASS: $2"; else echo "FAIL: $2"; failed=1; fi; }

nvidia-smi -L || true
"$PY" -c "import torch; print('torch', torch.__version__, 'cuda', torch.cuda.is_available(), torch.cuda.get_device_name(0) if torch.cuda.is_available() else '-')"

# 1. MNIST on the GPU, supervised, read back by hwmon summary.
"$PY" -c "import sys; from pathlib import Path; from tests.fakes.synthetic_mnist import write_idx_dir; write_idx_dir(Path(sys.argv[1]), 16384, 2048)" "$OUT/idx"
SECONDS=0
"$PY" -m hwmon run mnist --gpu --data "$OUT/idx" --epochs 2 --no-tui >"$OUT/mnist_run.txt" 2>&1
rc=$?
echo "hwmon run mnist --gpu: exit $rc in ${SECONDS} s"
tail -5 "$OUT/mnist_run.txt"
log=$(ls "$OUT"/runs/*/output.log 2>/dev/null | head -1)
"$PY" -m hwmon summary --json "$log" >"$OUT/mnist_summary.json"
"$PY" - "$OUT/mnist_summary.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1]))
loss = s["train"]["loss"]
print({k: s.get(k) for k in ("vendor", "device", "status")}, "steps", s["train"]["steps"], "loss", loss)
assert s["status"] == "succeeded", s["status"]
assert s["vendor"] == "gpu", s["vendor"]
assert "cuda" in (s.get("device") or "").lower() or "h200" in (s.get("device") or "").lower(), s.get("device")
assert loss["last"] < loss["first"], loss
EOF
verdict $(( rc != 0 || $? != 0 )) "mnist --gpu trains on CUDA and reads back as a succeeded gpu run"

# 2. NVML through the dashboard's sampler while a CUDA job keeps the GPU busy.
"$PY" - <<'EOF'
import threading, time
import torch
from hwmon.sources.system import SystemSampler
stop = threading.Event()
def burn() -> None:
    a = torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16)
    while not stop.is_set():
        a @ a
        torch.cuda.synchronize()
t = threading.Thread(target=burn); t.start()
sampler = SystemSampler(None)
try:
    for _ in range(4):
        time.sleep(1.0)
        sample = sampler.sample(time.monotonic())
finally:
    stop.set(); t.join(); sampler.close()
print("gpus:", sample.gpus, "note:", sample.gpu_note)
assert sample.gpus, sample.gpu_note
g = sample.gpus[0]
assert g.mem_used and g.mem_total and g.mem_used > 0, g
assert g.util_percent is not None and g.util_percent > 0, g
EOF
verdict $? "the system sampler reads GPU utilisation, memory and power through NVML"

# 3. GPU-framework logs written on CUDA read as gpu runs.
for emitter in "emit_lightning.py --bar tqdm" "emit_hf.py --verbosity info"; do
    name=${emitter%%.py*}
    work="$OUT/$name"; mkdir -p "$work"
    # shellcheck disable=SC2086
    HWMON_EMIT_DEVICE=gpu "$PY" tests/emitters/emit/$emitter --facts "$work/facts.json" --workdir "$work" >"$work/train.log" 2>&1
    erc=$?
    "$PY" -m hwmon summary --json "$work/train.log" >"$work/summary.json"
    "$PY" - "$work/summary.json" "$work/facts.json" <<'EOF'
import json, sys
s = json.load(open(sys.argv[1])); facts = json.load(open(sys.argv[2]))
print({k: s.get(k) for k in ("vendor", "device", "status")}, "step", s["train"]["steps"].get("last"),
      "library says step", facts.get("last_step"), "vendor", facts.get("vendor"))
assert s["status"] == "succeeded", s["status"]
assert s["train"]["steps"].get("last") == facts["last_step"], (s["train"]["steps"], facts["last_step"])
if facts.get("vendor") is not None:  # HF Trainer prints no device at either log level
    assert s["vendor"] == facts["vendor"], (s["vendor"], facts["vendor"])
EOF
    verdict $(( erc != 0 || $? != 0 )) "$name on CUDA: step, status and vendor as the library reports them"
done

# 4. Monitoring overhead on the GPU.
"$PY" bench/bench_overhead.py --device gpu --reps 3 --limit-batches 600 --data "$OUT/idx" 2>&1 | tail -6
verdict $? "bench_overhead --device gpu ran"

echo "results in $OUT"
exit $failed
