"""Helpers shared by the test modules (no hardware; `tmux` drives a private tmux server)."""
