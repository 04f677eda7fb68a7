"""Vertical boxed key/value tables printed once per update (h17g, issue 17). Pure; no format is named here.

A box is opened by a rule of dashes alone on its line and holds rows of two cells, ``| key | value |``::

    ------------------------------
    | time/            |         |
    |    iterations    | 3       |
    | train/           |         |
    |    loss          | -0.0789 |
    ------------------------------

A row with an empty value is a section (``time/``): the rows indented under it are named with its prefix
(``time/iterations``, ``train/loss``). The rule that closes the box ends one record: its fields go to the
structured stage as one flattened object would (``hwmon.parsers.structured``), so ``train/loss`` is the training
loss (the train section's, or the only loss), eval-named keys are eval metrics and a record without a counter is a
step once records of its shape repeat. Any other line inside a box drops it (it was no box).
"""

from __future__ import annotations

import re

from hwmon.parsers.fields import normal_name

__all__ = ["BoxedRecords"]

_RULE = re.compile(r"^[-=+]{6,}$")
_ROW = re.compile(r"^\|( *)([^|]*?)\s*\|\s*([^|]*?)\s*\|$")
_MAX_ROWS = 128


class BoxedRecords:
    """See the module doc. ``feed`` returns None for a line that is not part of a box, ``[]`` for a row taken and a
    closed record's ``(name, value)`` fields at its closing rule."""

    def __init__(self) -> None:
        self._open = False
        self._rows: list[tuple[str, float | str]] = []  # (name, number): a value that is no number ends the box
        self._section = ""
        self._indent = 0

    def feed(self, msg: str) -> list[tuple[str, float | str]] | None:
        text = msg.strip()
        if _RULE.match(text) is not None:
            rows, self._rows = self._rows, []
            self._section, self._indent = "", 0
            self._open = True  # a closing rule may be followed at once by the next box's opening one
            return rows if rows else None
        if not self._open or not text.startswith("|"):
            self._drop()
            return None
        m = _ROW.match(text)
        if m is None or len(self._rows) >= _MAX_ROWS:
            self._drop()
            return None
        indent, key, value = len(m.group(1)), m.group(2), m.group(3)
        if not key or not (key[0].isalpha() or key[0] == "_"):
            self._drop()  # a row of numbers: a two-column table's, not a key's
            return None
        if not value:
            self._section, self._indent = normal_name(key).rstrip("/"), indent
            return []
        name = normal_name(key)
        if self._section and indent > self._indent:
            name = f"{self._section}/{name}"
        else:
            self._section = ""
        number = _number(value)
        if number is None:
            self._drop()  # "| step | loss |": a table's header of names, not a key's value
            return None
        self._rows.append((name, number))
        return []

    def _drop(self) -> None:
        self._open = False
        self._rows = []
        self._section, self._indent = "", 0


def _number(text: str) -> float | None:
    try:
        return float(text)
    except ValueError:
        return None
