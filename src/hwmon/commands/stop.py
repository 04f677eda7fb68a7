"""`hwmon stop RUN_ID`: SIGINT to every process of the run, then SIGTERM, then SIGKILL, until none is left.

"Every process of the run" is what ``hwmon.runners.proctree`` can prove belongs to it (pid + start time + the
supervisor's marker; group, session, descendants, and processes carrying the marker). Nothing is signalled on
missing evidence; survivors of SIGKILL are named and the exit code is 1.
"""

from __future__ import annotations

import argparse
import sys

from hwmon import exitcodes
from hwmon.model.text import safe_text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """``RUN_ID`` (or a unique prefix) and the escalation timeouts."""
    parser.add_argument(
        "run_id", metavar="RUN_ID", help="run id or a unique prefix of one (a Slurm run is cancelled), or slurm:JOBID"
    )
    parser.add_argument(
        "--int-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait after SIGINT before SIGTERM (default 10)",
    )
    parser.add_argument(
        "--term-timeout",
        type=float,
        default=10.0,
        metavar="S",
        help="seconds to wait after SIGTERM before SIGKILL (default 10)",
    )
    parser.add_argument(
        "--kill-timeout",
        type=float,
        default=5.0,
        metavar="S",
        help="seconds to wait for the group to vanish after SIGKILL (default 5)",
    )
    parser.add_argument("-q", "--quiet", action="store_true", help="do not report each signal")


def run(args: argparse.Namespace) -> int:
    """Stop the run; exit ``STOP_CONFLICT`` when it is not running, cannot be shown to be the run's, or another stop
    is under way."""
    from hwmon.runners import supervisor
    from hwmon.store import registry

    if not args.run_id.strip():
        raise exitcodes.HwmonError("an empty RUN_ID names no run", exitcodes.USAGE)
    for name in ("int_timeout", "term_timeout", "kill_timeout"):
        if getattr(args, name) < 0:
            raise exitcodes.HwmonError(f"--{name.replace('_', '-')} must not be negative", exitcodes.USAGE)
    if args.run_id.startswith("slurm:"):
        return _stop_job(args)
    record = registry.resolve(args.run_id)

    def progress(message: str) -> None:
        if not args.quiet:
            print(safe_text(f"hwmon: {record.run_id}: {message}"), file=sys.stderr)

    if record.slurm_job_id:
        from hwmon.slurm.watcher import stop_run

        final = stop_run(record, int_timeout=args.int_timeout, term_timeout=args.term_timeout, progress=progress)
    else:
        final = supervisor.stop_run(
            record,
            int_timeout=args.int_timeout,
            term_timeout=args.term_timeout,
            kill_timeout=args.kill_timeout,
            progress=progress,
        )
    message = f"run {final.run_id} {final.status}" + (f": {final.message}" if final.message else "")
    print(safe_text(message))  # run.json fields (the id, a host in the message) are not ours: sanitised
    return exitcodes.OK


def _stop_job(args: argparse.Namespace) -> int:
    """``hwmon stop slurm:ID``: a Slurm job hwmon did not submit, stopped the same way (SIGINT, then scancel)."""
    from hwmon.refs import checked_job_id
    from hwmon.slurm.client import stop_job

    job_id = checked_job_id(args.run_id)  # slurm:-uroot is a usage error, before any Slurm command runs

    def progress(message: str) -> None:
        if not args.quiet:
            print(safe_text(f"hwmon: slurm:{job_id}: {message}"), file=sys.stderr)

    job = stop_job(job_id, int_timeout=args.int_timeout, term_timeout=args.term_timeout, progress=progress)
    print(safe_text(f"slurm job {job_id} {job.state.lower() if job is not None else 'gone from the controller'}"))
    return exitcodes.OK
