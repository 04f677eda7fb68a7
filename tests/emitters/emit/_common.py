"""Shared by the emitter scripts (run by each combination's venv python, never by hwmon's): the facts side file.

The facts are what the library reports itself (its callbacks, returned history, state, files on disk), written as
JSON next to the log; tests/emitters compares hwmon's reading of the log against them.
"""

from __future__ import annotations

import json
import sys
from importlib import metadata
from typing import Any


def versions(*names: str) -> dict[str, str]:
    """Installed versions of the named distributions (absent ones are left out)."""
    found: dict[str, str] = {}
    for name in names:
        try:
            found[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            pass
    return found


def write_facts(path: str, facts: dict[str, Any]) -> None:
    """Write the facts atomically enough for a test that reads them after the process exits."""
    with open(path, "w", encoding="utf-8") as handle:
        json.dump(facts, handle, indent=1, sort_keys=True)
    sys.stdout.flush()
    sys.stderr.flush()
