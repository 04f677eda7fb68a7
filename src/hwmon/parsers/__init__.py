"""Pure parsing: bytes -> lines -> events. ``StreamParser`` (in ``stream``) is the entry point."""

from __future__ import annotations

from hwmon.events import expand_steps

__all__ = ["expand_steps"]
