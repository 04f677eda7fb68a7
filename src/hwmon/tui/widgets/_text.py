"""Rich Text helpers shared by the panes."""

from __future__ import annotations

from collections.abc import Sequence

from rich.text import Text


def join_rows(rows: Sequence[Text]) -> Text:
    """Rows joined by newlines, each cut (never wrapped) at the pane's width so a pane keeps its row count."""
    text = Text("\n", no_wrap=True, overflow="ellipsis").join(rows)
    text.no_wrap = True
    text.overflow = "ellipsis"
    return text
