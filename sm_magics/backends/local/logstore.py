r"""Log streams of local jobs: one append-only file per host, read by byte cursor.

Each line is ``<epoch-ms>\t<o|s>\t<text>\n``: ``o`` for the script's output, ``s`` for a
line the supervisor writes itself (pip's progress, the final status). A script's stdout
and stderr share one pipe, so lines keep the order they were written in. Each line is
one ``os.write`` on an ``O_APPEND`` descriptor, so a reader in another process sees whole
lines as soon as they exist, and the supervisor's death loses nothing already written.
Files are named like CloudWatch streams: ``algo-1-<epoch>.log`` is stream
``<job>/algo-1-<epoch>``.
"""

from __future__ import annotations

import os
import threading
import time
from collections import deque

# Neither typing nor pathlib at import time: a job's starter imports this module to pump
# the hosts' output while their interpreters start, and the first line waits for it.
TYPE_CHECKING = False
if TYPE_CHECKING:  # imported when read: the writers (supervisor, router) never need them
    from pathlib import Path
    from typing import IO, Any

    from sm_magics.backends.results import LogBatch, LogCursor, LogEvent

#: Bytes read from one stream per call; a follower calls again at once when lines came.
#: One batch of short lines is about 20k events: small enough that a follower holding one
#: batch at a time stays within a few MB however fast a job prints, and twice the longest
#: record (:data:`MAX_LINE_BYTES` plus its stamp and marker), so every record fits.
READ_CHUNK = 1 << 19
#: The most UTF-8 bytes of text one delivered line holds: CloudWatch's event limit (256 KiB
#: less its 26 bytes of overhead). A longer line is cut into several, each but the last
#: ending with :data:`CONTINUED`, so nothing is dropped and no reader holds a huge line.
MAX_LINE_BYTES = 256 * 1024 - 26
#: Ends every piece of a cut line but the last: visible, and a reader can rejoin pieces.
CONTINUED = " [line continues]"
#: Bytes a pump reads from a pipe at once.
PIPE_CHUNK = 1 << 16


def _cut_point(data: bytes | bytearray, limit: int) -> int:
    """Return where to cut ``data`` at most ``limit`` bytes in, never inside a UTF-8 character."""
    if len(data) <= limit:
        return len(data)
    cut = limit
    # Step back over continuation bytes (10xxxxxx) to the start of the character.
    while cut > limit - 4 and cut > 0 and (data[cut] & 0xC0) == 0x80:
        cut -= 1
    return cut if cut > 0 else limit


def _pieces(text: str) -> list[tuple[str, bool]]:
    r"""Split ``text`` on ``\n`` only, then cut lines over :data:`MAX_LINE_BYTES`.

    Returns ``(piece, continues)`` pairs. Only ``\n`` ends a line: ``\r`` (a progress bar),
    form feeds and Unicode separators stay inside it, as CloudWatch keeps them.
    """
    out: list[tuple[str, bool]] = []
    for line in text.split("\n"):
        data = line.encode(errors="replace")
        while len(data) > MAX_LINE_BYTES:
            cut = _cut_point(data, MAX_LINE_BYTES)
            out.append((data[:cut].decode(errors="replace"), True))
            data = data[cut:]
        out.append((data.decode(errors="replace"), False))
    return out


class HostLog:
    """The write side of one host's stream, shared by its stdout and stderr readers."""

    def __init__(
        self, logs_dir: str | os.PathLike[str], host: str, started: float | None = None
    ) -> None:
        os.makedirs(logs_dir, exist_ok=True)  # noqa: PTH103 - no pathlib import (above)
        epoch = int(started if started is not None else time.time())
        self.host = host
        self._path = os.path.join(logs_dir, f"{host}-{epoch}.log")  # noqa: PTH118
        self._fd = os.open(self._path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._lock = threading.Lock()
        #: The last lines, for the failure reason when a script dies without writing one.
        self.tail: deque[str] = deque(maxlen=20)
        #: The first write that failed (a full disk): the pump goes on, so the script never
        #: blocks on a full pipe, and the supervisor reports the reason.
        self.error: OSError | None = None

    @property
    def path(self) -> Path:
        """The stream's file."""
        from pathlib import Path

        return Path(self._path)

    @property
    def stream_name(self) -> str:
        """The CloudWatch-style stream name without the job prefix (``algo-1-<epoch>``)."""
        return os.path.basename(self._path)[: -len(".log")]  # noqa: PTH119

    def write(self, text: str, stream: str = "o", *, continues: bool = False) -> None:
        r"""Append ``text`` as one line or more, stamped with the current time.

        ``stream`` ``"s"`` marks our own lines. A ``\n`` inside ``text`` starts a new line
        (a record is one line, so a reader never meets a half record); a line longer than
        :data:`MAX_LINE_BYTES` is cut into pieces marked :data:`CONTINUED`. ``continues``:
        the line goes on in the next call (a pump cut it), so it is marked too.
        """
        if text.endswith("\n"):
            text = text[:-2] if text.endswith("\r\n") else text[:-1]
        pieces = _pieces(text)
        if continues:
            last, _ = pieces[-1]
            pieces[-1] = (last, True)
        self._append([(p + CONTINUED) if more else p for p, more in pieces], stream)

    def write_lines(self, lines: list[str], stream: str = "o") -> None:
        r"""Append lines that hold no ``\n`` and are already short enough, in one write."""
        self._append(lines, stream)

    def _append(self, lines: list[str], stream: str) -> None:
        if not lines:
            return
        if stream == "o":
            self.tail.extend(lines)
        stamp = f"{int(time.time() * 1000)}\t{stream}\t"
        record = "".join(f"{stamp}{line}\n" for line in lines).encode(errors="replace")
        with self._lock:
            if self.error is not None:
                return  # the disk was full: the space freed later is for the final state
            view = memoryview(record)
            try:
                while view:  # a regular file takes it whole; loop if a signal cut it short
                    written = os.write(self._fd, view)
                    view = view[written:]
            except OSError as exc:  # a full disk: keep reading the pipe, say why at the end
                if self.error is None:
                    self.error = exc

    def close(self) -> None:
        """Close the descriptor; later writes raise."""
        with self._lock:
            os.close(self._fd)


class LineSplitter:
    r"""Turns a pipe's bytes into log lines: split on ``\n`` only, long lines cut.

    Used by every pump (the job supervisor's threads, the endpoint router's tasks), so a
    script's output is stored the same way everywhere. Memory is bounded by
    :data:`MAX_LINE_BYTES` plus one read, however long a line runs.
    """

    def __init__(self, log: HostLog, stream: str = "o") -> None:
        self.log = log
        self.stream = stream
        self._rest = bytearray()

    def feed(self, data: bytes) -> None:
        """Store every whole line in ``data`` (with what came before it); keep the rest."""
        if not data:
            return
        self._rest += data
        if b"\n" in data:
            *whole, rest = self._rest.split(b"\n")
            self._rest = bytearray(rest)
            lines: list[str] = []
            for raw in whole:
                if raw.endswith(b"\r"):  # a CRLF line ending, not a progress redraw
                    raw = raw[:-1]
                if len(raw) > MAX_LINE_BYTES:
                    self._flush_lines(lines)
                    lines = []
                    self.log.write(raw.decode(errors="replace"), self.stream)
                else:
                    lines.append(raw.decode(errors="replace"))
            self._flush_lines(lines)
        while len(self._rest) > MAX_LINE_BYTES:  # a line longer than a record: cut it
            cut = _cut_point(self._rest, MAX_LINE_BYTES)
            piece = bytes(self._rest[:cut])
            del self._rest[:cut]
            self.log.write(piece.decode(errors="replace"), self.stream, continues=True)

    def _flush_lines(self, lines: list[str]) -> None:
        if lines:
            self.log.write_lines(lines, self.stream)

    def close(self) -> None:
        r"""Store a last line the stream ended without a ``\n``."""
        if self._rest:
            self.log.write(bytes(self._rest).decode(errors="replace"), self.stream)
            self._rest = bytearray()


def pump(pipe: IO[bytes], log: HostLog) -> None:
    """Copy a host's output into its log until EOF (a thread's target)."""
    splitter = LineSplitter(log)
    fd = pipe.fileno()
    with pipe:
        while True:
            data = os.read(fd, PIPE_CHUNK)
            if not data:
                break
            splitter.feed(data)
        splitter.close()


def host_of(path: Path) -> str:
    """Return ``algo-N`` for a stream file ``algo-N-<epoch>.log``."""
    return path.stem.rsplit("-", 1)[0]


def parse_line(line: str, host: str) -> LogEvent | None:
    """Return the event of one stored line, or ``None`` for a line that is not ours."""
    from sm_magics.backends.results import LogEvent

    stamp, sep, rest = line.partition("\t")
    if not sep or not stamp.isdigit():
        return None
    _stream, _, message = rest.partition("\t")
    return LogEvent(timestamp=int(stamp), host=host, message=message)


def _partial_key(name: str) -> str:
    """Return the cursor key for the timestamp of a record read only in part (read_new)."""
    return f"{name}#ts"


def read_new(logs_dir: Path, cursor: LogCursor | None) -> LogBatch:
    r"""Return the complete lines written to any stream after ``cursor``.

    The cursor maps stream file names to byte offsets. Only whole lines are consumed: a
    line being written is left for the next call. Events are merged by timestamp, ties
    keeping each stream's own order.

    Lines are split on ``\n`` only. A record longer than :data:`READ_CHUNK` (our writers
    never make one; a file from elsewhere might) is delivered a chunk at a time, marked
    :data:`CONTINUED`, its timestamp kept in the cursor, so the cursor always moves on.
    """
    from sm_magics.backends.results import LogBatch, LogEvent

    offsets: dict[str, Any] = dict(cursor or {})
    events: list[LogEvent] = []
    try:
        paths = sorted(logs_dir.glob("*.log"))
    except OSError:
        paths = []
    for path in paths:
        name = path.name
        start = int(offsets.get(name, 0))
        try:
            with open(path, "rb") as handle:
                handle.seek(start)
                chunk = handle.read(READ_CHUNK)
        except FileNotFoundError:
            continue
        end = chunk.rfind(b"\n")
        cut_short = False
        if end >= 0:
            body = chunk[: end + 1]
        elif len(chunk) == READ_CHUNK:  # one record longer than a whole chunk
            body = chunk[: _cut_point(chunk, READ_CHUNK - 4)]
            cut_short = True
        else:
            continue  # a line being written: next time
        host = host_of(path)
        lines = body.decode(errors="replace").split("\n")
        if not cut_short:
            lines.pop()  # the empty text after the last newline
        partial = offsets.pop(_partial_key(name), None)
        for index, raw in enumerate(lines):
            last_piece = cut_short and index == len(lines) - 1
            event: LogEvent | None
            if index == 0 and partial is not None:  # the rest of a record begun earlier
                event = LogEvent(timestamp=int(partial), host=host, message=raw)
            else:
                event = parse_line(raw, host)
            if event is None:
                continue
            if last_piece:
                offsets[_partial_key(name)] = event.timestamp
                event = LogEvent(event.timestamp, host, event.message + CONTINUED)
            events.append(event)
        offsets[name] = start + len(body)
    events.sort(key=lambda e: e.timestamp)
    return LogBatch(events=events, cursor=offsets)
