"""Shared helpers for the dashboard pilot tests."""

from __future__ import annotations

import sys
from pathlib import Path

# The test-only sources and screen reader live beside the tests (not in the package).
sys.path.insert(0, str(Path(__file__).resolve().parent))
