"""Hypothesis profiles and a session-wide count of fuzz cases.

Profiles (picked by ``HYPOTHESIS_PROFILE``, else ``long`` when ``HWMON_LONG=1``, else ``ci``) are applied per test
through ``tests.fuzz.strategies.fuzz_settings`` rather than loaded globally, so the other suites' own hypothesis
settings are left alone. Every fuzz test calls ``count_case()`` once per example; the total is printed at the end
of the session and, when ``HWMON_FUZZ_COUNT_FILE`` is set, appended to that file (``scripts/fuzz_long.sh`` sums it).
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.fuzz.strategies import CASES, PROFILE


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    total = sum(CASES.values())
    if not total:
        return
    terminalreporter.write_sep("-", f"hwmon fuzz: {total} cases run (profile {PROFILE})")
    for name, count in sorted(CASES.items()):
        terminalreporter.write_line(f"  {count:>9}  {name}")
    out = os.environ.get("HWMON_FUZZ_COUNT_FILE")
    if out:
        with Path(out).open("a", encoding="utf-8") as fh:
            fh.write(f"{total}\n")
