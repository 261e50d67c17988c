"""The router ↔ worker wire format: length-prefixed frames over a socketpair.

A frame is ``!II`` (header length, body length), a JSON header, then the raw body. One
request in flight per worker connection; the router queues the rest. No HTTP between
processes on the same machine: one ``sendall`` and two ``recv``s per request. The router
reads frames with :class:`FrameBuffer` inside an ``asyncio.Protocol`` (no stream reader,
no task per read); the worker with :func:`read_buffered` from a buffered socket reader.
"""

from __future__ import annotations

import io
import json
import struct
from collections.abc import Mapping
from typing import Any

_PREFIX = struct.Struct("!II")


def encode(header: Mapping[str, object], body: bytes = b"") -> bytes:
    """Return one frame."""
    head = json.dumps(header, separators=(",", ":")).encode()
    return _PREFIX.pack(len(head), len(body)) + head + body


def read_buffered(reader: io.BufferedIOBase) -> tuple[dict[str, Any], bytes]:
    """Read one frame from a buffered reader of the socket (the worker side).

    A small frame arrives in one ``recv`` into the reader's buffer, where three reads
    straight from the socket took three system calls per request.
    """
    prefix = reader.read(_PREFIX.size)
    if len(prefix) < _PREFIX.size:
        raise EOFError("peer closed the connection")
    head_len, body_len = _PREFIX.unpack(prefix)
    head = reader.read(head_len)
    body = reader.read(body_len) if body_len else b""
    if len(head) < head_len or len(body) < body_len:
        raise EOFError("peer closed the connection mid-frame")
    header: dict[str, Any] = json.loads(head)
    return header, body


class FrameBuffer:
    """Bytes received so far from one connection, cut into frames as they complete."""

    def __init__(self) -> None:
        self._data = bytearray()

    def feed(self, data: bytes) -> list[tuple[dict[str, Any], bytes]]:
        """Add ``data``; return the frames it completed (usually none or one)."""
        self._data += data
        done = []
        while len(self._data) >= _PREFIX.size:
            head_len, body_len = _PREFIX.unpack_from(self._data)
            end = _PREFIX.size + head_len + body_len
            if len(self._data) < end:
                break
            header: dict[str, Any] = json.loads(self._data[_PREFIX.size : _PREFIX.size + head_len])
            done.append((header, bytes(self._data[_PREFIX.size + head_len : end])))
            del self._data[:end]
        return done
