"""`hwmon formats`: the formats hwmon reads — built-in, learned, and the user's own — `hwmon formats test FILE LOG`,
which shows which lines each rule of a format file matched and the figures they give, and `hwmon formats learned
LOG`, the templates learned from a log (each with the line that taught it)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hwmon import exitcodes
from hwmon.model.text import safe_text

if TYPE_CHECKING:
    from hwmon.events import Event
    from hwmon.parsers.userformats import Format

_SHOWN = 3  # matches shown per rule: the first few and the last
_LEARNED = (
    ("structured", "a JSON object or dict repr on a line, behind any prefix; {'key': NAME, 'value': V} records"),
    ("table", "a header line of names, then rows of values under it (units, a/b, mm:ss)"),
    ("template", "any repeated line with a counter and named numbers, learned per log"),
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The command's arguments: nothing (list), or ``test FILE LOG``."""
    parser.add_argument(
        "action",
        nargs="?",
        choices=["list", "test", "learned"],
        default="list",
        help="list the formats (default), test FILE LOG, or show the templates learned from a log (learned LOG)",
    )
    parser.add_argument("file", nargs="?", metavar="FILE", help="test: the format file (.toml); learned: the log")
    parser.add_argument("log", nargs="?", metavar="LOG", help="test: a log to try it on")
    parser.add_argument(
        "--format-file",
        action="append",
        default=[],
        metavar="FILE",
        type=Path,
        help="list: also this format file (repeatable)",
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "learned":
        if not args.file:
            print("hwmon: error: usage: hwmon formats learned LOG", file=sys.stderr)
            return exitcodes.USAGE
        return _learned(Path(args.file))
    if args.action == "test":
        if not args.file or not args.log:
            print("hwmon: error: usage: hwmon formats test FILE LOG", file=sys.stderr)
            return exitcodes.USAGE
        return _test(Path(args.file), Path(args.log))
    return _list(args.format_file)


def _list(files: list[Path]) -> int:
    from hwmon.parsers.stream import PARSER_CHAIN
    from hwmon.sources.formats import ENTRY_POINT_GROUP, format_dir, load

    out = sys.stdout
    print("built-in formats (rules, tried in this order):", file=out)
    for factory in PARSER_CHAIN:
        print(f"  {_built_in_name(factory)}", file=out)
    print("  modeltree, generic (errors, warnings, devices, completion, loss=...)", file=out)
    print("learned from each log (for lines no rule reads):", file=out)
    for name, what in _LEARNED:
        print(f"  {name}: {what}", file=out)
    loaded = load(files)
    print(f"user formats ({format_dir()}/*.toml, --format-file, entry points '{ENTRY_POINT_GROUP}'):", file=out)
    if not loaded.formats:
        print("  (none)", file=out)
    for fmt in loaded.formats:
        print(f"  {safe_text(fmt.name)}  ({safe_text(fmt.source)}, {len(fmt.rules)} rules)", file=out)
        for rule in fmt.rules:
            print(f"    {safe_text(rule.describe())}", file=out)
        for cause in fmt.causes:  # issue 21: known failures it adds
            print(f"    cause: {safe_text(cause.name)} /{safe_text(cause.pattern.pattern, 80)}/", file=out)
    for message in loaded.errors:
        print(f"hwmon: format error: {safe_text(message)} (this format is not used)", file=sys.stderr)
    return exitcodes.USAGE if loaded.errors else exitcodes.OK


def _built_in_name(factory: object) -> str:
    name = getattr(factory, "__name__", str(factory))
    return name.removesuffix("Parser").lower() or name


def _test(file: Path, log: Path) -> int:
    from hwmon.sources.formats import load

    loaded = load([file], user_dir=False, entry_points=False)
    if loaded.errors:
        for message in loaded.errors:
            print(f"hwmon: format error: {safe_text(message)}", file=sys.stderr)
        return exitcodes.USAGE
    (fmt,) = loaded.formats
    data = _read_log(log)
    _report(fmt, data, str(log))
    return exitcodes.OK


def _read_log(log: Path) -> bytes:
    if log.is_dir():
        raise exitcodes.HwmonError(f"{log}: is a directory, not a log file", exitcodes.BAD_INPUT)
    try:
        return log.read_bytes()
    except FileNotFoundError:
        raise exitcodes.HwmonError(f"{log}: no such file", exitcodes.BAD_INPUT) from None
    except OSError as exc:
        raise exitcodes.HwmonError(f"{log}: cannot read: {exc.strerror or exc}", exitcodes.BAD_INPUT) from None


def _learned(log: Path) -> int:
    """The templates the learned stage kept for ``log``: id, kind, how many lines, the line that taught it, and
    what each number was read as."""
    from hwmon.parsers.stream import StreamParser

    parser = StreamParser()
    parser.feed(_read_log(log))
    parser.finish()
    templates = [t for t in parser.learned.templates.templates if t.kind != "other"]
    out = sys.stdout
    print(f"templates learned from {safe_text(log)} that read metrics: {len(templates)}", file=out)
    for t in templates:
        print(
            f"template:{t.id} ({t.kind}, {t.seen} lines, taught by line {t.taught_by}): {safe_text(t.text(), 100)}",
            file=out,
        )
        fields = [
            f"{slot.name or '?'}={slot.role or ('counter' if i == t.counter else '-')}"
            for i, slot in enumerate(t.slots)
            if slot.total_of < 0
        ]
        print(f"  {safe_text(', '.join(fields), 116)}", file=out)
    return exitcodes.OK


def _report(fmt: Format, data: bytes, source: str) -> None:
    from hwmon.model.summary import summary_dict
    from hwmon.parsers.stream import StreamParser

    parser = StreamParser(blocks=False, formats=(fmt,))
    events = parser.feed(data)
    events.extend(parser.finish())
    lines = data.decode("utf-8", "replace").splitlines()
    by_rule: dict[str, list[int]] = {rule.rule: [] for rule in fmt.rules}
    figures: dict[int, list[Event]] = {}
    for event in events:
        if event.rule in by_rule:
            numbers = by_rule[event.rule]
            if not numbers or numbers[-1] != event.line:
                numbers.append(event.line)
            figures.setdefault(event.line, []).append(event)
    # A rule whose lines gave no event ("ignore") still took them: count what it matched from the log itself.
    matched = _matched_lines(fmt, lines)
    out = sys.stdout
    print(
        f"format {safe_text(fmt.name)} ({safe_text(fmt.source)}) on {safe_text(source)}: {len(lines)} lines", file=out
    )
    for rule in fmt.rules:
        numbers = matched.get(rule.rule, [])
        print(f"rule {safe_text(rule.describe())}: {len(numbers)} lines", file=out)
        shown = numbers if len(numbers) <= _SHOWN + 1 else [*numbers[:_SHOWN], numbers[-1]]
        for i, number in enumerate(shown):
            if i == _SHOWN and len(numbers) > _SHOWN + 1:
                print(f"  ... {len(numbers) - _SHOWN - 1} more", file=out)
            text = lines[number - 1] if 0 < number <= len(lines) else ""
            print(f"  line {number}: {safe_text(text, 100)}", file=out)
            said = ", ".join(_figure(e) for e in figures.get(number, [])) or "(nothing: the line is the format's)"
            print(f"    -> {safe_text(said)}", file=out)
    taken = sum(len(v) for v in matched.values())
    print(f"lines no rule of this format matched: {len(lines) - taken}", file=out)
    from hwmon.model.summary import summarize_events

    state = summarize_events(events, source)
    s = summary_dict(state)
    train = s["train"]
    assert isinstance(train, dict)
    steps = train.get("steps") or {}
    loss = train.get("loss") or {}
    print(
        f"with this format the summary reads: status {s['status']}, last step {steps.get('last', '-')}, "
        f"last loss {loss.get('last', '-')}, eval {safe_text(s['eval'])}",
        file=out,
    )


def _matched_lines(fmt: Format, lines: list[str]) -> dict[str, list[int]]:
    """Which lines each rule takes (the first matching rule of the format, as the stream applies them)."""
    from hwmon.parsers.base import Line
    from hwmon.parsers.records import RecordReader
    from hwmon.parsers.userformats import UserFormats

    reader = RecordReader()
    user = UserFormats((fmt,))
    taken: dict[str, list[int]] = {rule.rule: [] for rule in fmt.rules}
    for number, text in enumerate(lines, start=1):
        found = user.match(reader.read(Line(number, 0, safe_text(text))))
        if found is not None:
            taken[found[0].rule].append(number)
    return taken


def _figure(event: Event) -> str:
    """What one event says, in a few words."""
    from hwmon.events import (
        CheckpointSaved,
        ErrorSeen,
        EvalMetric,
        PhaseEnded,
        PhaseStarted,
        RunCompleted,
        StepMetrics,
        TargetStated,
        WarningSeen,
    )

    if isinstance(event, StepMetrics):
        parts = [f"step {event.step}" if event.step is not None else "step (numbered by order)"]
        for label, value in (("loss", event.loss), ("rate", event.rate), ("epoch", event.epoch)):
            if value is not None:
                parts.append(f"{label} {value:g}")
        parts.extend(f"{k} {v:g}" for k, v in event.extra)
        return ", ".join(parts)
    if isinstance(event, EvalMetric):
        return f"eval {event.name} {event.value:g}"
    if isinstance(event, TargetStated):
        return f"target {event.what} {event.total}"
    if isinstance(event, RunCompleted):
        return "completed"
    if isinstance(event, ErrorSeen):
        return ("failed: " if event.fatal else "error: ") + event.message[:60]
    if isinstance(event, WarningSeen):
        return "warning: " + event.message[:60]
    if isinstance(event, PhaseStarted):
        return f"{event.phase} starts"
    if isinstance(event, PhaseEnded):
        return f"{event.phase} ends"
    if isinstance(event, CheckpointSaved):
        return f"checkpoint step {event.step} {event.path or ''}".rstrip()
    return type(event).__name__


__all__ = ["add_arguments", "run"]
