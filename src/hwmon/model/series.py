"""A bounded series: memory flat in log length, while first/last/min/max/count stay exact."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, cast


class Holder:
    """What a producer puts in a series for values it reads later (``BoundedSeries.hold``): a kept point (or a first
    one) is held as the pair (holder, key), read as ``value(key)``; a fold's (min, max) as the holder itself, read
    as ``value(0)``. Pairs, so that a block's points are held in one C pass (``zip``), not an object each."""

    __slots__ = ()

    def value(self, key: int) -> tuple[float, float]:
        raise NotImplementedError

    def values(self, keys: list[int]) -> list[tuple[float, float]]:
        """``value`` of each of ``keys`` (a run of held points: one call, not one a point)."""
        return [self.value(key) for key in keys]


def _settled(point: tuple[Any, Any]) -> tuple[float, float]:
    holder = point[0]
    return holder.value(point[1]) if isinstance(holder, Holder) else point


@dataclass(slots=True)
class BoundedSeries:
    """Keeps at most ``capacity`` (x, y) points for plotting by decimation: when full, every other kept point is
    dropped and the stride doubles, so the kept points stay evenly spaced over the whole run whatever its length.
    The aggregates (count, first, last, min, max) are exact over every value ever added. The kept points depend
    only on the sequence of values added, not on how input was chunked.

    Non-finite values (NaN/Inf) are counted in ``nonfinite`` and kept out of min/max and the plot points.

    Values read later: a producer that knows where its points go (``kept_offsets``: they depend on counts only) but
    not yet what they are (a bulk block's lines not read back yet) may put (``Holder``, key) pairs in their place
    (``add_kept``) and its (min, max) fold, a ``Holder``, in the queue (``hold``). Until ``settle`` every later
    fold into min/max waits in that queue behind it, so ``settle`` (which reads them all and replays the queue in
    order) leaves the series exactly as if every value had been known at once; a series thrown away first never
    reads them.
    """

    capacity: int = 512
    points: list[tuple[float, float]] = field(default_factory=list)
    count: int = 0
    nonfinite: int = 0
    first: tuple[float, float] | None = None
    last: tuple[float, float] | None = None
    min: float | None = None
    max: float | None = None
    _stride: int = 1
    _index: int = 0
    _held: list[Holder | tuple[float | None, float | None]] = field(default_factory=list, repr=False, compare=False)
    """Folds into min/max waiting behind a held one (in order), see the class doc."""
    _unsettled: bool = field(default=False, repr=False, compare=False)
    """Whether ``points`` or ``first`` may hold (``Holder``, key) pairs."""
    _held_from: int = field(default=0, repr=False, compare=False)
    """No held pair lies before this index of ``points`` (``settle`` reads from there: a long series that a batch
    adds a few points to is not read whole each time)."""

    def add(self, x: float, y: float) -> None:
        self.count += 1
        if self.first is None:
            self.first = (x, y)
        self.last = (x, y)
        if not math.isfinite(y):
            self.nonfinite += 1
            return
        if self._held:
            self._held.append((y, y))
        else:
            if self.min is None or y < self.min:
                self.min = y
            if self.max is None or y > self.max:
                self.max = y
        index = self._index
        self._index += 1
        if index % self._stride == 0:
            self.points.append((x, y))
            if len(self.points) > self.capacity:
                self._halve()
                self._stride *= 2

    def add_aggregate(
        self,
        first: tuple[float, float],
        last: tuple[float, float],
        count: int,
        y_min: float | None,
        y_max: float | None,
        nonfinite: int,
        samples: list[tuple[float, float]],
    ) -> None:
        """Fold in ``count`` values known only by their aggregates and an evenly spaced sample of them."""
        if count <= 0:
            return
        self._fold(first, last, count, y_min, y_max)
        self.nonfinite += nonfinite
        finite = [p for p in samples if math.isfinite(p[1])]
        self.points.extend(finite)
        self._index += count - nonfinite
        while len(self.points) > self.capacity:
            self._halve()
            self._stride *= 2

    def kept_offsets(self, n: int) -> list[int]:
        """Which of the next ``n`` values (0-based offsets, all assumed finite) ``add`` would keep as plot points.

        A consumer holding ``n`` values that are costly to read (a bulk block of step lines) reads only these and
        passes them to ``add_kept``: the series then ends exactly as if every value had gone through ``add``."""
        offsets: list[int] = []
        base = self._index
        index, stride, length = base, self._stride, len(self.points)
        end = base + n
        while True:
            kept = -(-index // stride) * stride  # the next index on the stride
            if kept >= end:
                return offsets
            # Every point kept on this stride up to the one that puts the series over capacity (which halves it):
            # one range per stride, not a step per point (a block keeps hundreds).
            m = min(max(1, self.capacity + 1 - length), -(-(end - kept) // stride))
            last = kept + (m - 1) * stride
            offsets.extend(range(kept - base, last - base + 1, stride))
            length += m
            if length > self.capacity:
                length = (length + 1) // 2
                stride *= 2
            index = last + 1

    def add_kept(
        self,
        first: tuple[float, float],
        last: tuple[float, float],
        count: int,
        y_min: float | None,
        y_max: float | None,
        kept: list[tuple[float, float]],
    ) -> None:
        """Fold in ``count`` finite values known by their aggregates and the points at ``kept_offsets(count)``
        (in order): the same points, stride and aggregates as ``count`` calls of ``add``."""
        if count <= 0:
            return
        self._fold(first, last, count, y_min, y_max)
        # As one append per point, halving when over capacity, but a slice at a time (up to the next halving).
        at, n = 0, len(kept)
        while at < n:
            room = max(1, self.capacity + 1 - len(self.points))
            self.points.extend(kept[at : at + room])
            at += room
            if len(self.points) > self.capacity:
                self._halve()
                self._stride *= 2
        self._index += count

    def _fold(
        self,
        first: tuple[float, float],
        last: tuple[float, float],
        count: int,
        y_min: float | None,
        y_max: float | None,
    ) -> None:
        """Fold ``count`` values' aggregates into the exact count, first, last, min and max."""
        self.count += count
        if self.first is None:
            self.first = first
        self.last = last
        if self._held:
            self._held.append((y_min, y_max))
        else:
            self._min_max(y_min, y_max)

    def _min_max(self, y_min: float | None, y_max: float | None) -> None:
        if y_min is not None and (self.min is None or y_min < self.min):
            self.min = y_min
        if y_max is not None and (self.max is None or y_max > self.max):
            self.max = y_max

    def _halve(self) -> None:
        self.points = self.points[::2]
        self._held_from //= 2  # (the point at index i >= from goes to i / 2 >= from // 2)

    def hold(self, fold: Holder | None = None) -> None:
        """Say that ``points`` (or ``first``) now hold (``Holder``, key) pairs, the last ones added (by ``add_kept``,
        just before), and queue ``fold``, a (min, max) to fold in when it is read: every later fold waits behind it.
        ``settle`` reads them all."""
        at = len(self.points)
        while at and isinstance(self.points[at - 1][0], Holder):
            at -= 1
        self._held_from = min(self._held_from, at) if self._unsettled else at
        self._unsettled = True
        if fold is not None:
            self._held.append(fold)

    def settle(self) -> None:
        """Read every held value (see the class doc) and replay the queued folds in order."""
        if not self._unsettled:
            return
        self._unsettled = False
        points = self.points
        settled = points[: self._held_from]
        at, n = self._held_from, len(points)
        while at < n:
            holder = points[at][0]
            if not isinstance(holder, Holder):
                settled.append(points[at])
                at += 1
                continue
            end = at + 1
            while end < n and points[end][0] is holder:
                end += 1  # (a batch's held points lie together: one call reads them)
            settled.extend(holder.values(cast("list[int]", [key for _, key in points[at:end]])))
            at = end
        self.points = settled
        self._held_from = 0  # (settled, a series' bookkeeping is the same however its values came)
        if self.first is not None:
            self.first = _settled(self.first)
        held, self._held = self._held, []
        for fold in held:
            y_min, y_max = fold.value(0) if isinstance(fold, Holder) else fold
            self._min_max(y_min, y_max)

    def values(self) -> list[float]:
        """The kept y values, oldest first (for a sparkline)."""
        return [y for _, y in self.points]

    def reset(self) -> None:
        self._held = []
        self._unsettled = False
        self._held_from = 0
        self.points.clear()
        self.count = self.nonfinite = self._index = 0
        self._stride = 1
        self.first = self.last = None
        self.min = self.max = None
