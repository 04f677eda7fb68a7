"""A Slurm test job (run by tests/slurm): Cerebras-style appliance lines (the Model Zoo's logging format, see
tests/fixtures/follow_cerebras_ok.log) then a tqdm bar (the workloads' progress module: real tqdm when installed,
else the stand-in drawing tqdm's line format). Paced so the tests can watch it run; SIGINT ends it like a
KeyboardInterrupt."""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "src" / "hwmon" / "runners" / "workloads"))
import progress  # noqa: E402

steps = int(sys.argv[1]) if len(sys.argv) > 1 else 4
pause = float(sys.argv[2]) if len(sys.argv) > 2 else 0.3
logging.basicConfig(format="%(asctime)s %(levelname)s:   %(message)s", level=logging.INFO, stream=sys.stdout)
log = logging.getLogger("modelzoo")
log.info("Compiling the model. This may take a few minutes.")
log.info("Compile was successful!")
log.info("Beginning appliance run")
for step in range(1, steps + 1):
    time.sleep(pause)
    log.info(
        f"| Train Device=CSX, Step={step * 10}, Loss={6.0 / step:.5f}, Rate=900.00 samples/sec, "
        "GlobalRate=900.00 samples/sec"
    )
for _ in progress.bar(range(steps), total=steps, desc="eval"):
    time.sleep(pause / 2)
log.info("Training completed successfully!")
