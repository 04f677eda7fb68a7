"""hwmon: make accelerator training runs legible in the terminal while they run."""

from __future__ import annotations

__version__ = "0.1.0"
