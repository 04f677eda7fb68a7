"""`hwmon ls`: the supervised runs, newest first (id, workload, device, status, started, duration, last step/loss)."""

from __future__ import annotations

import argparse
import json
import math
import sys
from datetime import datetime
from pathlib import Path
from typing import Any

from hwmon import exitcodes
from hwmon.model.eta import fmt_eta
from hwmon.model.figures import fmt_loss, fmt_wall
from hwmon.model.text import safe_text

# Only the tail of a log is parsed for the last step/loss, so `ls` stays quick however long the runs are.
TAIL_BYTES = 512 * 1024


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``--json`` and ``--limit``."""
    parser.add_argument("--json", action="store_true", help="print a JSON array instead of a table")
    parser.add_argument("-n", "--limit", type=int, default=None, metavar="N", help="show only the newest N runs")


def last_step_loss(log_path: Path) -> tuple[int | None, float | None]:
    """The last training step and loss found in the tail of ``log_path``: the one reader
    (``hwmon.sources.read.read_tail``) and the one loss figure (``hwmon.model.figures.last_loss``).

    Returns (None, None) when the log has none or cannot be read.
    """
    from hwmon.model.figures import last_loss
    from hwmon.sources.read import read_tail

    try:
        state = read_tail(str(log_path), TAIL_BYTES)
    except Exception:  # a parser bug must not break `ls`; the columns just stay empty
        return None, None
    return (None, None) if state is None else last_loss(state)


def _fmt_started(text: str) -> str:
    try:
        return datetime.fromisoformat(text).strftime("%Y-%m-%d %H:%M:%S")
    except ValueError:
        return text or "-"


def _fmt_status(record: Any) -> str:
    end = record.end_reason if isinstance(getattr(record, "end_reason", None), dict) else {}
    slurm_state = str(end.get("state", ""))
    if record.status in ("failed", "stopped") and slurm_state and slurm_state != "COMPLETED":
        return f"{record.status} ({slurm_state})"  # Slurm's own end (issue 21): TIMEOUT, OUT_OF_MEMORY...
    if record.status in ("failed", "stopped"):
        if record.signal is not None:
            return f"{record.status} (sig {record.signal})"
        if record.exit_code is not None:
            return f"{record.status} ({record.exit_code})"
    return str(record.status)


def run(args: argparse.Namespace) -> int:
    """Print the table (or JSON)."""
    from hwmon.store import registry

    if args.limit is not None and args.limit < 0:
        raise exitcodes.HwmonError("--limit must not be negative", exitcodes.USAGE)
    runs = registry.list_runs()
    if args.limit is not None:
        runs = runs[: args.limit]
    rows: list[dict[str, Any]] = []
    for record in runs:
        step, loss = last_step_loss(record.log_path)
        data = record.to_json()
        data["duration_s"] = record.duration_s()
        data["last_step"] = step
        data["last_loss"] = loss if loss is None or math.isfinite(loss) else str(loss)
        rows.append(data)
    jobs = slurm_job_rows({r.slurm_job_id for r in runs if r.slurm_job_id})
    if args.json:
        json.dump(rows + jobs, sys.stdout, indent=2)
        sys.stdout.write("\n")
        return exitcodes.OK
    if jobs:
        print_slurm_table(jobs)
        if runs:
            print()
    if not runs:
        print(f"no runs in {registry.runs_root()}", file=sys.stderr)
        return exitcodes.OK
    header = ("ID", "WORKLOAD", "DEVICE", "STATUS", "STARTED", "DURATION", "STEP", "LOSS")
    table: list[tuple[str, ...]] = [header]
    for record, data in zip(runs, rows, strict=True):
        last_loss = data["last_loss"]
        cells = (
            record.run_id,
            record.workload or (Path(record.command[0]).name if record.command else "-"),
            record.device or "-",
            _fmt_status(record),
            _fmt_started(record.started),
            fmt_wall(data["duration_s"]),
            "-" if data["last_step"] is None else str(data["last_step"]),
            fmt_loss(float(last_loss) if isinstance(last_loss, str) else last_loss),
        )
        # Every cell comes from run.json (written by whoever could write the run directory) or a file name:
        # sanitised so that no field can act on the terminal (hardening #13, item 2).
        table.append(tuple(safe_text(cell, 60) for cell in cells))
    widths = [max(len(row[i]) for row in table) for i in range(len(header))]
    for row in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    for record in runs:
        if record.status == "lost":
            print(f"note: {safe_text(record.run_id)} is lost: {safe_text(record.message)}", file=sys.stderr)
    return exitcodes.OK


# --- the user's Slurm jobs (squeue --me) ----------------------------------------------------------------------------


def slurm_job_rows(skip: set[str]) -> list[dict[str, Any]]:
    """One row per job of the user's in Slurm's queue (``squeue --me``) that is not a run listed already (``skip``:
    their job ids), with phase/step/loss/ETA parsed from the tail of its output file. Empty without Slurm; a
    controller that does not answer is said on stderr."""
    from hwmon.slurm import client as slurm

    if not slurm.available():
        return []
    try:
        jobs = slurm.my_jobs()
    except exitcodes.HwmonError as exc:
        print(f"hwmon: note: Slurm jobs not listed: {exc}", file=sys.stderr)
        return []
    rows: list[dict[str, Any]] = []
    for job in jobs:
        if job.job_id in skip or job.job_id.split("_")[0] in skip:
            continue
        figures = tail_figures(Path(job.stdout)) if job.stdout and not job.pending else {}
        rows.append(
            {
                "kind": "slurm",
                "slurm_job_id": job.job_id,
                "name": job.name,
                "state": job.state,
                "reason": job.reason,
                "nodes": job.nodes,
                "elapsed_s": job.run_time_s,
                "output": job.stdout,
                "phase": "queue" if job.pending else figures.get("phase"),
                "last_step": figures.get("last_step"),
                "last_loss": figures.get("last_loss"),
                "eta_s": figures.get("eta_s"),
            }
        )
    return rows


def tail_figures(log_path: Path) -> dict[str, Any]:
    """Phase, last step, loss and ETA from the tail of a log (the one reader and the model's figures)."""
    from hwmon.model.eta import eta_seconds
    from hwmon.model.figures import last_loss
    from hwmon.sources.read import read_tail

    try:
        state = read_tail(str(log_path), TAIL_BYTES)
    except Exception:  # an unreadable file or a parser bug must not break `ls`
        return {}
    if state is None:
        return {}
    step, loss = last_loss(state)
    phase = state.current_phase
    return {
        "phase": phase.name if phase is not None else None,
        "last_step": step,
        "last_loss": loss if loss is None or math.isfinite(loss) else str(loss),
        "eta_s": eta_seconds(state, None),
    }


def print_slurm_table(rows: list[dict[str, Any]]) -> None:
    """The Slurm jobs as a table (state, elapsed, phase, step, loss, ETA)."""
    fmt = fmt_wall

    header = ("SLURM JOB", "NAME", "STATE", "ELAPSED", "PHASE", "STEP", "LOSS", "ETA")
    table = [header]
    for row in rows:
        loss = row["last_loss"]
        state = row["state"] + (f" ({row['reason']})" if row["state"] == "PENDING" and row["reason"] else "")
        table.append(
            (
                safe_text(row["slurm_job_id"]),
                safe_text(row["name"] or "-", 40),
                safe_text(state, 60),
                fmt(row["elapsed_s"]),
                row["phase"] or "-",
                "-" if row["last_step"] is None else str(row["last_step"]),
                fmt_loss(float(loss) if isinstance(loss, str) else loss),
                fmt_eta(row["eta_s"]),
            )
        )
    widths = [max(len(r[i]) for r in table) for i in range(len(header))]
    for r in table:
        print("  ".join(cell.ljust(width) for cell, width in zip(r, widths, strict=True)).rstrip())
