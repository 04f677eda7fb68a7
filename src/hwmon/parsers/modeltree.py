"""A printed PyTorch module tree -> one ``ModelSummary`` event. Pure.

``print(model)`` writes::

    TrainingModelWithLoss(
      (model): Network(
        (layer1): Block(
          (conv): Conv2d(1, 32, kernel_size=(3, 3), stride=(1, 1))
        )
        (blocks): ModuleList(
          (0-11): 12 x Block(
            ...
          )
        )
      )
      (loss): CrossEntropyLoss()
    )

A tree is recognised by its first child line ``  (name): Type(`` right after the root line; the root's class is the
last ``CamelCase(`` token of that root line, so a root glued to progress-bar debris on either side
(``TrainingModelWithLoss(%|█████████▋| 97/100``) still counts. A JSON or config dump has no ``(name): Type(``
line and a Python call has no ``CamelCase(`` root right above one, so neither is mistaken for a tree.

The event is emitted when the root's closing ``)`` arrives; a tree cut short (the log ends, or unrelated lines take
over) is emitted with what was seen. ``(0-11): 12 x Block(`` is expanded into twelve children ``0`` .. ``11``
sharing one (immutable) subtree, so ``ModuleNode.count()`` is the real number of modules.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from hwmon.events import Event, ModelSummary, ModuleNode
from hwmon.parsers.base import Line

__all__ = ["ModelTreeParser"]

_CHILD = re.compile(r"^( +)\(([\w.-]+)\): (?:(\d+) x )?([A-Za-z_][\w.]*)\((.*)$")
# A word glued to "(" ("...]ResNet(", "InferenceWrapper(%|"). Anchored at the start of a word run: the obvious
# r"([A-Z][A-Za-z0-9_]*)\(" retries from every letter of a long run with no "(" after it, which is quadratic (a
# 64 KiB line of letters took ~30 s). The type is taken from the run's first capital, as that pattern did.
_ROOT_WORD = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z0-9_]+\(")
_CAPITAL = re.compile(r"[A-Z]")
_CLOSE = re.compile(r"^( *)\)\s*$")
_RANGE = re.compile(r"^(\d+)-(\d+)$")

MAX_DEPTH = 64
MAX_NODES = 50_000
MAX_REPEAT = 4096
MAX_ROOT_ARGS = 3  # extra_repr lines allowed between the root line and its first child
# Unindented lines tolerated inside a tree (another stream's output interleaved) before it counts as cut off.
MAX_FOREIGN = 3


@dataclass(slots=True)
class _Open:
    name: str
    type: str
    indent: int  # indentation of the line that opened it; its ")" has the same
    repeat: int = 1
    args: list[str] = field(default_factory=list)
    children: list[ModuleNode] = field(default_factory=list)


class ModelTreeParser:
    """Recognises printed ``nn.Module`` trees; see the module docstring."""

    def __init__(self) -> None:
        self._stack: list[_Open] = []
        self._root_line = 0
        self._root_ts: datetime | None = None
        self._nodes = 0
        self._foreign = 0
        # The previous final line (the root candidate) and the redraw segments of the current line.
        # The last few final lines: the root line and any extra_repr lines between it and the first child.
        self._recent: deque[tuple[int, str]] = deque(maxlen=MAX_ROOT_ARGS + 1)
        self._redraws: list[str] = []
        self._redraw_number = 0

    @property
    def busy(self) -> bool:
        """A module tree is being read."""
        return bool(self._stack)

    def feed(self, line: Line) -> list[Event]:
        """Events for this line: a ``ModelSummary`` when a tree ends here (or is found cut off here)."""
        return self._feed(line)

    def finish(self) -> list[Event]:
        """End of input: a tree still open is emitted as far as it was seen."""
        if self._stack:
            return [self._close_all()]
        return []

    # ------------------------------------------------------------------

    def _feed(self, line: Line) -> list[Event]:
        text = line.text
        if not line.final:
            # A root printed and then overdrawn by a bar within the same line only survives in a redraw.
            if line.number != self._redraw_number:
                self._redraws = []
                self._redraw_number = line.number
            if len(self._redraws) < 8:
                self._redraws.append(text)
            return []
        if self._stack:
            events = self._in_tree(line)
        else:
            events = self._maybe_start(line)
        self._recent.append((line.number, text))
        if line.number != self._redraw_number:
            self._redraws = []
        return events

    def _maybe_start(self, line: Line) -> list[Event]:
        text = line.text
        if not text.startswith(" ") or "): " not in text or not self._recent:
            return []
        child = _CHILD.match(text)
        if child is None:
            return []
        indent = child.group(1)
        # Walk back over extra_repr lines ("  hidden=64") to the root line.
        args: list[str] = []
        expected = line.number - 1
        root: tuple[int, str] | None = None
        for number, previous in reversed(self._recent):
            if number != expected:
                break
            if previous.startswith(indent) and previous[len(indent) : len(indent) + 1] not in (" ", "(", ")", ""):
                args.append(previous.strip())
                expected -= 1
                continue
            root = (number, previous)
            break
        if root is None:
            return []
        candidates = [root[1]]
        if self._redraw_number == root[0]:
            candidates.extend(reversed(self._redraws))
        root_type = ""
        for candidate in candidates:
            found = _root_types(candidate)
            if found:
                root_type = found[-1]
                break
        if not root_type:
            return []
        if len(indent) < 2:
            return []
        self._stack = [_Open("", root_type, len(indent) - 2, 1, args[::-1])]
        self._root_line = root[0]
        self._root_ts = None
        self._nodes = 1
        self._foreign = 0
        return self._in_tree(line)

    def _in_tree(self, line: Line) -> list[Event]:
        text = line.text
        close = _CLOSE.match(text)
        if close is not None:
            # A ")" shallower than the open module closes the modules whose own ")" went missing.
            depth = len(close.group(1))
            while len(self._stack) > 1 and depth < self._stack[-1].indent:
                node = self._stack.pop()
                self._stack[-1].children.extend(self._build(node))
            if depth == self._stack[-1].indent:
                self._foreign = 0
                built = self._build(self._stack.pop())
                if not self._stack:
                    return [ModelSummary(self._root_line, self._root_ts, built[0])]
                self._stack[-1].children.extend(built)
                return []
        top = self._stack[-1]
        child = _CHILD.match(text)
        if child is not None and len(child.group(1)) == top.indent + 2:
            self._foreign = 0
            name, repeat, type_, rest = child.group(2), child.group(3), child.group(4), child.group(5)
            rest = rest.rstrip()
            count = min(int(repeat), MAX_REPEAT) if repeat else 1
            if rest.endswith(")") and _balanced(rest[:-1]):
                # One-line module: "(relu): ReLU()" or "(conv): Conv2d(1, 32, kernel_size=(3, 3))".
                leaf = _Open(name, type_, 0, count, [rest[:-1]] if rest[:-1] else [])
                top.children.extend(self._build(leaf))
            elif len(self._stack) < MAX_DEPTH:
                self._stack.append(_Open(name, type_, top.indent + 2, count, [rest] if rest else []))
            return []
        indent = len(text) - len(text.lstrip(" "))
        if text.strip() and indent > top.indent:
            # An extra_repr line of the open module ("  num_features=64, eps=1e-05").
            if sum(len(a) for a in top.args) < 4096:
                top.args.append(text.strip())
            return []
        if not text.strip():
            return []
        self._foreign += 1
        if self._foreign > MAX_FOREIGN:
            return [self._close_all()]
        return []

    def _build(self, node: _Open) -> list[ModuleNode]:
        children = tuple(node.children)
        args = " ".join(node.args)
        if self._nodes >= MAX_NODES:
            children = ()
        self._nodes += node.repeat
        if node.repeat == 1:
            return [ModuleNode(node.name, node.type, args, children)]
        span = _RANGE.match(node.name)
        first = int(span.group(1)) if span else 0
        return [ModuleNode(str(first + i), node.type, args, children) for i in range(node.repeat)]

    def _close_all(self) -> ModelSummary:
        built: list[ModuleNode] = []
        while self._stack:
            node = self._stack.pop()
            node.children.extend(built)
            built = self._build(node)
        self._foreign = 0
        return ModelSummary(self._root_line, self._root_ts, built[0])


def _balanced(text: str) -> bool:
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
            if depth < 0:
                return False
    return depth == 0


def _root_types(text: str) -> list[str]:
    """Every ``Type`` of a ``Type(`` in ``text`` (the part of a word from its first capital), in linear time."""
    types: list[str] = []
    for match in _ROOT_WORD.finditer(text):
        word = match.group()[:-1]
        capital = _CAPITAL.search(word)
        if capital is not None:
            types.append(word[capital.start() :])
    return types
