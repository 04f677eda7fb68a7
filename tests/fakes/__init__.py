"""Test doubles and synthetic data (never real vendor libraries or third-party logs)."""
