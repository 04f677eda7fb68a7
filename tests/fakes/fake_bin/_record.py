"""Shared by the fake tools in this directory (test doubles, never real clients): append this invocation's argv as
one JSON line to ``$HWMON_FAKE_ARGV_LOG`` (when set)."""

from __future__ import annotations

import json
import os
import sys


def record(tool: str) -> None:
    log = os.environ.get("HWMON_FAKE_ARGV_LOG")
    if log:
        with open(log, "a", encoding="utf-8") as fh:
            fh.write(json.dumps([tool, *sys.argv[1:]]) + "\n")
