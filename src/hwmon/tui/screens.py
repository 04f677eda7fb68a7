"""Modal screens: the key help, and the confirmation before stopping a run."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Static

HELP_ROWS: tuple[tuple[str, str], ...] = (
    ("q", "quit (the run keeps running)"),
    ("?", "this help"),
    ("/", "search the raw log (Enter keeps it, Esc clears)"),
    ("e", "errors/warnings only in the raw log"),
    ("f", "follow the log on/off (End also resumes)"),
    ("l", "hide/show the raw log (shows the model tree instead)"),
    ("s", "stop a supervised run (asks first: SIGINT, then SIGTERM, then SIGKILL)"),
    ("tab", "next pane (shift+tab: previous)"),
    ("↑ ↓ PgUp PgDn", "scroll the focused pane; scrolling up pauses following"),
)


class HelpScreen(ModalScreen[None]):
    """The keys, one per row. Any of Esc, ?, q closes it."""

    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > Vertical {
        width: 72; height: auto; max-height: 90%; border: heavy $accent; background: $panel; padding: 0 1;
    }
    """
    BINDINGS = [
        Binding("escape", "close", "Close"),
        Binding("question_mark", "close", "Close", show=False),
        Binding("q", "close", "Close", show=False),
    ]

    def compose(self) -> ComposeResult:
        text = Text()
        text.append("hwmon: keys\n\n", style="bold")
        for key, what in HELP_ROWS:
            text.append(f"{key:>14}  ", style="bold")
            text.append(f"{what}\n")
        text.append("\nAlerts (NaN/Inf loss, errors, stalls, silence) show in the header and as notifications.")
        with Vertical():
            yield Static(text, id="help-text")

    def action_close(self) -> None:
        """Close the help."""
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
