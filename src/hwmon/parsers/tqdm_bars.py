"""Finding tqdm bars in a line, wherever they are (pure; vendor-neutral): ``find_bars(text)`` -> ``FoundBar``s.

tqdm draws ``{desc}: {pct:3.0f}%|{bar}| {n}/{total} [{elapsed}<{remaining}, {rate}{postfix}]`` and, without a
total, ``{desc}: {n}{unit} [{elapsed}, {rate}{postfix}]``. Captured logs glue bars to each other and to unrelated
output, and a terminal copy can overwrite the start of a bar with other text, so every line is *searched* for every
bar in it, and what can be recovered from a damaged one is. Conventions: see ``hwmon.parsers.tqdm``.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from hwmon.parsers import vocab

__all__ = ["MAX_DESC", "FoundBar", "find_bars", "parse_duration", "parse_metrics"]

MAX_DESC = 120
"""Longest bar description kept; longer text before a bar is glued output, and only its tail is kept."""

_SI = {"k": 1e3, "M": 1e6, "G": 1e9, "T": 1e12, "P": 1e15, "E": 1e18, "Z": 1e21, "Y": 1e24}

_NUM = r"\d+(?:\.\d+)?[kMGTPEZY]?"
_TIME = r"(?:\d+ days?, )?\d+:\d{2}(?::\d{2})?"
# Characters tqdm draws bars with: unicode blocks, ascii=True ("123456789#"), spaces.
_BAR_CHARS = " █▏▎▍▌▋▊▉#0123456789"

# The part of a bar with a count from its "%|" on: "%|███  | 42/100 [...". The percentage before it is read
# separately (it may have been overwritten); searching from the literal "%|" keeps the scan fast.
_FULL = re.compile(
    r"%\|(?P<bar>[^|\n]{0,2000}?)\|\s*(?P<n>" + _NUM + r")/(?P<total>" + _NUM + r")(?:\s*\[(?P<br>[^\[\]]*)\]?)?"
)
# What is left of a bar whose count and times were overwritten: "94%|███████" followed by debris.
_FRAGMENT = re.compile(r"%\|(?P<bar>[" + _BAR_CHARS + r"]*[█▏▎▍▌▋▊▉#][" + _BAR_CHARS + r"]*)")
# The bracket of a bar without a total: "123it [00:01, 99.9it/s]" (found from " [", then the count before it).
_NO_TOTAL = re.compile(r"\s\[(?P<br>" + _TIME + r",\s*[^\[\]]*)\]")
_NO_TOTAL_COUNT = re.compile(
    r"(?<![\w.])(?P<n>\d+(?:\.\d+)?)(?P<sfx>[kMGTPEZY](?=[a-z ]|$))?(?P<unit>\s?[A-Za-z_]\w*)?$"
)
# "N/" just before the count of a bracket-only bar: N of a total.
_N_OF = re.compile(r"(?<![\w.])(" + _NUM + r")/$")
# A postfix printed after the bracket (custom bar_format): " , loss=0.00809".
_TRAILING_POSTFIX = re.compile(r"^\s*,?\s*((?:[A-Za-z_][\w./-]*=[^\s,]+(?:,\s*)?)+)")
# A description-only bar (custom bar_format): "Initializing module X: [00:02, note=...]".
_DESC_ONLY = re.compile(r":\s\[(?P<br>" + _TIME + r"(?:<(?:" + _TIME + r"|\?))?,\s*[^\[\]]*)\]")

_BRACKET = re.compile(r"^\s*(?P<el>" + _TIME + r"|\?)?(?:<(?P<rem>" + _TIME + r"|\?)?)?(?:,\s*(?P<rest>.*))?$", re.S)
_DURATION = re.compile(r"^\s*(?:(?P<d>\d+) days?, )?(?:(?P<h>\d+):)?(?P<m>\d+):(?P<s>\d{2})\s*$")
_RATE_INV = re.compile(r"^(?P<v>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?)\s?s/\s?(?P<unit>\S+)$")
_RATE = re.compile(r"^(?P<v>\d+(?:\.\d+)?(?:[eE][-+]?\d+)?|\?)\s?(?P<unit>[^\s/]*(?:\s[^\s/]+)?)/s$")
_RATE_ANY = re.compile(r"(?P<v>\d+(?:\.\d+)?)\s?(?P<unit>[A-Za-z]+)/s\b|(?P<inv>\d+(?:\.\d+)?)s/(?P<iunit>[A-Za-z]+)")
_REMAINING_ANY = re.compile(r"<(?P<rem>" + _TIME + r")")
# "Step: 10 / 100" in a description: the step and its target, not a ratio.
_STEP_OF = re.compile(r"\bstep:?\s*(\d{1,18})\s*/\s*(\d{1,18})", re.I)
_MULTISPACE = re.compile(r"\s{2,}")
_GLUED_BRACKET = re.compile(r"^.*\](?=\S)")
_SEPARATORS = re.compile(r"(?:[\s|,;]|\s-\s)+")


def parse_duration(text: str) -> float | None:
    """Seconds of a tqdm time (``MM:SS``, ``H:MM:SS``, ``1 day, H:MM:SS``); None for ``?`` or anything else."""
    # The common cases without days, without a regex: bars are parsed on every redraw.
    parts = text.strip().split(":")
    if len(parts) == 2:
        minutes, secs = parts
        if minutes.isdecimal() and secs.isdecimal():
            return float(int(minutes) * 60 + int(secs))
    elif len(parts) == 3:
        hours, minutes, secs = parts
        if hours.isdecimal() and minutes.isdecimal() and secs.isdecimal():
            return float(int(hours) * 3600 + int(minutes) * 60 + int(secs))
    m = _DURATION.match(text)
    if m is None:
        return None
    seconds = int(m["m"]) * 60 + int(m["s"])
    if m["h"]:
        seconds += int(m["h"]) * 3600
    if m["d"]:
        seconds += int(m["d"]) * 86400
    return float(seconds)


def _scaled(text: str) -> float:
    if text and text[-1] in _SI:
        return float(text[:-1]) * _SI[text[-1]]
    return float(text)


def parse_metrics(text: str) -> tuple[tuple[tuple[str, float], ...], str]:
    """Numeric key/value pairs in ``text`` in the vocabulary's spellings (``hwmon.parsers.vocab``; percentages as
    fractions; a ``Step: N / M`` prefix gives ``step`` and ``step_total``) and the text left when they are removed
    (separators tidied): the bar's name, never the metric soup."""
    metrics: list[tuple[str, float]] = []
    s = _STEP_OF.search(text)
    if s is not None:
        metrics += [("step", float(s.group(1))), ("step_total", float(s.group(2)))]
        text = text[: s.start()] + " " + text[s.end() :]
    rest: list[str] = []
    pos = 0
    for pair in vocab.pairs(text, spaced=False):
        metrics.append((pair.key, pair.value))
        rest.append(text[pos : pair.start])
        pos = pair.end
    rest.append(text[pos:])
    left = _SEPARATORS.sub(" ", " ".join(rest)).strip(" -:(")
    return tuple(metrics), left


@dataclass(frozen=True, slots=True)
class FoundBar:
    """One bar found in a line (before phase/step bookkeeping)."""

    name: str
    n: int
    total: int | None
    elapsed_s: float | None
    remaining_s: float | None
    rate: float | None
    unit: str
    metrics: tuple[tuple[str, float], ...]


def _clean_desc(segment: str, *, needs_colon: bool) -> str | None:
    """The description in the text before a bar, or None when that text does not end like a description."""
    desc = segment.rstrip()
    if needs_colon:
        if not desc.endswith(":"):
            return None
        desc = desc[:-1]
    # Text glued in front (another bar's padding, a log prefix) is separated from the description by a wide gap.
    parts = _MULTISPACE.split(desc.strip())
    desc = parts[-1] if parts else ""
    # Output glued in front that ends with a bracket ("...[info] x]Epochs") ends where the description begins;
    # a bracket followed by a space is part of it ("Epoch [1/10]", "Epoch [1/10] train").
    desc = _GLUED_BRACKET.sub("", desc)
    if len(desc) > MAX_DESC:
        # Not a description but output glued to one; keep its tail from a word boundary.
        tail = desc[-MAX_DESC:]
        desc = tail.split(" ", 1)[1] if " " in tail else tail
    return desc.strip()


def _parse_rate(token: str, unit_scale: bool) -> tuple[float | None, str] | None:
    token = token.strip()
    m = _RATE_INV.match(token)
    if m is not None:
        seconds_per = float(m["v"])
        return (1.0 / seconds_per if seconds_per > 0 else None), m["unit"]
    m = _RATE.match(token)
    if m is None:
        return None
    unit = m["unit"].strip() or "it"
    if m["v"] == "?":
        return None, unit
    value = float(m["v"])
    if unit_scale and len(unit) > 1 and unit[0] in _SI:
        value *= _SI[unit[0]]
        unit = unit[1:]
    return value, unit


def _parse_bracket(
    body: str | None, unit_scale: bool
) -> tuple[float | None, float | None, float | None, str | None, str]:
    """(elapsed, remaining, rate, unit, postfix) of a ``[...]`` body; missing pieces are None/""."""
    if body is None:
        return None, None, None, None, ""
    if "day" in body:
        # "1 day, 2:00:00" holds a comma: only the regex splits that right.
        m = _BRACKET.match(body)
        if m is None:
            return None, None, None, None, body
        elapsed = parse_duration(m["el"]) if m["el"] else None
        remaining = parse_duration(m["rem"]) if m["rem"] else None
        rest = (m["rest"] or "").strip()
    else:
        times, _, rest = body.partition(",")
        elapsed_text, _, remaining_text = times.partition("<")
        elapsed = parse_duration(elapsed_text)
        remaining = parse_duration(remaining_text)
        rest = rest.strip()
    rate: float | None = None
    unit: str | None = None
    if rest:
        first, _, tail = rest.partition(",")
        parsed = _parse_rate(first, unit_scale)
        if parsed is not None:
            rate, unit = parsed
            rest = tail.strip()
    return elapsed, remaining, rate, unit, rest


def _to_int(value: float) -> int:
    return int(round(value)) if math.isfinite(value) else 0


def _percent_before(text: str, pos: int) -> int | None:
    """The 1-3 digit percentage that ends just before ``pos``, or None."""
    start = pos
    while start > 0 and pos - start < 3 and "0" <= text[start - 1] <= "9":
        start -= 1
    return int(text[start:pos]) if start < pos else None


_PLAIN_FIRST = frozenset(" 0123456789")
# The commonest line of all: one anonymous bar and nothing else ("  7%|▋   | 70/1000 [00:03<00:45, 20.4it/s]",
# a redraw of the bar of HF's Trainer, Lightning, a plain loop): read in one match. What it reads is what the
# general path below reads for such a line (name "", counts without unit_scale, the rate as tqdm prints it).
_PLAIN = re.compile(
    r"\s*\d{1,3}%\|[^|\n]{0,2000}?\|\s*(\d{1,15})/(\d{1,15})\s*\[(\d+:\d{2}(?::\d{2})?)<(\d+:\d{2}(?::\d{2})?|\?), "
    r"(\d+(?:\.\d+)?|\?)([A-Za-z]+)/s\]\s*"
)


def find_bars(text: str) -> list[FoundBar]:
    """Every tqdm bar in ``text``, left to right (pure, never raises on any text)."""
    if text[:1] in _PLAIN_FIRST:
        m = _PLAIN.fullmatch(text)
        if m is not None and m.group(6) != "s":  # "2.0s/s" reads as seconds per unit: the general path
            n, total, elapsed, remaining, rate, unit = m.groups()
            return [
                FoundBar(
                    "",
                    int(n),
                    int(total),
                    parse_duration(elapsed),
                    parse_duration(remaining),
                    None if rate == "?" else float(rate),
                    unit,
                    (),
                )
            ]
    return find_bars_general(text)


def find_bars_general(text: str) -> list[FoundBar]:
    """``find_bars`` without its one-match shortcut for a plain anonymous bar (every shape of bar)."""
    has_pct = "%|" in text
    has_bracket = "[" in text
    if not has_pct and not has_bracket:
        return []
    # (start, end, kind, match, percentage)
    spans: list[tuple[int, int, str, re.Match[str], int | None]] = []
    if has_pct:
        pos = text.find("%|")
        while pos >= 0:
            pct = _percent_before(text, pos)
            start = pos - len(str(pct)) if pct is not None else pos
            m = _FULL.match(text, pos)
            if m is not None:
                spans.append((start, m.end(), "full", m, pct))
                pos = text.find("%|", m.end())
                continue
            f = _FRAGMENT.match(text, pos)
            if f is not None and pct is not None:
                spans.append((start, f.end(), "fragment", f, pct))
                pos = text.find("%|", f.end())
                continue
            pos = text.find("%|", pos + 2)
    if has_bracket:
        for m in _NO_TOTAL.finditer(text):
            c = _NO_TOTAL_COUNT.search(text, max(0, m.start() - 48), m.start())
            if c is not None:
                spans.append((c.start(), m.end(), "nototal", m, None))
        if ": [" in text:
            for m in _DESC_ONLY.finditer(text):
                spans.append((m.start(), m.end(), "desc", m, None))
    if not spans:
        return []
    spans.sort(key=lambda s: (s[0], -s[1]))
    chosen: list[tuple[int, int, str, re.Match[str], int | None]] = []
    for span in spans:
        if chosen and span[0] < chosen[-1][1]:
            continue
        chosen.append(span)
    bars: list[FoundBar] = []
    prev_end = 0
    for index, (start, end, kind, m, pct) in enumerate(chosen):
        next_start = chosen[index + 1][0] if index + 1 < len(chosen) else len(text)
        bar = _build(kind, m, pct, text, text[prev_end:start], text[end:next_start])
        if bar is not None:
            bars.append(bar)
        prev_end = end
    return bars


def _build(kind: str, m: re.Match[str], pct: int | None, text: str, segment: str, after: str) -> FoundBar | None:
    try:
        if kind == "full":
            return _build_full(m, pct, segment)
        if kind == "fragment":
            return _build_fragment(pct or 0, segment, after)
        if kind == "nototal":
            return _build_no_total(m, text, segment, after)
        return _build_desc_only(m, segment)
    except (ValueError, OverflowError, ZeroDivisionError):
        return None


def _name_and_metrics(desc: str, postfix: str) -> tuple[str, tuple[tuple[str, float], ...]]:
    if ":" in desc or "=" in desc:
        desc_metrics, name = parse_metrics(desc)
    else:
        desc_metrics, name = (), desc
    post_metrics = parse_metrics(postfix)[0] if ("=" in postfix or ":" in postfix) else ()
    return name, desc_metrics + post_metrics


def _build_full(m: re.Match[str], pct: int | None, segment: str) -> FoundBar:
    n_text, total_text = m["n"], m["total"]
    unit_scale = not (n_text.isdigit() and total_text.isdigit())
    elapsed, remaining, rate, unit, postfix = _parse_bracket(m["br"], unit_scale)
    # Without the percentage the description was overwritten too: whatever precedes is not the bar's name.
    desc = _clean_desc(segment, needs_colon=True) if pct is not None else None
    name, metrics = _name_and_metrics(desc or "", postfix)
    return FoundBar(
        name, _to_int(_scaled(n_text)), _to_int(_scaled(total_text)), elapsed, remaining, rate, unit or "it", metrics
    )


def _build_fragment(pct: int, segment: str, after: str) -> FoundBar:
    desc = _clean_desc(segment, needs_colon=True)
    name, metrics = _name_and_metrics(desc or "", "")
    rate: float | None = None
    unit = "it"
    debris = after[:120]
    r = _RATE_ANY.search(debris)
    if r is not None:
        if r["v"] is not None:
            rate, unit = float(r["v"]), r["unit"]
        else:
            seconds_per = float(r["inv"])
            rate, unit = (1.0 / seconds_per if seconds_per > 0 else None), r["iunit"]
    rem = _REMAINING_ANY.search(debris)
    remaining = parse_duration(rem["rem"]) if rem is not None else None
    return FoundBar(name, pct, 100, None, remaining, rate, unit, metrics)


def _build_no_total(m: re.Match[str], text: str, segment: str, after: str) -> FoundBar | None:
    c = _NO_TOTAL_COUNT.search(text, max(0, m.start() - 48), m.start())
    if c is None:
        return None
    unit_scale = "." in c["n"] or bool(c["sfx"])
    elapsed, remaining, rate, unit, postfix = _parse_bracket(m["br"], unit_scale)
    if rate is None and unit is None:
        # tqdm always prints a rate in this form; without one this is some other "N [HH:MM, ...]" text.
        return None
    count = float(c["n"]) * (_SI[c["sfx"]] if c["sfx"] else 1.0)
    total: int | None = None
    of = _N_OF.search(segment)
    if of is not None:
        # A bar_format without the percentage and bar ("{desc} step {n_fmt}/{total_fmt} [{elapsed}, {rate_fmt}]
        # {postfix}"): the count before the "/" is n, and the postfix follows the bracket.
        total, segment = _to_int(count), segment[: of.start()]
        count = _scaled(of.group(1))
        desc = _clean_desc(segment, needs_colon=False)
        if not postfix:
            tail = _TRAILING_POSTFIX.match(after)
            postfix = tail.group(1) if tail is not None else ""
    else:
        desc = _clean_desc(segment, needs_colon=True)
    name, metrics = _name_and_metrics(desc or "", postfix)
    bar_unit = (c["unit"] or "").strip() or unit or "it"
    return FoundBar(name, _to_int(count), total, elapsed, remaining, rate, bar_unit, metrics)


def _build_desc_only(m: re.Match[str], segment: str) -> FoundBar | None:
    desc = _clean_desc(segment + ":", needs_colon=True)
    if not desc:
        return None
    elapsed, remaining, rate, unit, postfix = _parse_bracket(m["br"], False)
    name, metrics = _name_and_metrics(desc, postfix)
    if not name:
        return None
    return FoundBar(name, 0, None, elapsed, remaining, rate, unit or "it", metrics)
