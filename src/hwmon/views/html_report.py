"""``hwmon report``: a run as one self-contained HTML file to send a colleague — no script, no network, no CDN:
inline CSS and SVG only.

Sections: the header figures, the phase timeline, the loss chart (train loss with its smoothed line, eval points)
and the throughput chart, progress, eval metrics, checkpoints, alerts, errors, the model summary and the last log
lines. Every figure is the model's (``hwmon.model.figures``, ``hwmon.model.eta``, ``hwmon.model.summary``) spelt by
``hwmon.model.fmt``; the charts draw the model's bounded series (``BoundedSeries``: at most a few hundred points,
so the file's size does not grow with the log). Every piece of text from the log or the file system passes through
``safe_text`` and is HTML-escaped: log text is data, never markup.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from html import escape

from hwmon import __version__
from hwmon.events import ModuleNode
from hwmon.model import figures, smoothing
from hwmon.model.eta import eta_seconds, fmt_eta
from hwmon.model.state import RunState
from hwmon.model.text import safe_text
from hwmon.views.svg import Series, Span, line_chart, timeline

__all__ = ["ReportInput", "render"]

MAX_LOG_LINES = 200
MAX_MODEL_NODES = 400
LINE_LIMIT = 2000


@dataclass(frozen=True)
class ReportInput:
    """What the report shows: the run's state (read to its end), where it came from, its last log lines (already
    split into final lines by the parser's splitter), how many lines the log had, and when the report was made."""

    state: RunState
    source: str
    lines: Sequence[str]
    generated: datetime
    command: str | None = None
    now: float | None = None


def _t(text: object, limit: int | None = LINE_LIMIT) -> str:
    """Text from outside hwmon, made inert twice over: terminal-safe, then HTML-escaped."""
    return escape(safe_text(text, limit), quote=True)


def _row(key: str, value: str, css: str = "") -> str:
    cls = f' class="{css}"' if css else ""
    return f"<tr><th>{escape(key)}</th><td{cls}>{value}</td></tr>"


def _header(inp: ReportInput) -> str:
    state, now = inp.state, inp.now
    # Every figure through the model's function and its one spelling (hwmon.model.figures), as every view.
    status = figures.display_status(state, now)
    progress = figures.step_progress(state)
    _step, loss = figures.last_loss(state)
    rows = [
        _row("status", _t(status), f"status status-{_t(status)}"),
        _row("vendor", _t(state.vendor or "unknown") + (f" ({_t(state.device)})" if state.device else "")),
        _row("wall time", figures.fmt_wall(figures.wall_seconds(state, now))),
    ]
    if progress is not None and progress.step is not None:
        rows.append(_row("step", _t(figures.fmt_step_count(progress))))
    if loss is not None:
        low = f" (min {figures.fmt_loss(state.loss.min)})" if state.loss.min is not None else ""
        rows.append(_row("loss", figures.fmt_loss(loss) + low))
    rate = figures.current_rate(state)
    if rate is not None:
        rows.append(_row("rate", _t(figures.fmt_rate(rate))))
    eta = eta_seconds(state, now)
    if eta is not None:
        rows.append(_row("ETA", fmt_eta(eta)))
    if state.job_ids:
        rows.append(_row("job ids", _t(", ".join(state.job_ids))))
    if inp.command:
        rows.append(_row("command", f"<code>{_t(inp.command)}</code>"))
    if state.runs > 1:
        rows.append(_row("runs in log", f"{state.runs} (showing the last)"))
    rows.append(_row("errors / warnings", f"{figures.log_error_count(state)} / {state.warnings}"))
    return '<table class="facts">' + "".join(rows) + "</table>"


def _phases(state: RunState, now: float | None) -> str:
    durations = figures.phase_durations(state, now)
    if not state.phases:
        return ""
    wall = figures.wall_seconds(state, now)
    spans: list[Span] = []
    cursor = 0.0
    rows = []
    for phase, seconds, share in zip(state.phases, durations, figures.phase_shares(state, now), strict=True):
        share_text = figures.fmt_share(share)
        repeats = f" ×{phase.repeats}" if phase.repeats > 1 else ""
        rows.append(
            f"<tr><td>{_t(phase.name)}{repeats}</td><td class=num>{figures.fmt_wall(seconds)}</td>"
            f"<td class=num>{share_text}</td><td>{_t(phase.detail, 200)}</td></tr>"
        )
        if seconds is None:
            continue
        start = cursor
        if phase.start is not None and state.first_ts is not None:
            start = max(0.0, (phase.start - state.first_ts).total_seconds())
        spans.append(Span(phase.name, start, seconds, f"{phase.name} {figures.fmt_wall(seconds)} {share_text}"))
        cursor = start + seconds
    chart = timeline(spans, f"wall time {figures.fmt_wall(wall)}")
    table = (
        '<table class="grid"><tr><th>phase</th><th>duration</th><th>% wall</th><th>detail</th></tr>'
        + "".join(rows)
        + "</table>"
    )
    return f"<section><h2>Phases</h2>{chart}{table}</section>"


def _charts(state: RunState) -> str:
    parts = []
    if state.loss.points or state.eval_points:
        series = [Series("train loss", state.loss.points, "loss")]
        # The dashboard's smoothing (S): TensorBoard's debiased EMA at its default weight.
        if len(state.loss.points) > 2:
            smoothed = smoothing.ema_debiased(state.loss.points, smoothing.DEFAULT_WEIGHT)
            series.append(Series(f"smoothed ({smoothing.fmt_smoothing(smoothing.DEFAULT_WEIGHT)})", smoothed, "smooth"))
        evals = figures.eval_points(state)
        if evals:
            # Each evaluation at the training step it belongs to, its value the run's own figure when it states one.
            series.append(Series("eval loss", [(p.step, p.loss) for p in evals], "eval", markers=True))
        _step, last_loss = figures.last_loss(state)
        title = f"loss: last {figures.fmt_loss(last_loss)}, min {figures.fmt_loss(state.loss.min)}"
        parts.append(line_chart(title, series, x_label="step", y_label="loss"))
    if state.rate.points:
        unit = safe_text(state.rate_unit, 30)
        title = f"throughput ({unit}): last {_t(figures.fmt_rate(figures.current_rate(state)))}"
        parts.append(line_chart(title, [Series("rate", state.rate.points, "rate")], x_label="step", y_label=unit))
    if not parts:
        return ""
    return "<section><h2>Charts</h2>" + "".join(parts) + "</section>"


def _progress(state: RunState, now: float | None) -> str:
    bars = sorted(state.progress.values(), key=lambda b: b.line)
    if not bars:
        return ""
    main = figures.main_progress(state)
    rows = []
    for bar in bars:
        fraction = bar.fraction
        width = 0.0 if fraction is None else 100 * fraction
        done = f"{bar.n}/{bar.total}" if bar.total else f"{bar.n}"
        mark = " ◀" if bar is main else ""
        rows.append(
            f"<tr><td>{_t(bar.name or '(bar)', 80)}{mark}</td><td class=num>{done}</td>"
            f'<td><div class="bar"><div style="width:{width:.1f}%"></div></div></td>'
            f"<td class=num>{figures.fmt_wall(bar.elapsed_s)}</td></tr>"
        )
    return (
        "<section><h2>Progress</h2><table class=grid><tr><th>bar</th><th>done</th><th></th><th>elapsed</th></tr>"
        + "".join(rows)
        + "</table></section>"
    )


def _eval_and_checkpoints(state: RunState) -> str:
    parts = []
    if state.eval:
        rows = "".join(
            f"<tr><td>{_t(k, 120)}</td><td class=num>{figures.fmt_loss(v)}</td></tr>" for k, v in state.eval.items()
        )
        parts.append(
            "<section><h2>Eval metrics</h2><table class=grid><tr><th>metric</th><th>value</th></tr>"
            f"{rows}</table></section>"
        )
    if state.checkpoints:
        shown = state.checkpoints[-50:]
        more = state.checkpoint_count - len(shown)
        rows = "".join(
            f"<tr><td class=num>{'-' if c.step is None else c.step}</td><td>{_t(c.path or '', 300)}</td></tr>"
            for c in shown
        )
        note = f"<p class=note>{more} earlier checkpoints not listed</p>" if more > 0 else ""
        parts.append(
            f"<section><h2>Checkpoints ({state.checkpoint_count})</h2>{note}"
            f"<table class=grid><tr><th>step</th><th>path</th></tr>{rows}</table></section>"
        )
    return "".join(parts)


def _alerts_and_errors(state: RunState) -> str:
    parts = []
    if state.alerts:
        items = "".join(
            f"<li><strong>{_t(a.kind, 40)}</strong> {_t(a.message, 500)}"
            + (f" <span class=note>(line {a.line})</span>" if a.line else "")
            + "</li>"
            for a in state.alerts
        )
        parts.append(f"<section><h2>Alerts</h2><ul class=alerts>{items}</ul></section>")
    errors = figures.log_errors(state)
    if errors:
        items = "".join(f"<li><pre>{_t(e, 4000)}</pre></li>" for e in errors[-20:])
        count = figures.log_error_count(state)
        parts.append(f"<section><h2>Errors ({count})</h2><ul class=errors>{items}</ul></section>")
    return "".join(parts)


def _model(root: ModuleNode | None) -> str:
    if root is None:
        return ""
    budget = [MAX_MODEL_NODES]

    def node(n: ModuleNode) -> str:
        budget[0] -= 1
        label = f"({_t(n.name, 80)}): " if n.name else ""
        label += _t(n.type, 120) + (f"({_t(n.args, 200)})" if n.args else "")
        if not n.children:
            return f"<li>{label}</li>"
        children = []
        for child in n.children:
            if budget[0] <= 0:
                children.append("<li class=note>…</li>")
                break
            children.append(node(child))
        return f"<li><details open><summary>{label}</summary><ul>{''.join(children)}</ul></details></li>"

    return (
        f"<section><h2>Model: {_t(root.type, 120)} ({root.count()} modules)</h2>"
        f"<ul class=tree>{node(root)}</ul></section>"
    )


def _log(lines: Sequence[str], total: int) -> str:
    shown = list(lines)[-MAX_LOG_LINES:]
    if not shown:
        return ""
    first = max(1, total - len(shown) + 1)
    body = "\n".join(
        _t(
            line,
            LINE_LIMIT,
        )
        for line in shown
    )
    return (
        f"<section><h2>Last {len(shown)} log lines</h2>"
        f"<p class=note>lines {first}–{total} of {total}</p><pre class=log>{body}</pre></section>"
    )


CSS = """
:root{color-scheme:light dark;--fg:#1d232a;--bg:#fff;--mut:#667;--line:#d4d8dd;--acc:#2563eb;--smooth:#0f766e;
--eval:#c2410c;--rate:#7c3aed;--ok:#15803d;--bad:#b91c1c}
@media (prefers-color-scheme:dark){:root{--fg:#e5e7eb;--bg:#111418;--mut:#9aa3ad;--line:#2c333b;--acc:#60a5fa;
--smooth:#2dd4bf;--eval:#fb923c;--rate:#a78bfa;--ok:#4ade80;--bad:#f87171}}
body{font:14px/1.45 system-ui,sans-serif;color:var(--fg);background:var(--bg);max-width:980px;margin:24px auto;
padding:0 16px}
h1{font-size:20px;margin:0 0 4px}h2{font-size:16px;margin:24px 0 8px;border-bottom:1px solid var(--line)}
table{border-collapse:collapse}th,td{padding:3px 10px 3px 0;text-align:left;vertical-align:top}
.grid th{border-bottom:1px solid var(--line)}.num{text-align:right;font-variant-numeric:tabular-nums}
.facts th{color:var(--mut);font-weight:500}.status-failed{color:var(--bad);font-weight:700}
.status-succeeded{color:var(--ok);font-weight:700}.note{color:var(--mut);font-size:12px}
svg{width:100%;height:auto;margin:6px 0}svg text{fill:var(--fg);font-size:11px}svg .title{font-size:12px}
.plot{fill:none;stroke:var(--line)}.grid line,line.grid{stroke:var(--line);stroke-width:.5}
polyline{fill:none;stroke-width:1.5}.loss{stroke:var(--acc);opacity:.45}.smooth{stroke:var(--smooth);stroke-width:2}
.rate{stroke:var(--rate)}rect.eval{fill:var(--eval)}.loss-text{fill:var(--acc)}.smooth-text{fill:var(--smooth)}
.eval-text{fill:var(--eval)}.phase{fill:var(--acc);opacity:.8}.phase-compile{fill:#d97706}.phase-queue{fill:#6b7280}
.phase-setup{fill:#8b5cf6}.phase-checkpoint{fill:#0891b2}.phase-eval{fill:#c2410c}
.bar{width:200px;height:8px;background:var(--line)}.bar div{height:8px;background:var(--acc)}
pre{margin:0;white-space:pre-wrap;word-break:break-all}
pre.log{font:12px/1.35 ui-monospace,monospace;background:color-mix(in srgb,var(--line) 35%,transparent);
padding:8px;max-height:640px;overflow:auto}ul.tree{font:12px ui-monospace,monospace}ul.tree ul{padding-left:18px}
footer{margin-top:32px;color:var(--mut);font-size:12px}
"""


def render(inp: ReportInput) -> str:
    """The whole HTML document."""
    state = inp.state
    title = f"hwmon report: {safe_text(inp.source, 200)}"
    body = [
        f"<h1>{_t(title)}</h1>",
        f"<p class=note>generated {inp.generated:%Y-%m-%d %H:%M:%S} by hwmon {escape(__version__)}</p>",
        _header(inp),
        _phases(state, inp.now),
        _charts(state),
        _progress(state, inp.now),
        _eval_and_checkpoints(state),
        _alerts_and_errors(state),
        _model(state.model),
        _log(inp.lines, state.lines),
        "<footer>A static snapshot: open the run live with <code>hwmon attach</code>. "
        "No script, no network: this file is all there is.</footer>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=en><head><meta charset=utf-8>"
        '<meta name=viewport content="width=device-width,initial-scale=1">'
        "<meta http-equiv=Content-Security-Policy content=\"default-src 'none'; style-src 'unsafe-inline'; "
        'img-src data:">'
        f"<title>{_t(title)}</title><style>{CSS}</style></head><body>\n"
        + "\n".join(part for part in body if part)
        + "\n</body></html>\n"
    )
