"""Text views without Textual: the plain status-line renderer used when stdout is not a terminal or ``--plain``."""
