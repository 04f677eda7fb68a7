"""Helpers shared by the test modules (pure; no hardware, no I/O)."""
