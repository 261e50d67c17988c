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
from pathlib import Path
from typing import Any

from sm_magics.backends.base import LogBatch, LogEvent

#: Bytes read from one stream per call; a follower calls again at once when lines came.
READ_CHUNK = 1 << 20


class HostLog:
    """The write side of one host's stream, shared by its stdout and stderr readers."""

    def __init__(self, logs_dir: Path, host: str, started: float | None = None) -> None:
        logs_dir.mkdir(parents=True, exist_ok=True)
        epoch = int(started if started is not None else time.time())
        self.host = host
        self.path = logs_dir / f"{host}-{epoch}.log"
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        self._lock = threading.Lock()
        #: The last lines, for the failure reason when a script dies without writing one.
        self.tail: deque[str] = deque(maxlen=20)

    @property
    def stream_name(self) -> str:
        """The CloudWatch-style stream name without the job prefix (``algo-1-<epoch>``)."""
        return self.path.stem

    def write(self, text: str, stream: str = "o") -> None:
        """Append one line, stamped with the current time (``stream`` ``"s"``: our own)."""
        text = text.rstrip("\r\n")
        if stream == "o":
            self.tail.append(text)
        record = f"{int(time.time() * 1000)}\t{stream}\t{text}\n".encode(errors="replace")
        with self._lock:
            os.write(self._fd, record)

    def close(self) -> None:
        """Close the descriptor; later writes raise."""
        with self._lock:
            os.close(self._fd)


def host_of(path: Path) -> str:
    """Return ``algo-N`` for a stream file ``algo-N-<epoch>.log``."""
    return path.stem.rsplit("-", 1)[0]


def parse_line(line: str, host: str) -> LogEvent | None:
    """Return the event of one stored line, or ``None`` for a line that is not ours."""
    stamp, sep, rest = line.partition("\t")
    if not sep or not stamp.isdigit():
        return None
    _stream, _, message = rest.partition("\t")
    return LogEvent(timestamp=int(stamp), host=host, message=message)


def read_new(logs_dir: Path, cursor: dict[str, Any] | None) -> LogBatch:
    """Return the complete lines written to any stream after ``cursor``.

    The cursor maps stream file names to byte offsets. Only whole lines are consumed: a
    line being written is left for the next call. Events are merged by timestamp, ties
    keeping each stream's own order.
    """
    offsets: dict[str, Any] = dict(cursor or {})
    events: list[LogEvent] = []
    try:
        paths = sorted(logs_dir.glob("*.log"))
    except OSError:
        paths = []
    for path in paths:
        start = int(offsets.get(path.name, 0))
        try:
            with open(path, "rb") as handle:
                handle.seek(start)
                chunk = handle.read(READ_CHUNK)
        except FileNotFoundError:
            continue
        end = chunk.rfind(b"\n")
        if end < 0:
            continue
        host = host_of(path)
        for raw in chunk[: end + 1].decode(errors="replace").splitlines():
            event = parse_line(raw, host)
            if event is not None:
                events.append(event)
        offsets[path.name] = start + end + 1
    events.sort(key=lambda e: e.timestamp)
    return LogBatch(events=events, cursor=offsets)
