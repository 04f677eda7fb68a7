"""`hwmon summary --explain LOG`: for each figure of the summary, the line that gave it and the rule (or learned
template, structured line, table, user format) that read that line (issue 17, provenance).

The figures (as the JSON gives them, unrounded) and their sources come from the summary dict (``hwmon.summary/1``,
its ``"provenance"``); for a local file the lines themselves are read again (one pass, only the lines named) and
shown, made safe for a terminal."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import TextIO

from hwmon.model.text import safe_text

__all__ = ["explain", "figure_value", "read_lines"]

_PHASE = re.compile(r"^phases\.(?P<name>\w+)\.(?P<bound>start|end)$")
_CHECKPOINT = re.compile(r"^checkpoints\[(?P<i>\d+)\]$")
_MAX_TEXT = 160


def figure_value(summary: Mapping[str, object], path: str) -> str:
    """The value at ``path`` of a summary dict, spelled for a person (``-`` when it has none)."""
    train = summary.get("train")
    train = train if isinstance(train, Mapping) else {}
    if path in ("status", "vendor"):
        return str(summary.get(path) or "-")
    if path.startswith("train."):
        _, group, key = path.split(".", 2)
        section = train.get(group)
        value = section.get(key) if isinstance(section, Mapping) else None
        if group == "rate" and isinstance(section, Mapping) and isinstance(value, int | float):
            return f"{value:.6g} {section.get('unit') or ''}".rstrip()
        return "-" if value is None else str(value)
    if path.startswith("eval."):
        evals = summary.get("eval")
        value = evals.get(path[5:]) if isinstance(evals, Mapping) else None
        return "-" if value is None else str(value)
    m = _PHASE.match(path)
    if m is not None:
        phases = [p for p in _list(summary.get("phases")) if p.get("name") == m["name"]]
        if not phases:
            return "-"
        phase = phases[0] if m["bound"] == "start" else phases[-1]
        return str(phase.get(m["bound"]) or "(no timestamp)")
    m = _CHECKPOINT.match(path)
    if m is not None:
        checkpoints = _list(summary.get("checkpoints"))
        i = int(m["i"])
        if i >= len(checkpoints):
            return "-"
        step, where = checkpoints[i].get("step"), checkpoints[i].get("path")
        return " ".join(part for part in (f"step {step}" if step is not None else "", str(where or "")) if part) or "-"
    return "-"


def _list(value: object) -> list[Mapping[str, object]]:
    return [item for item in value if isinstance(item, Mapping)] if isinstance(value, list) else []


def read_lines(path: Path, numbers: Iterable[int]) -> dict[int, str]:
    """The text of the lines ``numbers`` (1-based) of a local file, read in one pass; empty when it cannot be read."""
    wanted = set(numbers)
    if not wanted:
        return {}
    last = max(wanted)
    found: dict[int, str] = {}
    try:
        with path.open("rb") as handle:
            for number, raw in enumerate(handle, start=1):
                if number in wanted:
                    found[number] = raw[:4096].decode("utf-8", "replace").rstrip("\r\n")
                if number >= last:
                    break
    except OSError:
        return {}
    return found


def explain(summary: Mapping[str, object], out: TextIO, path: Path | None = None) -> None:
    """Print each figure of ``summary`` with the line and rule that gave it (and that line's text, from ``path``)."""
    provenance = summary.get("provenance")
    sources = provenance if isinstance(provenance, Mapping) else {}
    texts = read_lines(path, (s.get("line", 0) for s in sources.values() if isinstance(s, Mapping))) if path else {}
    print(f"where each figure of {safe_text(summary.get('source'))} comes from:", file=out)
    paths = list(sources)
    for i, required in enumerate(("status", "vendor")):
        if required not in sources:
            paths.insert(i, required)  # said even when no line set them: the reader should know it is a default
    for figure in paths:
        value = figure_value(summary, figure)
        source = sources.get(figure)
        print(f"{figure} = {safe_text(value, 120)}", file=out)
        if not isinstance(source, Mapping):
            print("  (no line set it: hwmon's default)", file=out)
            continue
        line = source.get("line")
        rule = source.get("rule") or "(a rule without a name)"
        text = texts.get(line) if isinstance(line, int) else None
        shown = f': "{safe_text(text, _MAX_TEXT)}"' if text is not None else ""
        print(f"  line {line}, {safe_text(rule)}{shown}", file=out)
