"""``tqdm`` if the interpreter has it, else a small stand-in that draws the same line format.

Vendor venvs do not always ship tqdm; the bar must look the same either way so the monitor's tqdm parser reads
both. Stdlib only, Python 3.8 compatible.
"""

from __future__ import print_function

import sys
import time

try:  # pragma: no cover - depends on the interpreter
    from tqdm import tqdm as _real_tqdm
except Exception:  # ImportError, or a broken install
    _real_tqdm = None

_BLOCKS = " ▏▎▍▌▋▊▉█"


def _fmt_time(seconds):
    seconds = int(seconds)
    minutes, secs = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    if hours:
        return "%d:%02d:%02d" % (hours, minutes, secs)
    return "%02d:%02d" % (minutes, secs)


class SimpleBar(object):
    """The subset of tqdm the workloads use: iteration, ``set_description``, ``update``, ``close``; redraws at most
    every ``mininterval`` seconds with ``\\r`` and ends with a newline, in tqdm's ``{l_bar}{bar}{r_bar}`` layout."""

    def __init__(self, iterable=None, total=None, desc=None, file=None, mininterval=0.1, width=10, leave=True):
        self.iterable = iterable
        if total is None and iterable is not None:
            try:
                total = len(iterable)
            except TypeError:
                total = None
        self.total = total
        self.desc = desc or ""
        self.file = file or sys.stderr
        self.mininterval = mininterval
        self.width = width
        self.leave = leave
        self.n = 0
        self.start = time.time()
        self.last_draw = 0.0
        self.closed = False
        self._draw()

    def __len__(self):
        return self.total or 0

    def __iter__(self):
        try:
            for item in self.iterable:
                yield item
                self.update(1)
        finally:
            self.close()

    def set_description(self, desc=None, refresh=True):
        self.desc = desc or ""
        if refresh:
            self._maybe_draw()

    def update(self, n=1):
        self.n += n
        self._maybe_draw()

    def _maybe_draw(self):
        if time.time() - self.last_draw >= self.mininterval:
            self._draw()

    def format(self):
        elapsed = time.time() - self.start
        rate = self.n / elapsed if elapsed > 0 else None
        prefix = (self.desc + ": ") if self.desc else ""
        if rate is None:
            rate_text = "?it/s"
        elif rate >= 1:
            rate_text = "%.2fit/s" % rate
        else:
            rate_text = "%.2fs/it" % (1.0 / rate) if rate > 0 else "?it/s"
        if self.total:
            frac = min(1.0, float(self.n) / self.total)
            full = int(frac * self.width)
            rem = int((frac * self.width - full) * (len(_BLOCKS) - 1))
            bar = _BLOCKS[-1] * full
            if full < self.width:
                bar += _BLOCKS[rem] + " " * (self.width - full - 1)
            remaining = _fmt_time((self.total - self.n) / rate) if rate else "?"
            return "%s%3.0f%%|%s| %d/%d [%s<%s, %s]" % (
                prefix,
                frac * 100,
                bar,
                self.n,
                self.total,
                _fmt_time(elapsed),
                remaining,
                rate_text,
            )
        return "%s%d [%s, %s]" % (prefix, self.n, _fmt_time(elapsed), rate_text)

    def _draw(self):
        self.last_draw = time.time()
        self.file.write("\r" + self.format())
        self.file.flush()

    def close(self):
        if self.closed:
            return
        self.closed = True
        self._draw()
        self.file.write("\n" if self.leave else "\r")
        self.file.flush()


def bar(iterable=None, total=None, desc=None):
    """A progress bar over ``iterable``: real tqdm when importable, else ``SimpleBar``."""
    if _real_tqdm is not None:
        return _real_tqdm(iterable, total=total, desc=desc)
    return SimpleBar(iterable, total=total, desc=desc)
