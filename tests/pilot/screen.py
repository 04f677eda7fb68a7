"""Read what the app shows, as plain text rows (for assertions that do not depend on styles)."""

from __future__ import annotations

from typing import Any


def screen_text(app: Any) -> str:
    """The current screen as text, one row per line (uses the compositor's strips, the same data the driver
    writes to the terminal)."""
    strips = app.screen._compositor.render_strips()
    return "\n".join(strip.text for strip in strips)
