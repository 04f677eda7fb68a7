"""The fleet view (``hwmon`` with no arguments, ``hwmon top``): one live table of every run hwmon knows — supervised
runs, the user's Slurm jobs, recently attached logs (local or over ssh) — in the manner of nvitop/htop.

Keys: ↑/↓ move, Enter opens the run's dashboard (Esc there comes back), ``s`` stops it (after a confirmation),
``<``/``>`` (or ``,``/``.``) change the sort column, ``i`` inverts the order, ``/`` filters by text (Esc clears),
``q`` quits. The table is refreshed from ``hwmon.sources.fleet.Fleet`` once a second in a worker thread (which
reads only what the logs added); rows are repainted only when something shown changed.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import App, ComposeResult
from textual.binding import Binding, BindingType
from textual.message import Message
from textual.widget import Widget
from textual.widgets import Footer, Input, Static

from hwmon import exitcodes
from hwmon.model import figures
from hwmon.model.eta import fmt_eta
from hwmon.sources.fleet import Fleet, FleetRow
from hwmon.sources.offthread import Poller, reap_children
from hwmon.tui import view
from hwmon.tui.app import HwmonApp
from hwmon.tui.fit import field, fit_fields
from hwmon.tui.screens import ConfirmScreen

REFRESH_S = 1.0
# Quitting waits at most this long for the ssh followers to close (q must quit within half a second).
QUIT_WAIT_S = 0.3


class FleetRefreshed(Message):
    """The fleet's rows were refreshed (from a reading thread); only the newest matters."""

    def can_replace(self, message: Message) -> bool:
        return isinstance(message, FleetRefreshed)


# (title, key function) per sortable column; None sorts last.
SORTS: list[tuple[str, Callable[[FleetRow], Any]]] = [
    ("listing", lambda r: r.order),
    ("name", lambda r: r.name.lower()),
    ("where", lambda r: r.where),
    ("status", lambda r: r.status),
    ("phase", lambda r: r.phase),
    ("step", lambda r: -1 if r.step is None else r.step),
    ("loss", lambda r: math.inf if r.loss is None or not math.isfinite(r.loss) else r.loss),
    ("eta", lambda r: math.inf if r.eta_s is None else r.eta_s),
    ("alerts", lambda r: r.alerts),
]
STATUS_STYLE = {
    "running": "green",
    "following": "green",
    "queued": "yellow",
    "reconnecting": "yellow",
    "succeeded": "bold green",
    "completed": "bold green",
    "failed": "bold red",
    "ssh error": "bold red",
    "lost": "red",
    "stopped": "magenta",
    "cancelled": "magenta",
}
WIDE = 120


@dataclass(frozen=True)
class FleetChoice:
    """What the user opened: a ref for ``hwmon attach`` (with its ssh options) and a title."""

    ref: str
    ssh_opts: tuple[str, ...]
    title: str


def _fmt_step(row: FleetRow) -> str:
    return figures.fmt_step_count(figures.StepProgress(row.step, row.target))


def _fmt_rate(row: FleetRow) -> str:
    rate = None if row.rate is None else figures.Rate(row.rate, row.rate_unit)
    # The model's spelling of the figure; only the unit is shortened for the column.
    return figures.fmt_rate(rate).replace("samples/sec", "sa/s")


def cells(row: FleetRow, wide: bool) -> list[str]:
    """A row's cells as plain, sanitised strings (names and paths come from outside: never markup)."""
    out = [view.safe_text(row.name), view.safe_text(row.where)]
    if wide:
        out.append(view.safe_text(row.device or "-"))
    out += [view.safe_text(row.status), row.phase or "-", _fmt_step(row), figures.fmt_loss(row.loss)]
    if wide:
        out.append(_fmt_rate(row))
    out += [fmt_eta(row.eta_s), str(row.alerts) if row.alerts else ""]
    return out


def columns(wide: bool) -> list[str]:
    if wide:
        return ["NAME", "WHERE", "DEVICE", "STATUS", "PHASE", "STEP", "LOSS", "RATE", "ETA", "!"]
    return ["NAME", "WHERE", "STATUS", "PHASE", "STEP", "LOSS", "ETA", "!"]


RIGHT = {"STEP", "LOSS", "RATE", "ETA"}
# The widest a name column may grow (NAME and WHERE give up their end for "…" beyond it; they are names, not
# figures). Figures (STEP, LOSS, RATE, ETA) are never cut: a column that does not fit is dropped whole.
MAX_WIDTH = {"NAME": 24, "WHERE": 18, "DEVICE": 8, "STATUS": 12, "PHASE": 10}
MIN_WIDTH = {"NAME": 8, "WHERE": 6}
# Which columns go first when the row is too narrow (highest first).
DROP_RANK = {"NAME": 0, "STATUS": 0, "STEP": 1, "LOSS": 1, "!": 1, "ETA": 2, "PHASE": 3, "WHERE": 3, "DEVICE": 4}
DROP_RANK["RATE"] = 4
# The column each sort orders by (the table marks it ▲ / ▼).
SORT_COLUMNS = {"name": "NAME", "where": "WHERE", "status": "STATUS", "phase": "PHASE", "step": "STEP"}
SORT_COLUMNS.update({"loss": "LOSS", "eta": "ETA", "alerts": "!"})


def _fit(text: str, width: int, right: bool) -> str:
    if len(text) > width:
        text = text[: max(0, width - 1)] + "…"
    return text.rjust(width) if right else text.ljust(width)


def layout_columns(names: list[str], table: list[list[str]], width: int) -> list[tuple[int, int]]:
    """(column index, width) of the columns shown at ``width`` cells: figures at their full width, names up to
    their cap and down to their minimum, and whole columns dropped (highest ``DROP_RANK`` first) until the row
    fits."""
    widths = []
    for index, name in enumerate(names):
        widest = max([len(name) + 1, *(len(r[index]) for r in table)])
        widths.append(min(widest, MAX_WIDTH.get(name, widest)))
    shown = list(range(len(names)))

    def total() -> int:
        return 1 + sum(widths[i] for i in shown) + 2 * (len(shown) - 1)

    for index, name in enumerate(names):
        if name in MIN_WIDTH and total() > width:
            widths[index] = max(MIN_WIDTH[name], widths[index] - (total() - width))
    while total() > width and len(shown) > 1:
        worst = max(shown, key=lambda i: (DROP_RANK.get(names[i], 2), i))
        if DROP_RANK.get(names[worst], 2) == 0:
            break
        shown.remove(worst)
    # Give what is left of the width to NAME (then WHERE), so long names are not cut needlessly.
    spare = width - total()
    for index in shown:
        name = names[index]
        if spare <= 0 or name not in ("NAME", "WHERE"):
            continue
        widest = max([len(name), *(len(r[index]) for r in table)])
        grow = min(spare, max(0, widest - widths[index]))
        widths[index] += grow
        spare -= grow
    return [(i, widths[i]) for i in shown]


class FleetTable(Widget, can_focus=True):
    """The table: one line per run, the selected one highlighted. A single ``Text`` is rendered (cheaper than a
    ``DataTable``'s per-cell renders, which cost more than everything else together at 20 live runs)."""

    DEFAULT_CSS = """
    FleetTable { height: 1fr; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("up,k", "move(-1)", "Up", show=False),
        Binding("down,j", "move(1)", "Down", show=False),
        Binding("pageup", "move(-10)", "Page up", show=False),
        Binding("pagedown", "move(10)", "Page down", show=False),
        Binding("home,g", "move(-100000)", "First", show=False),
        Binding("end,G", "move(100000)", "Last", show=False),
    ]

    def __init__(self, *, id: str | None = None) -> None:  # noqa: A002 - Textual's name
        super().__init__(id=id)
        self.rows: list[FleetRow] = []
        self.wide = False
        self.cursor = 0
        self.top = 0
        # The sorted column and its direction (▲ ascending, ▼ descending), marked in the header row.
        self.sort_column = ""
        self.descending = False
        self.empty_text = " no runs yet: hwmon run …, hwmon attach LOG or HOST:PATH, or Slurm jobs of yours"

    def set_rows(self, rows: list[FleetRow], wide: bool) -> None:
        self.rows = rows
        self.wide = wide
        self.cursor = min(self.cursor, max(0, len(rows) - 1))
        self.refresh()

    def action_move(self, delta: int) -> None:
        if self.rows:
            self.cursor = max(0, min(len(self.rows) - 1, self.cursor + delta))
            self.refresh()

    def render(self) -> Text:
        names = columns(self.wide)
        table = [cells(row, self.wide) for row in self.rows]
        shown = layout_columns(names, table, self.size.width or 80)
        text = Text(no_wrap=True, overflow="crop")
        heads = []
        for index, width in shown:
            name = names[index]
            if name == self.sort_column:
                name += "▼" if self.descending else "▲"
            heads.append(_fit(name, width, names[index] in RIGHT))
        text.append(" " + "  ".join(heads) + "\n", style="bold reverse")
        height = max(1, self.size.height - 1)
        if self.cursor < self.top:
            self.top = self.cursor
        elif self.cursor >= self.top + height:
            self.top = self.cursor - height + 1
        for index in range(self.top, min(len(table), self.top + height)):
            row_style = (
                "reverse" if index == self.cursor and self.has_focus else ("underline" if index == self.cursor else "")
            )
            text.append(" ", style=row_style)
            for position, (col, width) in enumerate(shown):
                name = names[col]
                cell = _fit(table[index][col], width, name in RIGHT)
                style = STATUS_STYLE.get(self.rows[index].status, "") if name == "STATUS" else ""
                if name == "!" and table[index][col]:
                    style = "bold red"
                text.append(cell, style=f"{style} {row_style}".strip())
                if position < len(shown) - 1:
                    text.append("  ", style=row_style)
            text.append("\n")
        if not table:
            text.append(self.empty_text, style="dim")
        return text


class FleetApp(App[FleetChoice | None]):
    """The fleet table over a ``Fleet`` (kept by the caller, so its trackers survive opening a dashboard)."""

    TITLE = "hwmon fleet"
    ENABLE_COMMAND_PALETTE = False
    CSS = """
    Screen { layout: vertical; }
    #fleet-header { height: auto; max-height: 2; padding: 0 1; background: $panel; color: $text; }
    #fleet-filter { dock: bottom; display: none; }
    #fleet-filter.-shown { display: block; }
    #fleet-empty { height: auto; padding: 1 2; color: $text-muted; }
    """
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("q", "quit", "Quit"),
        Binding("enter", "open", "Open", priority=False),
        Binding("s", "stop", "Stop"),
        Binding("greater_than_sign,full_stop", "sort(1)", "Sort >", key_display=">"),
        Binding("less_than_sign,comma", "sort(-1)", "Sort <", key_display="<", show=False),
        Binding("i", "invert", "Invert"),
        Binding("slash,backslash", "filter", "Filter", key_display="/"),
        Binding("escape", "clear_filter", "Clear", show=False),
    ]

    def __init__(self, fleet: Fleet, *, refresh_s: float = REFRESH_S, threaded: bool = True) -> None:
        super().__init__()
        self.fleet = fleet
        self.refresh_s = refresh_s
        self.threaded = threaded
        self.sort_index = 0
        self.reverse = False
        self.filter_text = ""
        self._shown: list[tuple[Any, ...]] = []
        self._rows: list[FleetRow] = []
        self._wide: bool | None = None
        self._header = ""
        self.repaints = 0
        self._loaded = False
        self._local: Poller[bool] | None = None
        self._slurm: Poller[bool] | None = None

    def compose(self) -> ComposeResult:
        yield Static("", id="fleet-header")
        yield FleetTable(id="fleet-table")
        yield Input(placeholder="filter: text in name, where, status, phase (Esc clears)", id="fleet-filter")
        yield Footer()

    def on_mount(self) -> None:
        if not self.threaded:
            self.fleet.refresh(force=True)
            self.fleet.start_remote()
            self._loaded = True
            self._repaint()
            self.set_interval(self.refresh_s, self._tick)
            return
        # Nothing that reads a file or asks Slurm runs on this thread: the registry and the logs are read in one
        # daemon thread, Slurm is asked in another (a hanging squeue only shows as a note), and the first frame
        # goes out at once. Daemon threads, not Textual's thread workers: quitting never waits for them.
        self._repaint()
        self._local = Poller(
            lambda: self.fleet.refresh(force=not self._loaded, slurm=False),
            self.refresh_s,
            what="the run registry",
            on_result=lambda: self.post_message(FleetRefreshed()),
        )
        self._slurm = Poller(
            self.fleet.poll_slurm,
            self.fleet.slurm_every,
            what="Slurm (squeue)",
            on_result=lambda: self.post_message(FleetRefreshed()),
        )
        self._local.start()
        self._slurm.start()
        # Once a second: the header's notes (a Slurm that does not answer) age even when no data moves.
        self.set_interval(self.refresh_s, self._repaint)

    async def on_unmount(self) -> None:
        for poller in (self._local, self._slurm):
            if poller is not None:
                poller.stop()
        await self.fleet.stop_remote(timeout=QUIT_WAIT_S)

    @on(FleetRefreshed)
    def _refreshed(self, _message: FleetRefreshed) -> None:
        self._loaded = True
        self.fleet.start_remote()
        self._repaint()

    def _tick(self) -> None:
        self.fleet.refresh()
        self.fleet.start_remote()
        self._repaint()

    def slurm_note(self) -> str:
        """What the header says about Slurm: its last error, or that it has not answered for a while."""
        slow = self._slurm.note if self._slurm is not None else ""
        return slow or self.fleet.slurm_note

    def on_resize(self) -> None:
        self._repaint()

    # ------------------------------------------------------------------------------------------------ painting

    def visible_rows(self, rows: list[FleetRow] | None = None) -> list[FleetRow]:
        """The rows after the filter and the sort, as shown."""
        rows = self.fleet.rows() if rows is None else rows
        if self.filter_text:
            needle = self.filter_text.lower()
            rows = [r for r in rows if any(needle in f.lower() for f in (r.name, r.where, r.status, r.phase, r.device))]
        _title, key = SORTS[self.sort_index]
        return sorted(rows, key=key, reverse=self.reverse)

    def _repaint(self) -> None:
        table = self.query_one(FleetTable)
        wide = self.size.width >= WIDE
        all_rows = self.fleet.rows()
        rows = self.visible_rows(all_rows)
        shown = [(r.key, r.status, *cells(r, wide)) for r in rows]
        counts: dict[str, int] = {}
        for row in all_rows:
            counts[row.status] = counts.get(row.status, 0) + 1
        summary = ", ".join(f"{n} {status}" for status, n in sorted(counts.items())) or "no runs"
        sort_name = SORTS[self.sort_index][0]
        direction = " ▼" if self.reverse else " ▲"
        fields = [field("hwmon fleet", 0, "bold"), field(summary, 3)]
        fields.append(field(f"sort: {sort_name}{'' if sort_name == 'listing' else direction}", 1))
        if self.reverse and sort_name == "listing":
            fields[-1] = field("sort: listing, inverted (i)", 1)
        if self.filter_text:
            fields.append(
                field(f"/{view.safe_text(self.filter_text)}: {len(rows)} of {len(all_rows)} shown", 0, "bold")
            )
        if not self._loaded:
            fields.append(field("reading the runs…", 0, "italic"))
        header = fit_fields(fields, max(20, self.size.width - 2), Text("  ·  ", style="dim"))
        note = self.slurm_note()
        if note:
            # A row of its own: a Slurm that does not answer matters more than any other header field.
            header.append("\n")
            header.append("⚠ ", style="bold yellow")
            header.append(view.safe_text(note), style="italic")
        if header.plain != self._header:
            self._header = header.plain
            self.query_one("#fleet-header", Static).update(header)
        table.sort_column = SORT_COLUMNS.get(sort_name, "")
        table.descending = self.reverse
        table.empty_text = (
            f" no run matches /{view.safe_text(self.filter_text)} (Esc clears the filter)"
            if self.filter_text
            else " no runs yet: hwmon run …, hwmon attach LOG or HOST:PATH, or Slurm jobs of yours"
        )
        shown.append((self.sort_index, self.reverse, self.filter_text))  # type: ignore[arg-type]
        if wide == self._wide and shown == self._shown:
            return
        self.repaints += 1
        selected = self._rows[table.cursor].key if self._rows and 0 <= table.cursor < len(self._rows) else None
        self._wide = wide
        self._rows = rows
        self._shown = shown
        if selected is not None:
            for index, row in enumerate(rows):
                if row.key == selected:
                    table.cursor = index
                    break
        table.set_rows(rows, wide)

    # ------------------------------------------------------------------------------------------------ actions

    def selected(self) -> FleetRow | None:
        """The row under the cursor."""
        table = self.query_one(FleetTable)
        if not self._rows or not 0 <= table.cursor < len(self._rows):
            return None
        return self._rows[table.cursor]

    def select(self, key: str) -> None:
        """Put the cursor on the row with ``key`` (tests)."""
        table = self.query_one(FleetTable)
        for index, row in enumerate(self._rows):
            if row.key == key:
                table.cursor = index
                table.refresh()

    def action_open(self) -> None:
        row = self.selected()
        if row is not None:
            self.exit(FleetChoice(row.ref, row.ssh_opts, f"{row.name} ({row.where})"))

    def action_sort(self, step: int) -> None:
        self.sort_index = (self.sort_index + step) % len(SORTS)
        self._repaint()

    def action_invert(self) -> None:
        self.reverse = not self.reverse
        self._repaint()

    def action_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        box.add_class("-shown")
        box.value = self.filter_text
        box.focus()

    @on(Input.Changed, "#fleet-filter")
    def _filter_changed(self, event: Input.Changed) -> None:
        self.filter_text = event.value
        self._repaint()

    @on(Input.Submitted, "#fleet-filter")
    def _filter_done(self, _event: Input.Submitted) -> None:
        self.query_one("#fleet-filter", Input).remove_class("-shown")
        self.query_one(FleetTable).focus()

    def action_clear_filter(self) -> None:
        box = self.query_one("#fleet-filter", Input)
        box.remove_class("-shown")
        box.value = ""
        self.filter_text = ""
        self.query_one(FleetTable).focus()
        self._repaint()

    def action_stop(self) -> None:
        row = self.selected()
        if row is None:
            return
        if not row.stop_ref:
            self.notify(f"{view.safe_text(row.name)}: not a running run hwmon can stop", timeout=5, markup=False)
            return

        def answered(yes: bool | None) -> None:
            if yes:
                self.notify(f"stopping {view.safe_text(row.name)}", timeout=5, markup=False)
                self._stop_worker(row.stop_ref)

        self.push_screen(ConfirmScreen(f"Stop {view.safe_text(row.name)} ({view.safe_text(row.where)})?"), answered)

    @work(thread=True, exclusive=True, group="fleet-stop", exit_on_error=False)
    def _stop_worker(self, stop_ref: str) -> None:
        try:
            message = stop_ref_now(stop_ref)
            severity = "information"
        except exitcodes.HwmonError as exc:
            message, severity = str(exc), "error"
        self.call_from_thread(self.notify, view.safe_text(message), severity=severity, timeout=10, markup=False)
        self.fleet.refresh(force=True)
        self.call_from_thread(self._repaint)


def stop_ref_now(stop_ref: str) -> str:
    """Stop what a row names: a supervised run (signals), a run submitted to Slurm or a Slurm job (scancel)."""
    from hwmon.refs import job_ref_of
    from hwmon.runners import supervisor
    from hwmon.slurm.client import stop_job
    from hwmon.slurm.watcher import stop_run
    from hwmon.store import registry

    if stop_ref.startswith("slurm:"):
        job = stop_job(job_ref_of(stop_ref))
        return f"slurm job {job_ref_of(stop_ref)} {job.state.lower() if job else 'gone'}"
    record = registry.resolve(stop_ref)
    final = stop_run(record) if record.slurm_job_id else supervisor.stop_run(record)
    return f"run {final.run_id} {final.status}"


class FleetDashboard(HwmonApp):
    """The run dashboard opened from the fleet: Esc first does what it does in the dashboard (close the prompt,
    clear the search, restore a maximised pane); when there is nothing of that left, it goes back to the table."""

    def _escapable(self) -> tuple[object, ...]:
        pane = self.log_pane
        return (
            getattr(pane, "search_term", None),
            getattr(pane, "prompting", None),
            pane.has_class("-searching"),
            pane.has_class("-prompting"),
            getattr(self.screen, "maximized", None),
        )

    def action_escape(self) -> None:
        before = self._escapable()
        super().action_escape()
        if self._escapable() == before:
            self.exit(exitcodes.OK)


def run_fleet(fleet: Fleet, open_source: Callable[[FleetChoice], Any]) -> int:
    """The fleet view until the user quits; Enter runs the chosen run's dashboard, Esc there comes back."""
    from hwmon.tui.terminal import run_app

    while True:
        try:
            choice = run_app(FleetApp(fleet))  # SIGTERM/SIGHUP/an exception give the terminal back too
        finally:
            reap_children()  # a squeue still hanging when the view quit: end it, leave nothing behind
        if choice is None:
            return exitcodes.OK
        try:
            source = open_source(choice)
        except exitcodes.HwmonError as exc:
            print(f"hwmon: {exc}")
            time.sleep(1.5)
            continue
        run_app(FleetDashboard(source, title=choice.title))
        source.close()
