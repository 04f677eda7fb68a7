"""Argument types shared by the subcommands."""

from __future__ import annotations

import argparse
import math


def positive_float(text: str) -> float:
    """An ``argparse`` type: a finite number greater than zero (a speed, an interval in seconds)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a number: {text!r}") from None
    if not (value > 0 and math.isfinite(value)):
        raise argparse.ArgumentTypeError(f"must be a positive number: {text!r}")
    return value


# A status line at most 10 times a second and at least once a day: below that the lines are a flood that starves the
# reading of the log (``--interval 1e-9`` printed 232,030 lines in 3 s and never read the file), above it a typo.
MIN_INTERVAL_S = 0.1
MAX_INTERVAL_S = 86400.0


def interval_seconds(text: str) -> float:
    """An ``argparse`` type for a status interval: a number of seconds from ``MIN_INTERVAL_S`` to ``MAX_INTERVAL_S``."""
    value = positive_float(text)
    if not MIN_INTERVAL_S <= value <= MAX_INTERVAL_S:
        raise argparse.ArgumentTypeError(f"must be between {MIN_INTERVAL_S:g} and {MAX_INTERVAL_S:g} seconds: {text!r}")
    return value


def add_format_file(parser: argparse.ArgumentParser) -> None:
    """``--format-file FILE`` (repeatable): a user format file for this command, besides the user's format directory
    (``hwmon formats``; the command line loads them before the command runs)."""
    from pathlib import Path

    parser.add_argument(
        "--format-file",
        action="append",
        default=[],
        type=Path,
        metavar="FILE",
        help="read the log with this user format file too (TOML rules; see 'hwmon formats'; repeatable)",
    )
