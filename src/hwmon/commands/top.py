"""`hwmon top` (and `hwmon` with no arguments on a terminal): the fleet view — every supervised run, the user's
Slurm jobs and recently attached logs in one live table; Enter opens a run's dashboard."""

from __future__ import annotations

import argparse
import os
import sys

from hwmon import exitcodes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """No options yet: the keys are in the view's footer."""
    parser.epilog = "keys: Enter open, Esc back, s stop, < > sort column, i invert, / filter, q quit\n\n" + (
        parser.epilog or ""
    )


def run(_args: argparse.Namespace) -> int:
    """Open the fleet view (needs a terminal; ``hwmon ls`` is the plain listing)."""
    if not sys.stdout.isatty() or os.environ.get("TERM", "") == "dumb":
        raise exitcodes.HwmonError("the fleet view needs a terminal; 'hwmon ls' lists the runs as text", 64)
    from hwmon.sources.fleet import Fleet
    from hwmon.sources.open import open_source
    from hwmon.tui.fleet import FleetChoice, run_fleet

    def opener(choice: FleetChoice) -> object:
        return open_source(choice.ref, ssh_opts=choice.ssh_opts)

    return run_fleet(Fleet(), opener)
