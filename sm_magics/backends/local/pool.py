"""The router's side of its workers: one framed channel per worker, and each variant's idle pool.

A :class:`Channel` is an ``asyncio.Protocol`` on the router's end of a worker's socketpair:
:meth:`Channel.call` writes a request frame and returns a future of the answer frame. The
write never blocks the router (the transport buffers it), so a worker that stopped reading
is caught by the request's deadline like one that stopped answering, and the router kills
it. A worker that dies fails the future at once with :class:`WorkerDied`.

An :class:`IdlePool` hands idle workers to requests in arrival order; when a variant can
no longer serve (the endpoint failed), every request waiting for one of its workers is
answered at once instead of waiting out its deadline.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar, cast

from sm_magics.backends.local import frames


class WorkerDied(Exception):
    """The worker's connection closed mid-request (or it was gone before the request)."""


class Channel(asyncio.Protocol):
    """Frames to and from one worker; one request in flight at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.buffer = frames.FrameBuffer()
        self.waiter: asyncio.Future[tuple[dict[str, Any], bytes]] | None = None
        self.ready: deque[tuple[dict[str, Any], bytes]] = deque()
        self.closed = False

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Keep the transport."""
        # (uvloop's transports implement asyncio.Transport without subclassing it)
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        """Cut frames; the first one completes the waiting call."""
        for frame in self.buffer.feed(data):
            waiter = self.waiter
            if waiter is not None and not waiter.done():
                self.waiter = None
                waiter.set_result(frame)
            else:
                self.ready.append(frame)

    def connection_lost(self, exc: Exception | None) -> None:
        """Fail the call in flight: the worker is gone."""
        self.closed = True
        waiter = self.waiter
        if waiter is not None and not waiter.done():
            waiter.set_exception(WorkerDied(f"the worker closed its connection ({exc or 'EOF'})"))

    def next_frame(self) -> asyncio.Future[tuple[dict[str, Any], bytes]]:
        """Return a future of the next frame the worker sends (its hello, or an answer)."""
        future: asyncio.Future[tuple[dict[str, Any], bytes]]
        future = asyncio.get_running_loop().create_future()
        if self.ready:
            future.set_result(self.ready.popleft())
        elif self.closed:
            future.set_exception(WorkerDied("the worker closed its connection"))
        else:
            self.waiter = future
        return future

    def call(
        self, header: dict[str, Any], body: bytes
    ) -> asyncio.Future[tuple[dict[str, Any], bytes]]:
        """Send one request frame; return a future of the answer."""
        future = self.next_frame()
        if not future.done() and self.transport is not None:
            self.transport.write(frames.encode(header, body))
        return future

    def close(self) -> None:
        """Close the connection (the worker exits at EOF)."""
        self.closed = True
        if self.transport is not None:
            self.transport.close()


_W = TypeVar("_W")


@dataclass
class IdlePool(Generic[_W]):
    """Idle workers of one variant, and the requests waiting for one, first come first served."""

    idle: deque[_W] = field(default_factory=deque)
    waiters: deque[asyncio.Future[_W]] = field(default_factory=deque)
    #: Set when the variant cannot serve any more: waiting requests get it as their error.
    broken: str | None = None

    def put(self, worker: _W) -> None:
        """Give ``worker`` to the oldest waiting request, else keep it idle."""
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_result(worker)
                return
        self.idle.append(worker)

    async def get(self) -> _W:
        """Return an idle worker, waiting for one if needed (the caller's deadline bounds it)."""
        if self.broken is not None:
            raise WorkerDied(self.broken)
        if self.idle:
            return self.idle.popleft()
        waiter: asyncio.Future[_W] = asyncio.get_running_loop().create_future()
        self.waiters.append(waiter)
        try:
            return await waiter
        except asyncio.CancelledError:
            # Timed out (or the request was cancelled) just as a worker was handed over:
            # give that worker to the next request rather than lose it.
            if waiter.done() and not waiter.cancelled() and waiter.exception() is None:
                self.put(waiter.result())
            raise

    def break_all(self, reason: str) -> None:
        """No worker will come: answer every waiting request with ``reason``."""
        self.broken = reason
        while self.waiters:
            waiter = self.waiters.popleft()
            if not waiter.done():
                waiter.set_exception(WorkerDied(reason))
        with contextlib.suppress(IndexError):
            self.idle.clear()
