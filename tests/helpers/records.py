"""A supervised run's record (``run.json``) for tests that need one on disk without running a supervisor."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from hwmon.store import registry


def run_record(run_dir: Path, **fields: Any) -> registry.RunRecord:
    """A finished, successful ``python train.py`` whose log is ``run_dir``'s output.log; any field overridden."""
    values: dict[str, Any] = {
        "run_id": run_dir.name,
        "dir": run_dir,
        "log_path": run_dir / registry.LOG_FILE,
        "command": ["python", "train.py"],
        "workload": None,
        "device": "cpu",
        "pid": None,
        "supervisor_pid": None,
        "host": "",
        "cwd": "/",
        "started": "2026-11-29T22:00:00",
        "ended": "2026-11-29T22:05:00",
        "exit_code": 0,
        "signal": None,
        "status": "succeeded",
    }
    values.update(fields)
    return registry.RunRecord(**values)
