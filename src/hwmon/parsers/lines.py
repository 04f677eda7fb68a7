"""Bytes in arbitrary chunks -> cleaned ``Line`` objects (and, on request, bulk ``LineBlock`` objects).

Pure: no I/O. The splitter keeps the raw bytes of the line being read (bounded) and cleans a line only once it is
complete, so its output for a stream never depends on how the stream was chunked.

What a line is:

- ``\\n`` ends a line; ``\\r\\n`` ends a line too (the ``\\r`` is dropped, it is not a redraw).
- A bare ``\\r`` inside a line is a progress bar redrawing itself. The line is cut at each bare ``\\r`` into
  *segments*; every non-blank segment but the last is emitted as a ``Line`` with ``final=False`` (same number and
  offset as the line), as soon as the byte after its ``\\r`` is known. The final ``Line`` (``final=True``) holds
  the last segment, or, when that one is blank (a bar erased with ``\\r`` and spaces, ``\\r\\r\\n``), the last
  non-blank segment: the last state the bar showed.
- Decoding is UTF-8 with ``errors="replace"``. Because ``\\n`` and ``\\r`` never occur inside a multi-byte UTF-8
  sequence, decoding each complete segment gives exactly what an incremental decoder over the whole stream gives,
  however the stream was chunked.
- Removed from the text: ANSI/VT escape sequences (CSI including private modes, OSC/DCS/SOS/PM/APC strings
  terminated by BEL or ST, two-character ``ESC x`` sequences, their 8-bit C1 forms), every other C0/C1 control
  character and DEL, NUL, the bidi embedding/override/isolate characters U+202A-U+202E and U+2066-U+2069 (log text
  must not reorder the screen) and U+2028/U+2029 (which some widgets treat as line breaks). A ``\\r`` or ``\\n``
  ends any escape sequence or string still open (a stray ``ESC ]`` must not swallow the rest of the log).
- Tabs are kept as tab characters (the display expands them; parsers may split on them).
- A segment longer than ``max_line`` characters is cut and ends with `` … [cut: N bytes]`` (N = bytes of the
  original segment not shown) and ``truncated=True``. Only the first ``4 * max_line + 64`` raw bytes of a segment
  are kept while it is being read, so memory stays bounded however long a line runs.

``number`` (1-based) and ``offset`` (byte offset of the line's first byte) are those of the original stream.

With ``feed(..., blocks=True)``, a large (>= ``BLOCK_MIN`` bytes) region of complete lines that is pure printable
ASCII (no control byte but ``\\n``, no tab) with every line shorter than ``max_line`` is emitted as one
``LineBlock`` instead of many ``Line`` objects; those checks are C-level ``bytes`` operations only. A complete line
redrawn with ``\\r`` whose segments need no cleaning or cutting comes back then as one ``RedrawnLine`` (the texts of
its non-blank redraws and its final text): a bulk reader of progress bars takes it without a ``Line`` per state, and
its ``lines()`` are the ``Line`` objects it stands for.
"""

from __future__ import annotations

import re

from hwmon.parsers.base import PLACE_EVERY, Line, LineBlock, RedrawnLine, count_lines

__all__ = ["BLOCK_MIN", "Item", "LineSplitter", "clean_bytes", "clean_text"]

BLOCK_MIN = 16 * 1024
"""Smallest region (bytes) emitted as a ``LineBlock``."""

# Regions are checked in pieces of about this size, so one dirty line (a \r, an escape) only sends its own piece
# down the slow path.
_PIECE = 64 * 1024
_SUB_PIECE = 4 * 1024

_CUT_MARK = " … [cut: {} bytes]"
# ``partial()`` renders at most this many bytes of the line under way.
PARTIAL_BYTES = 4096

# Deleting every "harmless" byte leaves only the bytes that need attention: if nothing is left, the region is
# printable ASCII plus the allowed whitespace. One C-level pass answers "ASCII?" and "any control byte?" together.
_PRINTABLE = bytes(range(0x20, 0x7F))
_KEEP_LINES = _PRINTABLE + b"\n\t"  # line path: tabs are fine
_KEEP_BLOCK = _PRINTABLE + b"\n"  # LineBlock contract: no control byte but \n

# Anything in decoded text that cleaning would change (ESC is \x1b, inside the first range).
_NEEDS_CLEAN = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NEEDS_CLEAN_BUT_CR = re.compile("[\x00-\x08\x0a-\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NEEDS_CLEAN_ASCII = re.compile(rb"[\x00-\x08\x0a-\x1f\x7f]")

_ESCAPES = re.compile(
    # OSC, DCS, SOS, PM, APC strings (7-bit and 8-bit introducers), ended by BEL, ST (ESC \ or 0x9c), by another
    # ESC (which then starts a sequence of its own) or by the end of the segment.
    r"(?:\x1b[\]PX^_]|[\x90\x98\x9d\x9e\x9f])[^\x07\x1b\x9c]*(?:\x07|\x9c|\x1b\\)?"
    # CSI: parameters (private-mode markers ?<=> included), intermediates, final byte (missing if cut off).
    r"|(?:\x1b\[|\x9b)[\x30-\x3f]*[\x20-\x2f]*[\x40-\x7e]?"
    # Any other escape sequence: ESC, intermediates, one final byte (ESC 7, ESC ( B, ESC c ...), or a lone ESC.
    r"|\x1b[\x20-\x2f]*[\x30-\x7e]?"
)
_CONTROLS = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]+")


def clean_text(text: str) -> str:
    """Remove escape sequences, control characters (tab kept) and bidi overrides from already decoded text."""
    if _NEEDS_CLEAN.search(text) is None:
        return text
    return _CONTROLS.sub("", _ESCAPES.sub("", text))


def clean_bytes(raw: bytes) -> str:
    """Decode one segment (no ``\\r``/``\\n`` inside) as UTF-8 with replacement and clean it (see module doc)."""
    if raw.isascii():
        text = raw.decode("ascii")
        if _NEEDS_CLEAN_ASCII.search(raw) is None:
            return text
        return _CONTROLS.sub("", _ESCAPES.sub("", text))
    return clean_text(raw.decode("utf-8", "replace"))


Item = Line | LineBlock | RedrawnLine
"""What ``LineSplitter.feed`` gives: lines, and with ``blocks=True`` blocks and whole redrawn lines too."""


class LineSplitter:
    """Incremental splitter: ``feed`` chunks of bytes, get the lines completed so far; ``finish`` at the end.

    ``feed(data, blocks=False)`` returns only ``Line`` objects and the concatenated output for a stream is the same
    for any chunking of it (including one byte at a time). With ``blocks=True`` large clean regions come back as
    ``LineBlock`` objects, and complete lines redrawn with ``\\r`` that need no cleaning but their ``\\r`` as
    ``RedrawnLine`` objects, whose ``lines()`` are exactly the ``Line`` objects they stand for.
    """

    __slots__ = (
        "max_line",
        "_raw_cap",
        "_consumed",
        "_number",
        "_line_offset",
        "_seg",
        "_seg_dropped",
        "_after_cr",
        "_last_shown",
        "_redrawn",
    )

    def __init__(self, max_line: int = 65536) -> None:
        self.max_line = max(16, int(max_line))
        # Raw bytes kept per segment: enough for max_line characters of 4-byte UTF-8 plus some escape codes.
        self._raw_cap = 4 * self.max_line + 64
        self._consumed = 0  # stream bytes before the current chunk
        self._number = 1  # number of the line being read
        self._line_offset = 0  # stream offset of its first byte
        self._seg = bytearray()  # raw bytes of the current segment (at most _raw_cap)
        self._seg_dropped = 0  # bytes of the current segment beyond _raw_cap
        self._after_cr = False  # the current segment was ended by a \r whose next byte is not known yet
        self._last_shown: tuple[str, bool] | None = None  # last non-blank redraw of this line (text, truncated)
        self._redrawn = False  # the line under way was redrawn with \r at least once (a bar, even a first state)

    @property
    def lines_emitted(self) -> int:
        """Number of complete (final) lines produced so far."""
        return self._number - 1

    # ------------------------------------------------------------------ public

    def feed(self, data: bytes, *, blocks: bool = False) -> list[Item]:
        """Consume a chunk; return the lines (and, with ``blocks=True``, line blocks) it completed."""
        out: list[Item] = []
        n = len(data)
        if n == 0:
            return out
        base = self._consumed
        self._consumed += n
        pos = 0
        if self._consumed - n > self._line_offset:
            # A line is already under way: everything up to the first \n belongs to it.
            nl = data.find(b"\n")
            if nl == -1:
                self._consume(data, 0, n, out)
                return out
            self._consume(data, 0, nl, out)
            self._end_line(out, base + nl + 1)
            pos = nl + 1
        last_nl = data.rfind(b"\n", pos)
        if last_nl != -1:
            self._region(data, pos, last_nl + 1, base, blocks, out)
            pos = last_nl + 1
        if pos < n:
            self._consume(data, pos, n, out)
        return out

    def end_partial(self) -> list[Line]:
        """The stream went quiet in the middle of a line (a crash's last words without a newline): end that line
        now, as a final ``Line``, so it is seen live; bytes that follow start a new line. A line being redrawn
        with ``\r`` (a progress bar) is left alone: its redraws already show. Empty when there is nothing."""
        out: list[Item] = []
        # A bar's first state comes after a \r too ("\r  0%|"): the line is a redraw from that \r on.
        redraw = self._last_shown is not None or self._after_cr or self._redrawn
        if self._consumed > self._line_offset and not redraw and self._seg.strip():
            self._end_line(out, self._consumed)
        return [line for line in out if isinstance(line, Line)]

    def partial(self) -> str | None:
        """What the line under way shows now, as a terminal would (a progress bar's current redraw, or the start
        of a line not ended yet), cleaned like any line; None when no line is under way. Read-only: the splitter's
        output does not change by asking (for a live view of ``\r`` redraws before their line ends)."""
        if self._consumed <= self._line_offset:
            return None
        if self._seg.strip():
            # A live view needs the start of the line; rendering 256 KiB on every batch would not be cheap.
            head = bytes(self._seg[:PARTIAL_BYTES])
            return self._render(head, len(self._seg) - len(head) + self._seg_dropped)[0]
        if self._last_shown is not None:
            return self._last_shown[0]
        return None

    def finish(self) -> list[Line]:
        """End of stream: the unterminated last line, if any, as a final ``Line``."""
        out: list[Item] = []
        if self._consumed > self._line_offset:
            self._end_line(out, self._consumed)
        return [line for line in out if isinstance(line, Line)]

    # ------------------------------------------------------------------ complete-line regions

    def _region(self, data: bytes, start: int, end: int, base: int, blocks: bool, out: list[Item]) -> None:
        """Lines data[start:end] (starting at a line start, ending with \\n)."""
        whole = blocks  # (a redrawn line is one item whatever the region's size)
        blocks = blocks and end - start >= BLOCK_MIN
        if blocks:
            region = data if (start == 0 and end == len(data)) else data[start:end]
            counted = self._clean_counted(region)
            if counted is not None:
                out.append(self._emit_block(region, base + start, counted))
                return
        # Pieces of about _PIECE bytes, so one dirty line (a \r, an escape) only sends its own piece down the
        # slow path and the clean pieces around it can still form blocks.
        # A dirty piece is checked again in sub-pieces of about _SUB_PIECE bytes, so the clean lines just before
        # and after a dirty stretch (a format's first lines after a progress bar's) still join the blocks.
        run_start = -1  # start of a run of block-clean pieces not yet emitted
        i = start
        size = _PIECE
        while i < end:
            j = data.find(b"\n", i + size - 1, end) + 1 if i + size < end else end
            if blocks and self._block_clean(data[i:j]):
                if run_start < 0:
                    run_start = i
                size = _PIECE
            elif blocks and size > _SUB_PIECE:
                size = _SUB_PIECE  # (the same start again, in smaller pieces)
                continue
            else:
                if run_start >= 0:
                    self._emit_run(data, run_start, i, base, out)
                    run_start = -1
                self._lines(data, i, j, base, out, whole)
            i = j
        if run_start >= 0:
            self._emit_run(data, run_start, end, base, out)

    def _block_clean(self, piece: bytes) -> bool:
        if piece.translate(None, _KEEP_BLOCK):
            return False
        # Every window of half the cap holds a \n, so no line is as long as the cap.
        half = self.max_line // 2
        find = piece.find
        for w in range(0, len(piece), half):
            if find(b"\n", w, w + half) == -1:
                return False
        return True

    def _clean_counted(self, piece: bytes) -> tuple[int, tuple[tuple[int, int], ...]] | None:
        """``_block_clean`` and ``count_lines`` in one pass: the piece window by window (line-aligned, about
        ``PLACE_EVERY`` bytes) with every printable byte deleted leaves only its newlines when it is clean, and
        their number is the window's line count. None when the piece is not block-clean."""
        half = self.max_line // 2
        find = piece.find
        for w in range(0, len(piece), half):
            if find(b"\n", w, w + half) == -1:
                return None
        places: list[tuple[int, int]] = []
        index = previous = 0
        rfind = piece.rfind
        for cut in range(PLACE_EVERY, len(piece), PLACE_EVERY):
            start = rfind(b"\n", previous, cut) + 1
            if start <= previous:
                continue
            left = piece[previous:start].translate(None, _PRINTABLE)
            if len(left) != left.count(b"\n"):
                return None
            index += len(left)
            places.append((start, index))
            previous = start
        left = piece[previous:].translate(None, _PRINTABLE)
        if len(left) != left.count(b"\n"):
            return None
        return index + len(left), tuple(places)

    def _emit_run(self, data: bytes, i: int, j: int, base: int, out: list[Item]) -> None:
        if j - i < BLOCK_MIN:
            self._lines(data, i, j, base, out)
        else:
            out.append(self._emit_block(data[i:j], base + i))

    def _emit_block(
        self, chunk: bytes, offset: int, counted: tuple[int, tuple[tuple[int, int], ...]] | None = None
    ) -> LineBlock:
        count, places = counted if counted is not None else count_lines(chunk)
        block = LineBlock(self._number, offset, chunk, count, places)
        self._number += count
        self._line_offset = offset + len(chunk)
        return block

    def _lines(self, data: bytes, i: int, j: int, base: int, out: list[Item], whole: bool = False) -> None:
        """Complete lines data[i:j] one by one, in C where the piece is clean (``whole``: a redrawn line as one
        ``RedrawnLine`` where it can be)."""
        piece = data[i:j]
        number = self._number
        offset = base + i
        if not piece.translate(None, _KEEP_LINES):
            max_line = self.max_line
            texts = piece.decode("ascii").split("\n")
            texts.pop()
            for text in texts:
                size = len(text)
                if size > max_line:
                    out.append(Line(number, offset, self._cut(text, size), True, True))
                else:
                    out.append(Line(number, offset, text))
                number += 1
                offset += size + 1
            self._number = number
            self._line_offset = offset
            return
        raws = piece.split(b"\n")
        raws.pop()
        for raw in raws:
            size = len(raw)
            if b"\r" in raw:
                self._line_offset = offset
                if size > self.max_line or not self._redrawn_line(raw, out, whole):
                    self._consume(raw, 0, size, out)
                    self._end_line(out, offset + size + 1)
            else:
                text, truncated = self._render(raw, 0)
                out.append(Line(self._number, offset, text, True, truncated))
                self._number += 1
            offset += size + 1
            self._line_offset = offset

    def _redrawn_line(self, raw: bytes, out: list[Item], whole: bool = False) -> bool:
        """A complete line redrawn with ``\\r`` (a progress bar's states) in one decode and one split, when no
        segment needs cleaning or cutting (the caller checked its size): the ``Line`` objects ``_consume`` and
        ``_end_line`` give for it (``whole``: as one ``RedrawnLine``). False (nothing done) when it needs their
        byte-wise path."""
        text = raw.decode("utf-8", "replace")
        if _NEEDS_CLEAN_BUT_CR.search(text) is not None:
            return False
        segments = text.split("\r")
        if not segments[-1]:
            segments.pop()  # the \r of \r\n (or a redraw erased to nothing: the last state shown stays)
        last = segments.pop() if segments else ""
        number, offset = self._number, self._line_offset
        if whole:
            states = [segment for segment in segments if segment.strip()]
            if states and not last.strip():
                last = states[-1]
            states.append(last)
            out.append(RedrawnLine(number, offset, tuple(states)) if len(states) > 1 else Line(number, offset, last))
            self._number = number + 1
            return True
        shown: str | None = None
        for segment in segments:
            if segment.strip():
                out.append(Line(number, offset, segment, False))
                shown = segment
        if shown is not None and not last.strip():
            last = shown
        out.append(Line(number, offset, last, True))
        self._number = number + 1
        return True

    # ------------------------------------------------------------------ the line being read

    def _consume(self, data: bytes, s: int, e: int, out: list[Item]) -> None:
        """Bytes data[s:e] (no \\n among them) continue the current line."""
        if s >= e:
            return
        if self._after_cr:
            # The byte after that \r is not \n: the segment it ended was a redraw.
            self._after_cr = False
            self._redraw(out)
        while True:
            cr = data.find(b"\r", s, e)
            if cr == -1:
                self._append(data, s, e)
                return
            self._append(data, s, cr)
            if cr + 1 < e:
                self._redraw(out)
                s = cr + 1
            else:
                # Might be the \r of \r\n: decide when the next byte arrives.
                self._after_cr = True
                return

    def _append(self, data: bytes, s: int, e: int) -> None:
        if s >= e:
            return
        room = self._raw_cap - len(self._seg)
        if room >= e - s:
            self._seg += memoryview(data)[s:e]
        else:
            if room > 0:
                self._seg += memoryview(data)[s : s + room]
            self._seg_dropped += e - s - max(room, 0)

    def _take_segment(self) -> tuple[str, bool]:
        rendered = self._render(bytes(self._seg), self._seg_dropped)
        self._seg.clear()
        self._seg_dropped = 0
        return rendered

    def _redraw(self, out: list[Item]) -> None:
        self._redrawn = True
        text, truncated = self._take_segment()
        if text.strip():
            out.append(Line(self._number, self._line_offset, text, False, truncated))
            self._last_shown = (text, truncated)

    def _end_line(self, out: list[Item], next_offset: int) -> None:
        text, truncated = self._take_segment()
        if not text.strip() and self._last_shown is not None:
            text, truncated = self._last_shown
        out.append(Line(self._number, self._line_offset, text, True, truncated))
        self._number += 1
        self._line_offset = next_offset
        self._after_cr = False
        self._last_shown = None
        self._redrawn = False

    def _render(self, raw: bytes, dropped: int) -> tuple[str, bool]:
        if len(raw) > self._raw_cap:
            dropped += len(raw) - self._raw_cap
            raw = raw[: self._raw_cap]
        text = clean_bytes(raw)
        if dropped or len(text) > self.max_line:
            return self._cut(text, len(raw) + dropped), True
        return text, False

    def _cut(self, text: str, raw_size: int) -> str:
        shown = text[: self.max_line]
        hidden = max(0, raw_size - len(shown.encode("utf-8", "replace")))
        return shown + _CUT_MARK.format(hidden)
