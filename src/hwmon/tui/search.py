"""Pure helpers for the log pane: the search pattern (less/ripgrep smart case) and the extent of a record.

No Textual here, so the rules are unit-testable on plain lists of strings.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from hwmon.parsers.records import split_prefix
from hwmon.tui import view

__all__ = ["MAX_RECORD_LINES", "compile_pattern", "is_error_or_warning", "record_extent"]

_LOUD_LEVELS = frozenset(("WARNING", "ERROR", "CRITICAL", "FATAL"))

# A record view never copies more than this many lines out of the kept log (a runaway "record" of indented lines).
MAX_RECORD_LINES = 2000

_ESCAPES = re.compile(r"\\.")


def compile_pattern(term: str) -> re.Pattern[str]:
    """``term`` as a regular expression with smart case: case-insensitive unless it holds a capital letter outside
    a backslash escape (``\\S``, ``\\W`` are not capitals), as in less ``-i``, ripgrep and lnav.

    Raises ``re.error`` for an invalid pattern (the caller shows the message in one line)."""
    literal = _ESCAPES.sub("", term)
    flags = 0 if any(ch.isupper() for ch in literal) else re.IGNORECASE
    return re.compile(term, flags)


def is_error_or_warning(line: str) -> bool:
    """Whether the errors/warnings filter (``e``) shows ``line``: by its record level when the line has one
    (``WARNING``/``ERROR``/``CRITICAL``/``FATAL`` in, ``INFO``/``DEBUG`` out, however alarming their words), else by
    what unlevelled lines look like (tracebacks, ``what():``, Poplar ``W:``, glog ``E0711``)."""
    level = split_prefix(line)[1]
    if level is not None:
        return level in _LOUD_LEVELS
    return view.is_error_or_warning(line)


def _indented(line: str) -> bool:
    return line[:1] in (" ", "\t")


def record_extent(lines: Sequence[str], index: int) -> tuple[int, int]:
    """The lines ``[start, end)`` of the record that line ``index`` belongs to: the line itself, or a block made of
    a first line and the indented lines that continue it (a Python traceback with its final exception line, a
    printed module tree with its closing parenthesis, a multi-line message). Bounded by ``MAX_RECORD_LINES``."""
    if not lines:
        return 0, 0
    index = max(0, min(index, len(lines) - 1))
    start = index
    # The exception line that closes a traceback is not indented: start from the block above it.
    if not _indented(lines[start]) and start > 0 and _indented(lines[start - 1]):
        probe = start - 1
        while probe > 0 and _indented(lines[probe]) and start - probe < MAX_RECORD_LINES:
            probe -= 1
        if lines[probe].startswith("Traceback"):
            start = probe
    while start > 0 and _indented(lines[start]) and index - start < MAX_RECORD_LINES:
        start -= 1
    end = start + 1
    limit = min(len(lines), start + MAX_RECORD_LINES)
    while end < limit and _indented(lines[end]):
        end += 1
    if end < limit and end > start + 1:
        follower = lines[end]
        if lines[start].startswith("Traceback") or follower.strip().startswith(")"):
            # A traceback's exception line, a module tree's closing parenthesis.
            end += 1
    return start, max(end, index + 1)
