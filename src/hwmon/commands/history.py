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
    from hwmon.runners.history import history_path, open_history

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
    from hwmon.commands.summary import _safe

    header = f"{'recorded':<19}  {'vendor':<9}  {'status':<9}  {'wall':>8}  {'1st step':>8}  {'steps':>7}  job / phases"
    print(header)
    for row in rows:
        phases = " ".join(f"{n} {fmt_duration(s)}" for n, s in row.phases if s is not None)
        print(
            f"{row.recorded[:19]:<19}  {row.vendor or '-':<9}  {row.status:<9}  {fmt_duration(row.wall_s):>8}  "
            f"{fmt_duration(row.first_step_s):>8}  {row.steps:>7}  {_safe(row.job_key)[:60]}"
        )
        if phases:
            print(f"{'':<19}  {_safe(phases)}")
    return exitcodes.OK
