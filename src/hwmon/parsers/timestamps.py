"""Leading timestamps of log lines -> naive ``datetime`` (the log's own local time). Pure.

Recognised at the start of a line (optionally inside ``[...]``):

- ``2024-03-30 12:53:41,263`` / ``2024-03-30 12:53:41.263`` / ``2024-03-30 12:53:41`` (Python logging and most
  frameworks; a ``,`` or ``.`` fraction of 1-9 digits),
- ``2023-04-27T03:39:53.291853Z`` and ``...+02:00`` (ISO 8601; the zone is dropped, the value kept as written).

Time-only stamps (``[04:09:02.177]``, glog ``E0711 18:04:20.25``) carry no date and give ``None``.
"""

from __future__ import annotations

import re
from datetime import datetime

__all__ = ["leading_timestamp", "split_timestamp"]

_TS = re.compile(
    r"\[?(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(?:Z|[+-]\d{2}:?\d{2}|\s?UTC)?\]?"
)


def split_timestamp(text: str) -> tuple[datetime | None, str]:
    """The leading timestamp of ``text`` (or None) and the rest of the line after it (leading spaces removed)."""
    if not text or not (text[0].isdigit() or text[0] == "["):
        return None, text
    m = _TS.match(text)
    if m is None:
        return None, text
    year, month, day, hour, minute, second, frac = m.groups()
    micro = int((frac + "000000")[:6]) if frac else 0
    try:
        ts = datetime(int(year), int(month), int(day), int(hour), int(minute), int(second), micro)
    except ValueError:  # 2024-13-45: looks like a date, is not one
        return None, text
    return ts, text[m.end() :].lstrip()


def leading_timestamp(text: str) -> datetime | None:
    """The timestamp at the start of ``text``, or None."""
    return split_timestamp(text)[0]
