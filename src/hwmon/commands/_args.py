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
