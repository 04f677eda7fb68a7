from __future__ import annotations

from hwmon.cli import entry

entry()
