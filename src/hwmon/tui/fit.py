"""Rows that fit their width by dropping whole fields, never by cutting one.

A row of the dashboard (the header's lines, a progress row, a fleet row, a pane's title) is a list of fields, each
with a rank: when the row is too wide, the field with the highest rank goes first, then the next, until the rest
fits. A number is never shown half (``ETA 7m0…`` reads as a different time), so an ellipsis is never used on a
field that holds one; only a field marked ``shrink`` (a name or a path) may give up its middle for ``…``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from rich.text import Text


@dataclass(frozen=True, slots=True)
class Field:
    """One field of a row: its text, its rank (0 is kept longest; higher ranks are dropped first), and whether it
    may shrink to ``min_cells`` by losing its middle (names and paths, never numbers)."""

    text: Text
    rank: int = 0
    shrink: bool = False
    min_cells: int = 12
    # The separator before this field when not the row's own (a detail that belongs to the field before it).
    sep: str | None = None


def field(
    text: str | Text,
    rank: int = 0,
    style: str = "",
    *,
    shrink: bool = False,
    min_cells: int = 12,
    sep: str | None = None,
) -> Field:
    """A ``Field`` from a plain string (shown literally, never parsed as markup) or a ``Text``."""
    value = text if isinstance(text, Text) else Text(text, style=style)
    return Field(value, rank, shrink, min_cells, sep)


def _shrunk(text: Text, cells: int) -> Text:
    """``text`` cut to ``cells`` by an ``…`` in its middle: the start of a name and the end of a path (the file
    name) both stay (``gpt-tiny on …run.log)``)."""
    if text.cell_len <= cells:
        return text
    plain = text.plain
    keep = max(1, cells - 1)
    head = keep * 2 // 5
    tail = keep - head
    out = text[:head]
    out.append("…", style=text.style)
    out.append_text(text[len(plain) - tail :])
    while out.cell_len > cells and len(out.plain) > 1:
        head = max(0, head - 1)
        out = text[:head]
        out.append("…", style=text.style)
        out.append_text(text[len(plain) - tail :])
        if head == 0:
            tail -= 1
    return out


def fit_fields(fields: Sequence[Field], width: int, sep: str | Text = " ", *, lead: str | Text = "") -> Text:
    """The fields joined by ``sep`` (after ``lead``), in their order, with whole fields dropped (highest rank first,
    the later of equal ranks first) until the row fits ``width`` cells. Shrinkable fields shrink before anything is
    dropped. The result never holds a cut field and never exceeds ``width`` unless one rank-0 field alone does."""
    sep_text = sep if isinstance(sep, Text) else Text(sep, style="dim")
    lead_text = lead if isinstance(lead, Text) else Text(lead)
    kept = [f for f in fields if f.text.cell_len > 0]
    texts = {id(f): f.text for f in kept}

    def sep_of(f: Field) -> Text:
        return sep_text if f.sep is None else Text(f.sep)

    def total() -> int:
        if not kept:
            return lead_text.cell_len
        seps = sum(sep_of(f).cell_len for f in kept[1:])
        return lead_text.cell_len + sum(texts[id(f)].cell_len for f in kept) + seps

    over = total() - width
    if over > 0:
        for f in kept:
            if f.shrink and over > 0:
                current = texts[id(f)]
                room = max(f.min_cells, current.cell_len - over)
                if room < current.cell_len:
                    texts[id(f)] = _shrunk(current, room)
                    over = total() - width
    while total() > width and len(kept) > 1:
        worst = max(range(len(kept)), key=lambda i: (kept[i].rank, i))
        if kept[worst].rank == 0:
            break
        del kept[worst]
    out = lead_text.copy()
    for index, f in enumerate(kept):
        if index:
            out.append_text(sep_of(f))
        out.append_text(texts[id(f)])
    out.no_wrap = True
    out.overflow = "crop"
    return out
