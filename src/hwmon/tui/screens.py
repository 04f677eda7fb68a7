"""Screens over the dashboard: the key help, a log record in full, and the confirmation before stopping a run."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.geometry import Size
from textual.screen import ModalScreen, Screen
from textual.widget import Widget
from textual.widgets import Static

HELP_SECTIONS: tuple[tuple[str, tuple[tuple[str, str], ...]], ...] = (
    (
        "dashboard",
        (
            ("q  Ctrl-C", "quit the dashboard (a supervised run keeps running)"),
            ("h  ?", "this help"),
            ("1 2 3 4 5 6 7 8", "show and focus a pane: phases, progress, chart, log, model, system, alerts, ranks"),
            ("tab  shift+tab", "next / previous pane"),
            ("z", "maximise the focused pane (all it has, j/k to scroll) / restore the layout"),
            ("l", "the raw log / the pane last shown in its place (below 120 columns); wide: hide / show it"),
            ("s", "stop the supervised run (asks first: SIGINT, then SIGTERM, then SIGKILL)"),
        ),
    ),
    (
        "raw log",
        (
            ("j k  ↑ ↓", "cursor down / up a line (moving up pauses following)"),
            ("PgDn PgUp  space", "a screen down / up"),
            ("g G  Home End", "first line / last line (G and End follow again)"),
            ("← →", "scroll long lines left / right"),
            ("w", "wrap long lines on / off"),
            ("Enter", "open the whole record under the cursor (a line, a traceback, a module tree)"),
            ("click", "put the cursor on a line (double click: open its record)"),
            ("/  ?", "search forward / backward (regex; capitals make it case-sensitive)"),
            ("n  N", "next / previous match (the title shows match i/total)"),
            ("&", "show only lines matching a regex (& then Enter on an empty pattern: all lines)"),
            ("e", "errors and warnings only"),
            ("f", "follow the log on / off"),
            ("Esc", "clear the search highlight"),
        ),
    ),
    (
        "charts",
        (
            ("c", "loss / throughput (one chart below 120 columns)"),
            ("m", "the next series the run has: loss, throughput, lr, grad norm, accuracy, eval metrics, any field"),
            ("+  -  0", "zoom in to the last half / out / every step"),
            ("L", "log-scaled y axis on / off"),
            ("S", "smoothing on / off: TensorBoard's debiased EMA (weight 0.6), the raw series faint behind it"),
            ("x", "x axis in steps / in time since the first step"),
        ),
    ),
    ("record view", (("y", "copy the record to the clipboard (OSC 52, where the terminal allows it)"),)),
)


def help_text(width: int) -> Text:
    """The keys laid out for ``width`` columns as one styled text: the key column right-aligned and never wrapped,
    each description wrapped under itself. Built by hand rather than as a rich ``Table``: Textual measures and renders
    a table several times on its first layout, which made the first ``h`` the slowest key at 160x48."""
    keys = [key for _section, rows in HELP_SECTIONS for key, _what in rows]
    key_width = max(len(key) for key in keys)
    gap = 2
    what_width = max(8, width - key_width - gap)
    out = Text(no_wrap=True, overflow="crop", end="")
    for index, (section, rows) in enumerate(HELP_SECTIONS):
        if index:
            out.append("\n\n")
        out.append(section.rjust(key_width) if len(section) <= key_width else section, style="bold underline")
        for key, what in rows:
            lines = _wrap(what, what_width)
            for number, line in enumerate(lines):
                out.append("\n")
                out.append((key if number == 0 else "").rjust(key_width), style="bold")
                out.append(" " * gap + line)
    return out


def _wrap(words: str, width: int) -> list[str]:
    """``words`` wrapped at spaces to ``width`` columns; a word longer than the width is cut into pieces."""
    lines: list[str] = []
    line = ""
    for word in words.split():
        while len(word) > width:
            if line:
                lines.append(line)
                line = ""
            lines.append(word[:width])
            word = word[width:]
        if not line:
            line = word
        elif len(line) + 1 + len(word) <= width:
            line += " " + word
        else:
            lines.append(line)
            line = word
    lines.append(line)
    return lines


class HelpText(Widget):
    """The keys, laid out for the width the widget gets (cached per width)."""

    DEFAULT_CSS = "HelpText { width: 100%; height: auto; }"

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's keyword
        super().__init__(id=id)
        self._laid_out: dict[int, Text] = {}

    def text_for(self, width: int) -> Text:
        text = self._laid_out.get(width)
        if text is None:
            text = self._laid_out[width] = help_text(width)
        return text

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(self.text_for(width).plain.split("\n"))

    def render(self) -> Text:
        return self.text_for(self.content_region.width or self.size.width)


class HelpScreen(Screen[None]):
    """The keys. Any of Esc, ?, h, q closes it. Where the terminal is too short for every key, it scrolls with
    j/k, ↑/↓, PgDn/PgUp/space and g/G, and its last row says so and how far down it is."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 96; max-width: 100%; height: auto; max-height: 100%; border: heavy $accent; background: $panel;
        padding: 0 1;
    }
    HelpScreen #help-body { height: auto; max-height: 100%; scrollbar-size: 1 1; }
    HelpScreen #help-text { width: 100%; height: auto; }
    HelpScreen #help-keys { height: 1; color: $text-muted; dock: bottom; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("h", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
        Binding("down,j", "scroll(1)", "Down", show=False),
        Binding("up,k", "scroll(-1)", "Up", show=False),
        Binding("pagedown,space", "page(1)", "Page down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("home,g", "scroll(-100000)", "Top", show=False),
        Binding("end,G", "scroll(100000)", "Bottom", show=False),
    ]

    def compose(self) -> ComposeResult:
        with Vertical() as box:
            box.border_title = "hwmon: keys"
            with VerticalScroll(id="help-body"):
                yield HelpText(id="help-text")
                yield Static(
                    Text("Alerts (NaN/Inf loss, errors, stalls, silence) show in the header's third row.", style="dim")
                )
            yield Static(Text(""), id="help-keys")

    def on_mount(self) -> None:
        self.call_after_refresh(self._update_keys)

    def on_screen_resume(self) -> None:
        # Shown again (the app keeps one help screen): from the top, as a fresh one would be.
        self._body().scroll_home(animate=False, immediate=True)
        self.call_after_refresh(self._update_keys)

    def on_resize(self) -> None:
        self.call_after_refresh(self._update_keys)

    def _body(self) -> VerticalScroll:
        return self.query_one("#help-body", VerticalScroll)

    def _update_keys(self) -> None:
        body = self._body()
        text = Text(no_wrap=True, overflow="crop")
        if body.max_scroll_y > 0:
            top = int(body.scroll_y)
            shown = body.scrollable_content_region.height
            total = shown + body.max_scroll_y
            text.append(f"rows {top + 1}-{min(total, top + shown)} of {total} · ", style="bold")
            text.append("j/k ↑/↓ PgDn PgUp g/G scroll · ")
        text.append("Esc h q close")
        self.query_one("#help-keys", Static).update(text)

    def action_scroll(self, rows: int) -> None:
        """Scroll the keys by ``rows``."""
        body = self._body()
        body.scroll_to(y=max(0, min(body.max_scroll_y, int(body.scroll_y) + rows)), animate=False, immediate=True)
        self._update_keys()

    def action_page(self, pages: int) -> None:
        """A screen of keys down/up."""
        self.action_scroll(pages * max(1, self._body().scrollable_content_region.height - 1))

    def action_close(self) -> None:
        """Close the help."""
        self.dismiss(None)


class RecordScreen(ModalScreen[None]):
    """One record of the log in full (wrapped, scrollable); ``y`` copies it via OSC 52. Log text is shown as
    ``Text``, never markup."""

    DEFAULT_CSS = """
    RecordScreen { align: center middle; }
    RecordScreen > Vertical {
        width: 100%; height: 100%; border: heavy $accent; background: $surface; padding: 0 1;
    }
    RecordScreen #record-body { height: 1fr; }
    RecordScreen #record-text { width: 100%; height: auto; }
    RecordScreen #record-keys { height: 1; color: $text-muted; }
    """
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("q", "close", "Close", show=False),
        Binding("enter", "close", "Close", show=False),
        Binding("y", "copy", "Copy (OSC 52)"),
    ]

    def __init__(self, lines: list[str], first_line: int, *, rule: str | None = None) -> None:
        super().__init__()
        self.lines = lines
        # The record's first line's number in the log (0: not known) and the rule that read it (provenance).
        self.first_line = first_line
        self.rule = rule
        self.copied = False

    def compose(self) -> ComposeResult:
        count = len(self.lines)
        what = "1 line" if count == 1 else f"{count} lines"
        with Vertical() as box:
            title = Text(f"record · {what}")
            if self.first_line > 0:
                title.append(f" · line {self.first_line}")
            if self.rule:
                title.append(f" · read by {self.rule}")  # Text: a rule name from a user's format is not markup
            box.border_title = title
            with VerticalScroll(id="record-body"):
                yield Static(Text("\n".join(self.lines)), id="record-text")
            yield Static(Text("y copy (OSC 52) · ↑ ↓ PgUp PgDn scroll · Esc close"), id="record-keys")

    def on_mount(self) -> None:
        self.query_one("#record-body").focus()

    def action_copy(self) -> None:
        """Copy the record through the terminal (OSC 52): only on this explicit request."""
        self.app.copy_to_clipboard("\n".join(self.lines))
        self.copied = True
        count = len(self.lines)
        self.query_one("#record-keys", Static).update(
            Text(f"copied {count} line{'s' if count != 1 else ''} (OSC 52: the terminal decides) · Esc close")
        )

    def action_close(self) -> None:
        """Back to the dashboard."""
        self.dismiss(None)


class ConfirmScreen(ModalScreen[bool]):
    """A yes/no question; ``y`` confirms, ``n``/Esc/Enter declines (the safe answer is the default)."""

    DEFAULT_CSS = """
    ConfirmScreen { align: center middle; }
    ConfirmScreen > Vertical {
        width: 72; height: auto; max-height: 90%; border: heavy $error; background: $panel; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("y", "answer(True)", "Yes"),
        Binding("n", "answer(False)", "No"),
        Binding("escape", "answer(False)", "No", show=False),
        Binding("enter", "answer(False)", "No", show=False),
    ]

    def __init__(self, question: str) -> None:
        super().__init__()
        self.question = question

    def compose(self) -> ComposeResult:
        text = Text(self.question)  # plain Text: the question may hold a run name taken from outside
        text.append("\n\n")
        text.append("y", style="bold")
        text.append(" yes    ")
        text.append("n", style="bold")
        text.append(" / Esc  no")
        with Vertical():
            yield Static(text, id="confirm-text")

    def action_answer(self, yes: bool) -> None:
        """Close with the answer."""
        self.dismiss(yes)
