"""The router ↔ worker wire format: length-prefixed frames over a socketpair.

A frame is ``!II`` (header length, body length), a JSON header, then the raw body. One
request in flight per worker connection; the router queues the rest. No HTTP between
processes on the same machine: one ``sendall`` and two ``recv``s per request. The router
reads frames with :class:`FrameBuffer` inside an ``asyncio.Protocol`` (no stream reader,
no task per read); the worker reads them with blocking ``recv``.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from typing import Any

_PREFIX = struct.Struct("!II")


def encode(header: dict[str, Any], body: bytes = b"") -> bytes:
    """Return one frame."""
    head = json.dumps(header, separators=(",", ":")).encode()
    return _PREFIX.pack(len(head), len(body)) + head + body


def _recv_exactly(sock: socket.socket, size: int) -> bytes:
    chunks = []
    while size:
        chunk = sock.recv(min(size, 1 << 20))
        if not chunk:
            raise EOFError("peer closed the connection")
        chunks.append(chunk)
        size -= len(chunk)
    return b"".join(chunks)


def read_blocking(sock: socket.socket) -> tuple[dict[str, Any], bytes]:
    """Read one frame from a blocking socket (the worker side)."""
    head_len, body_len = _PREFIX.unpack(_recv_exactly(sock, _PREFIX.size))
    header: dict[str, Any] = json.loads(_recv_exactly(sock, head_len))
    return header, _recv_exactly(sock, body_len) if body_len else b""


async def read_async(reader: asyncio.StreamReader) -> tuple[dict[str, Any], bytes]:
    """Read one frame from an asyncio stream (the router side)."""
    try:
        prefix = await reader.readexactly(_PREFIX.size)
        head_len, body_len = _PREFIX.unpack(prefix)
        header: dict[str, Any] = json.loads(await reader.readexactly(head_len))
        body = await reader.readexactly(body_len) if body_len else b""
    except asyncio.IncompleteReadError as exc:
        raise EOFError("worker closed the connection") from exc
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
