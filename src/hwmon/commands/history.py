"""`hwmon history [--json] [-n N]`: the runs hwmon has recorded (summarised or watched to their end), newest first,
with the key that says which runs are "the same job" and the phases expectations are learned from."""

from __future__ import annotations

import argparse
import json
import sys

from hwmon import exitcodes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's flags."""
    parser.add_argument("--json", action="store_true", help="print the records as JSON (hwmon.history/1)")
    parser.add_argument("-n", "--limit", type=int, default=50, metavar="N", help="at most N runs (default 50)")


def run(args: argparse.Namespace) -> int:
    """List the history."""
    from hwmon.model.fmt import fmt_duration
    from hwmon.model.history import phase_totals
    from hwmon.store.history import history_path, open_history

    history = open_history()
    if history is None:
        rows = []
    else:
        try:
            rows = history.runs(max(1, args.limit))
        finally:
            history.close()
    if args.json:
        out = {"schema": "hwmon.history/1", "path": str(history_path()), "runs": [r.to_json() for r in rows]}
        sys.stdout.write(json.dumps(out, indent=2, ensure_ascii=False) + "\n")
        return exitcodes.OK
    if not rows:
        print(f"no runs recorded in {history_path()}", file=sys.stderr)
        return exitcodes.OK
    import shutil

    from hwmon.commands.summary import _safe

    width = max(80, shutil.get_terminal_size((100, 24)).columns)
    print(f"{'recorded':<16}  {'vendor':<9}  {'status':<9}  {'wall':>6}  {'to step':>7}  {'steps':>6}  job")
    for row in rows:
        head = (
            f"{row.recorded[:16].replace('T', ' '):<16}  {row.vendor or '-':<9}  {row.status:<9}  "
            f"{fmt_duration(row.wall_s):>6}  {fmt_duration(row.first_step_s):>7}  {row.steps:>6}  "
        )
        print(head + _safe(row.job_key)[: max(12, width - len(head))])
        # Per phase the run's total (a compile that ran twice, train between checkpoints: one figure each).
        phases = " · ".join(f"{n} {fmt_duration(s)}" for n, s in phase_totals(row.phases).items())
        if phases:
            print(" " * 18 + _safe(phases)[: width - 18])
    return exitcodes.OK
