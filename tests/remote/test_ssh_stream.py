"""The follower's in-band stream (no ssh needed): the prologue's header line, ``tail -F``'s notices merged into
stdout, and the log's own bytes — separated correctly in any chunking, one byte at a time included; the log's text
never passes for a notice or a header; every buffer is bounded; the remote prologue (run here by a real ``sh``)
restarts from 0 when the file was rewritten while away."""

from __future__ import annotations

import random
import subprocess
from pathlib import Path

from hwmon.sources.ssh import follow_command
from hwmon.sources.ssh_stream import MARK, NOTICE_MAX, WINDOW, Nonce, RemoteStream, posix_cksum, tail_name

NONCE = Nonce.new(0b1011)
PATH = "/x/run.log"
NAME = tail_name(PATH, NONCE).encode()
HEADER = f"{MARK}{NONCE.token} ino=1234 restart= start=0\n".encode()

STREAM = (
    HEADER + b"step 1 loss 2.0\n"
    b"tail: this line of the log mentions tail: and stays\n"
    # The log's own text, saying what tail would say about the plain name: data, never a notice.
    b"tail: /x/run.log: file truncated\n"
    b"tail: cannot open '/x/run.log' for reading: No such file or directory\n"
    b"partial line without newline"
    b"tail: '" + NAME + b"' has been replaced;  following new file\n"
    b"new 1\n"
    b"tail: " + NAME + b": file truncated\n"
    b"again\n"
)
LOG_BYTES = (
    b"step 1 loss 2.0\n"
    b"tail: this line of the log mentions tail: and stays\n"
    b"tail: /x/run.log: file truncated\n"
    b"tail: cannot open '/x/run.log' for reading: No such file or directory\n"
    b"partial line without newline"
    b"\n"  # the follower ends the cut line before the new file's bytes
    b"new 1\n"
    b"again\n"
)


def _stream(nonce: Nonce = NONCE) -> RemoteStream:
    stream = RemoteStream(PATH, "h")
    stream.connect(nonce)
    stream.had_file = True
    return stream


def _feed(pieces: list[bytes], nonce: Nonce = NONCE) -> tuple[bytes, list[str], RemoteStream]:
    stream = _stream(nonce)
    out: list[bytes] = []
    statuses: list[str] = []
    for piece in pieces:
        data, said = stream.feed(piece)
        out += data
        statuses += said
    return b"".join(out), statuses, stream


def test_whole_stream() -> None:
    data, statuses, stream = _feed([STREAM])
    assert data == LOG_BYTES
    assert statuses == ["log rotated, following new file", "log truncated, reading from start"]
    assert stream.offset == len(b"again\n")  # counts the current file's bytes only
    assert stream.inode is None  # replaced: the new file's inode is not known yet


def test_the_log_cannot_forge_a_notice_positive_control() -> None:
    """The guard is the nonce in the name: with none (an empty nonce, tail given the plain name as before), the
    log's own line ``tail: /x/run.log: file truncated`` resets the offset and doubles lines after a drop."""
    plain = Nonce("", "")
    stream = RemoteStream(PATH, "h")
    stream.connect(plain)
    data, statuses = stream.feed(
        f"{MARK} ino=1 restart= start=0\n".encode() + b"a\ntail: /x/run.log: file truncated\nb\n"
    )
    assert statuses == ["log truncated, reading from start"]
    assert stream.offset == 2  # the attack acts: "a\n" and the line itself are no longer counted
    # With the nonce, the same bytes are data and every byte is counted.
    guarded = _stream()
    data, statuses = guarded.feed(HEADER + b"a\ntail: /x/run.log: file truncated\nb\n")
    assert statuses == [] and guarded.offset == len(b"a\ntail: /x/run.log: file truncated\nb\n")


def test_any_chunking_gives_the_same_result() -> None:
    whole = _feed([STREAM])
    rng = random.Random(7)
    for _ in range(200):
        cuts = sorted(rng.sample(range(1, len(STREAM)), rng.randint(1, 12)))
        pieces = [STREAM[a:b] for a, b in zip([0, *cuts], [*cuts, len(STREAM)], strict=True)]
        data, statuses, stream = _feed(pieces)
        assert (data, statuses, stream.offset) == (whole[0], whole[1], whole[2].offset)
    data, statuses, stream = _feed([bytes([b]) for b in STREAM])
    assert (data, statuses, stream.offset) == (whole[0], whole[1], whole[2].offset)


def test_header_restart_and_login_noise() -> None:
    stream = _stream()
    stream.offset = 500
    data, statuses = stream.feed(
        b"Welcome to the cluster!\n" + f"{MARK}{NONCE.token} ino=99 restart=truncated start=0\n".encode() + b"fresh\n"
    )
    assert b"".join(data) == b"fresh\n"
    assert statuses == ["log truncated, reading from start"]
    assert stream.offset == 6 and stream.inode == "99"


def test_banner_without_newline_and_a_forged_header() -> None:
    """A login banner with no newline before the header (attach used to wait forever), and a banner that prints a
    header of its own (without the connection's token): the real header is found, the forged one is noise."""
    stream = _stream()
    banner = b"Last login: today" + f"{MARK} ino=666 restart= start=0\n".encode() + b"MOTD with no newline"
    data, statuses = stream.feed(banner + HEADER + b"line\n")
    assert stream.header_seen and stream.inode == "1234"
    assert b"".join(data) == b"line\n"


def test_buffers_stay_bounded() -> None:
    """25 MB of banner without a newline, then a 20 MB line starting like a notice: what is held back stays small
    (it grew without bound, and quadratically, before)."""
    stream = _stream()
    junk = b"x" * (1 << 20)
    for _ in range(25):
        assert stream.feed(junk) == ([], [])
        assert stream.held < 64
    data, _ = stream.feed(HEADER)
    held_max = 0
    total = 0
    first = True
    for _ in range(20):
        data, _ = stream.feed((b"tail: " + NAME if first else b"") + junk)  # starts like a genuine notice
        first = False
        total += sum(map(len, data))
        held_max = max(held_max, stream.held)
    assert held_max <= NOTICE_MAX + len(NAME) + 64
    data, _ = stream.feed(b"\n")
    total += sum(map(len, data))
    assert total == stream.offset == 20 * len(junk) + 6 + len(NAME) + 1


def test_cksum_matches_the_posix_tool() -> None:
    rng = random.Random(3)
    for size in (0, 1, 255, 256, WINDOW, 70_000):
        data = rng.randbytes(size)
        out = subprocess.run(["cksum"], input=data, capture_output=True, check=True).stdout.split()
        assert posix_cksum(data) == f"{out[0].decode()} {out[1].decode()}"


def _prologue(tmp_path: Path, path: Path, offset: int, inode: str | None, check: str | None) -> str:
    """Run the follow command's prologue with a real ``sh`` and return its header line (tail is cut off)."""
    nonce = Nonce.new()
    command = follow_command(str(path), offset, inode, nonce, check=check).replace("exec tail", "exit 0; tail")
    out = subprocess.run(["sh", "-c", command], capture_output=True, text=True, timeout=30, check=True, cwd=tmp_path)
    line = out.stdout.strip()
    assert line.startswith(MARK + nonce.token), line
    return line


def test_prologue_sees_a_file_rewritten_while_away(tmp_path: Path) -> None:
    """copytruncate and regrowth while disconnected: same inode, bigger size. Only the checksum of the bytes before
    the resume offset tells; the prologue then starts from 0."""
    log = tmp_path / "run.log"
    first = b"".join(b"step %d loss 1.0\n" % i for i in range(1000))
    log.write_bytes(first)
    stream = _stream()
    stream.feed(HEADER + first)
    inode = str(log.stat().st_ino)
    check = stream.resume_check()
    assert check is not None and check.endswith(f" {WINDOW}")
    assert f"restart= start={len(first)}" in _prologue(tmp_path, log, stream.offset, inode, check)
    with open(log, "ab") as fh:  # grown: resume where we were
        fh.write(b"more\n")
    assert f"restart= start={len(first)}" in _prologue(tmp_path, log, stream.offset, inode, check)
    with open(log, "r+b") as fh:  # copytruncate, then the new run writes more than before
        fh.truncate(0)
        fh.write(b"".join(b"run two %d\n" % i for i in range(2000)))
    assert str(log.stat().st_ino) == inode and log.stat().st_size > len(first)
    assert "restart=rewritten start=0" in _prologue(tmp_path, log, stream.offset, inode, check)
    # Without the checksum (the old prologue's information) the rewritten file is resumed at the old offset.
    assert f"restart= start={len(first)}" in _prologue(tmp_path, log, stream.offset, inode, None)
