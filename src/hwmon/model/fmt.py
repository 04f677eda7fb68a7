"""Compact, terminal-safe formatting of run figures, shared by the dashboard, plain mode and ``hwmon ls`` so that
every view spells a duration or a rate the same way. Pure: no I/O, no UI library."""

from __future__ import annotations

import math


def fmt_duration(seconds: float | None) -> str:
    """Compact duration: ``42s``, ``4m02s``, ``1h05m``, ``3d04h``; ``-`` when unknown."""
    if seconds is None or not math.isfinite(seconds) or seconds < 0:
        return "-"
    if seconds >= 1000 * 86400:
        return ">999d"  # an ETA from a near-zero rate: say it is far off rather than print 300 digits
    total = int(seconds + 0.5)
    if total < 60:
        return f"{total}s"
    minutes, secs = divmod(total, 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 48:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def fmt_number(value: float | None, digits: int = 4) -> str:
    """A metric value with ``digits`` significant digits (``nan``/``inf`` spelt out); ``-`` when unknown."""
    if value is None:
        return "-"
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Inf" if value > 0 else "-Inf"
    if value != 0 and (abs(value) >= 10**digits or abs(value) < 10 ** -(digits - 1)):
        if abs(value) >= 10**digits and abs(value) < 1e7:
            return f"{value:.0f}"
        return f"{value:.{digits - 1}e}"
    # '#' keeps trailing zeros (6.99997 -> "7.000", not "7"), so a loss keeps its precision on screen.
    return f"{value:#.{digits}g}".rstrip(".")


def fmt_rate(value: float | None, unit: str = "") -> str:
    """A throughput figure: ``6715 samples/sec``, ``14.2 it/s``."""
    if value is None or not math.isfinite(value):
        return "-"
    text = f"{value:.0f}" if abs(value) >= 100 else f"{value:.3g}"
    return f"{text} {unit}".rstrip()


# Below this, a reader is not "behind" a writer in any way worth saying.
BEHIND_MIN_BYTES = 1 << 20


def fmt_behind(unread: int | None) -> str:
    """How far the reading lags the file being written (a source's unread bytes): ``behind 12 MB``; ``""`` when it
    is less than ``BEHIND_MIN_BYTES`` or unknown (a pipe, ssh)."""
    if unread is None or unread < BEHIND_MIN_BYTES:
        return ""
    for unit, size in (("GB", 1 << 30), ("MB", 1 << 20)):
        if unread >= size:
            value = unread / size
            return f"behind {value:.0f} {unit}" if value >= 10 else f"behind {value:.1f} {unit}"
    return ""
