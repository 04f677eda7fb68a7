"""Reading that lags the writer is visible (issue 22, minor): ``FileFollower.behind_bytes`` (and
``FollowSource.behind_bytes``, which asks its follower) says how much of the log is written and not yet read, so a
view can say "behind" instead of showing a stale step as live."""

from __future__ import annotations

from pathlib import Path

from hwmon.sources.follow import FileFollower
from hwmon.sources.source import FollowSource


async def test_behind_bytes_while_a_backlog_is_read_then_zero(tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    data = b"".join(b"step %d loss %.4f lr 0.001\n" % (i, 1.0 / (i + 1)) for i in range(60_000))  # ~1.8 MB
    log.write_bytes(data)
    follower = FileFollower(log, use_inotify=False, max_batch_bytes=64 << 10, chunk_size=64 << 10)
    source = FollowSource(follower, name="run.log")
    assert source.behind_bytes is None  # nothing open yet: it cannot say
    seen: list[int | None] = []
    read = 0
    async for chunk in follower.chunks():
        read += len(chunk.data)
        seen.append(source.behind_bytes)
        if read == len(data):
            follower.close()
    assert seen[0] == len(data) - (64 << 10), seen[:3]  # the first chunk: the rest of the file is unread
    assert seen == sorted(seen, key=lambda b: -(b or 0)) and seen[-1] == 0
    assert follower.behind_bytes() is None  # closed: it cannot say
