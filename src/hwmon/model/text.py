"""The one sanitiser for text that did not come from hwmon itself: file names, ``run.json`` fields, host names,
commands, job ids, follower messages that quote a path. Every view (plain lines, ``hwmon ls``, ``summary``, the
dashboard's header, notices and title) passes such strings through ``safe_text`` before they reach a terminal.

Pure (no I/O, no UI library), so ``hwmon.tui``, ``hwmon.views`` and ``hwmon.commands`` can all import it without
importing each other.

What it does, in order:

1. removes whole escape sequences (CSI, OSC/DCS/SOS/PM/APC strings with their BEL/ST terminator, two-byte ``ESC x``;
   7-bit and 8-bit introducers), so ``ESC ] 0 ; TITLE BEL`` leaves nothing behind rather than a stray ``]0;TITLE``;
2. turns tab, newline, carriage return, vertical tab and form feed into a space (``tab`` for a tab), so one value
   stays one line;
3. replaces every other C0 control, DEL, C1 control (U+0080..U+009F), bidi control (U+061C, U+200E, U+200F,
   U+202A..U+202E, U+2066..U+2069), line/paragraph separator (U+2028, U+2029) and lone surrogate (U+D800..U+DFFF:
   how Python spells an undecodable byte of a file name, which ``surrogateescape`` would write back raw, a bare
   0x9B CSI included) with U+FFFD, so a hostile byte is visible as such instead of acting on the terminal;
4. optionally caps the length (``limit``, an ellipsis marks the cut).
"""

from __future__ import annotations

import re

# Characters that are never passed to a terminal as they are.
UNSAFE_CHARS = "\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff"
_UNSAFE = re.compile(f"[{UNSAFE_CHARS}]")
_ESCAPES = re.compile(
    # OSC, DCS, SOS, PM, APC strings (7-bit and 8-bit introducers), ended by BEL, ST (ESC \ or 0x9c), by another
    # ESC (which then starts a sequence of its own) or by the end of the text.
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x9c|\x1b\\)?"
    # CSI: parameters, intermediates, final byte (missing if cut off).
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    # Any other escape sequence: ESC, intermediates, one final byte (ESC 7, ESC ( B, ESC c ...), or a lone ESC.
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)
_SPACES = re.compile("[\t\n\r\x0b\x0c]")
REPLACEMENT = "\ufffd"


def safe_text(text: object, limit: int | None = None, *, tab: str = " ") -> str:
    """``text`` (any value; ``str()`` of a non-string) made inert for a terminal, as the module docstring says.

    ``limit`` caps the result at that many characters (the last one an ellipsis); ``tab`` is what a tab becomes.
    """
    value = text if isinstance(text, str) else str(text)
    if _UNSAFE.search(value) is not None:
        value = _ESCAPES.sub("", value)
        value = _SPACES.sub(lambda m: tab if m.group() == "\t" else " ", value)
        value = _UNSAFE.sub(REPLACEMENT, value)
    if limit is not None and len(value) > limit:
        value = value[: max(0, limit - 1)] + "…" if limit > 0 else ""
    return value


def is_safe(text: str) -> bool:
    """Whether ``text`` holds none of the characters ``safe_text`` removes or replaces (tests and assertions)."""
    return _UNSAFE.search(text) is None
