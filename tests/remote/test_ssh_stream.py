"""The follower's in-band stream (no ssh needed): the prologue's header line, ``tail -F``'s notices merged into
stdout, and the log's own bytes — separated correctly in any chunking, one byte at a time included."""

from __future__ import annotations

import random

from hwmon.refs import RemoteRef
from hwmon.sources.ssh import SshFollower

STREAM = (
    b"hwmon-remote: ino=1234 restart=\n"
    b"step 1 loss 2.0\n"
    b"tail: this line of the log mentions tail: and stays\n"
    b"partial line without newline"
    b"tail: '/x/run.log' has been replaced;  following new file\n"
    b"new 1\n"
    b"tail: /x/run.log: file truncated\n"
    b"again\n"
)
LOG_BYTES = (
    b"step 1 loss 2.0\n"
    b"tail: this line of the log mentions tail: and stays\n"
    b"partial line without newline"
    b"\n"  # the follower ends the cut line before the new file's bytes
    b"new 1\n"
    b"again\n"
)


def _feed(pieces: list[bytes]) -> tuple[bytes, list[str], SshFollower]:
    follower = SshFollower(RemoteRef("h", "/x/run.log"))
    follower._had_file = True
    out: list[bytes] = []
    statuses: list[str] = []
    for piece in pieces:
        follower._split(piece, statuses, out)
    return b"".join(out), statuses, follower


def test_whole_stream() -> None:
    data, statuses, follower = _feed([STREAM])
    assert data == LOG_BYTES
    assert statuses == ["log rotated, following new file", "log truncated, reading from start"]
    assert follower.offset == len(b"again\n")  # counts the current file's bytes only
    assert follower._inode is None  # replaced: the new file's inode is not known yet


def test_any_chunking_gives_the_same_result() -> None:
    whole = _feed([STREAM])
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 12)))
        pieces = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
        data, statuses, follower = _feed(pieces)
        assert (data, statuses, follower.offset) == (whole[0], whole[1], whole[2].offset)
    data, statuses, follower = _feed([bytes([b]) for b in STREAM])
    assert (data, statuses, follower.offset) == (whole[0], whole[1], whole[2].offset)


def test_header_restart_and_login_noise() -> None:
    follower = SshFollower(RemoteRef("h", "/x/run.log"))
    follower.offset = 500
    out: list[bytes] = []
    statuses: list[str] = []
    follower._split(b"Welcome to the cluster!\nhwmon-remote: ino=99 restart=truncated\nfresh\n", statuses, out)
    assert b"".join(out) == b"fresh\n"
    assert statuses == ["log truncated, reading from start"]
    assert follower.offset == 6 and follower._inode == "99"
