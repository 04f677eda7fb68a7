"""A Slurm test job for the end-reason and requeue tests (tests/slurm/test_slurm_ends.py): a training loop that logs
``step=N loss=X`` with timestamps every INTERVAL seconds and saves a checkpoint every CKPT steps to ``ckpt-<job>``
in its working directory; a requeued attempt (``SLURM_RESTART_COUNT``) resumes from that checkpoint, so the step
axis continues. ``--exit-task T --exit-code C`` makes array task T exit with code C after its first steps.

    python job_steps.py STEPS INTERVAL [CKPT] [--exit-task T --exit-code C]
"""

from __future__ import annotations

import logging
import os
import sys
import time
from pathlib import Path

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 10
interval = float(sys.argv[2]) if len(sys.argv) > 2 else 0.5
every = int(sys.argv[3]) if len(sys.argv) > 3 and sys.argv[3].isdigit() else 5
exit_task = sys.argv[sys.argv.index("--exit-task") + 1] if "--exit-task" in sys.argv else None
exit_code = int(sys.argv[sys.argv.index("--exit-code") + 1]) if "--exit-code" in sys.argv else 0
logging.basicConfig(format="%(asctime)s %(levelname)s %(message)s", level=logging.INFO, stream=sys.stdout)
log = logging.getLogger("train")

job = os.environ.get("SLURM_JOB_ID", "local")
attempt = int(os.environ.get("SLURM_RESTART_COUNT", "0") or 0)
checkpoint = Path(f"ckpt-{job}")
start = int(checkpoint.read_text()) if checkpoint.exists() else 0
log.info(
    f"attempt {attempt} of job {job} resumes from checkpoint-{start}"
    if start
    else f"attempt {attempt} of job {job} starts"
)
for step in range(start + 1, steps + 1):
    time.sleep(interval)
    log.info(f"step={step} loss={4.0 / step:.4f}")
    if exit_task is not None and os.environ.get("SLURM_ARRAY_TASK_ID") == exit_task and step >= 3:
        log.error(f"task {exit_task} gives up with exit code {exit_code}")
        sys.exit(exit_code)
    if step % every == 0:
        checkpoint.write_text(str(step))
        log.info(f"Saving model checkpoint to {checkpoint}/checkpoint-{step}")
log.info("training complete")
