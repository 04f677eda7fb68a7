"""`hwmon demo` (not implemented yet)."""

from __future__ import annotations

import argparse

from hwmon import exitcodes


def add_arguments(parser: argparse.ArgumentParser) -> None:
    pass


def run(args: argparse.Namespace) -> int:
    raise exitcodes.HwmonError("'demo' is not implemented yet", exitcodes.USAGE)
