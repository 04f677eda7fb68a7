"""Where user formats come from (the I/O half of ``hwmon.parsers.userformats``): the user's format directory,
``--format-file`` files, and packages that ship formats through the ``hwmon.formats`` entry-point group.

- ``$XDG_CONFIG_HOME/hwmon/formats/*.toml`` (default ``~/.config/hwmon/formats``), in name order;
- files named with ``--format-file FILE`` (they come first: the user asked for them on this command line);
- entry points in the group ``hwmon.formats`` (as toolong's formats): the object an entry point names may be TOML
  text, a path or package resource of a ``.toml`` file (anything with ``read_text()``), an already parsed table (a
  ``dict``), or a callable returning any of these or a list of them.

A file that cannot be read or compiled is reported (one line naming the file, the rule and, for a bad regex, the
position) and left out; the other formats still work. ``install`` makes the formats every ``StreamParser`` of this
process uses by default.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import TextIO

from hwmon.model import causes
from hwmon.model.text import safe_text
from hwmon.parsers.userformats import Format, FormatError, compile_format, parse_format

__all__ = ["ENTRY_POINT_GROUP", "Loaded", "format_dir", "install", "load"]

ENTRY_POINT_GROUP = "hwmon.formats"
_MAX_FILE = 1 << 20  # a format file is a few rules; a bigger one is not a format file


@dataclass(frozen=True, slots=True)
class Loaded:
    """The formats that compiled, and one message per source that did not."""

    formats: tuple[Format, ...]
    errors: tuple[str, ...]


def format_dir() -> Path:
    """The user's format directory (``$XDG_CONFIG_HOME/hwmon/formats``)."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "hwmon" / "formats"


def load(files: Sequence[Path] = (), *, user_dir: bool = True, entry_points: bool = True) -> Loaded:
    """Compile ``files``, then the user directory's files, then the entry points' formats."""
    formats: list[Format] = []
    errors: list[str] = []
    paths = list(files)
    if user_dir:
        directory = format_dir()
        try:
            paths.extend(sorted(p for p in directory.glob("*.toml") if p.is_file()))
        except OSError as exc:
            errors.append(f"{directory}: cannot list: {exc.strerror or exc}")
    for path in paths:
        try:
            formats.append(_load_file(path))
        except FormatError as exc:
            errors.append(str(exc))
    if entry_points:
        _load_entry_points(formats, errors)
    return Loaded(tuple(formats), tuple(errors))


def _load_file(path: Path) -> Format:
    try:
        with path.open("rb") as handle:
            data = handle.read(_MAX_FILE + 1)
    except FileNotFoundError:
        raise FormatError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise FormatError(f"{path}: is a directory, not a format file") from None
    except OSError as exc:
        raise FormatError(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > _MAX_FILE:
        raise FormatError(f"{path}: larger than {_MAX_FILE} bytes: not a format file")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise FormatError(f"{path}: not UTF-8 text (byte {exc.start})") from None
    return parse_format(text, str(path))


def _load_entry_points(formats: list[Format], errors: list[str]) -> None:
    try:
        points = metadata.entry_points(group=ENTRY_POINT_GROUP)
    except Exception as exc:  # a broken installed distribution must not stop hwmon
        errors.append(f"entry points {ENTRY_POINT_GROUP}: cannot list: {exc}")
        return
    for point in sorted(points, key=lambda p: p.name):
        source = f"{point.name}.toml"
        try:
            found = point.load()
            for item in _items(found):
                formats.append(_compile_item(item, source))
        except FormatError as exc:
            errors.append(f"entry point {point.name} ({point.value}): {exc}")
        except Exception as exc:  # the package's own code failed: say so, keep the others
            errors.append(f"entry point {point.name} ({point.value}): {type(exc).__name__}: {exc}")


def _items(found: object) -> Iterable[object]:
    if callable(found) and not isinstance(found, type):
        found = found()
    if isinstance(found, list | tuple):
        return found
    return (found,)


def _compile_item(item: object, source: str) -> Format:
    if isinstance(item, str):
        return parse_format(item, source)
    if isinstance(item, Mapping):
        return compile_format(item, source)
    read_text = getattr(item, "read_text", None)
    if callable(read_text):
        name = str(getattr(item, "name", source)) or source
        text = read_text(encoding="utf-8")
        if not isinstance(text, str):
            raise FormatError(f"{name}: read_text() did not give text")
        return parse_format(text, name)
    raise FormatError(f"{source}: a format must be TOML text, a .toml file or a table, not {type(item).__name__}")


def install(files: Sequence[Path] = (), *, report: TextIO | None = None) -> Loaded:
    """Load the formats and make them every new ``StreamParser``'s default; report each error to ``report``
    (stderr by default) as one ``hwmon: format error: ...`` line."""
    from hwmon.parsers.stream import StreamParser

    loaded = load(files)
    out = sys.stderr if report is None else report
    for message in loaded.errors:
        print(f"hwmon: format error: {safe_text(message)} (this format is not used)", file=out)
    StreamParser.FORMATS_DEFAULT = loaded.formats
    # Issue 21: the known failures the formats add ([[cause]]) are tried before the built-in ones.
    causes.install(
        causes.CauseRule(c.name, c.pattern, c.hint, c.end, "", c.weight, fmt.source)
        for fmt in loaded.formats
        for c in fmt.causes
    )
    return loaded
