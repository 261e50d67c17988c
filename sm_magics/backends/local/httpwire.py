"""A small HTTP/1.1 server for the endpoint router: httptools' C parser under asyncio.

Why not tornado: the router answers tiny requests, and tornado's pure-Python HTTP parsing
and its streams cost two-thirds of the router's time per request. Here each connection is
an ``asyncio.Protocol`` fed straight from the socket into ``httptools`` (the parser under
uvicorn); a request costs one parse in C, one task, and one ``write`` of the answer.

What it does, and only that:

* keep-alive (HTTP/1.1 by default, HTTP/1.0 when asked), pipelined requests answered in
  order, chunked request bodies (decoded by the parser), ``Expect: 100-continue``;
* a :class:`App` decides twice per request: :meth:`App.refuse` as soon as the headers
  are in (a browser's ``Origin``, a foreign ``Host``, a body over the limit: answered
  without buffering the body, and before it is sent when the client expects
  ``100-continue``), then :meth:`App.respond` with the whole request;
* a malformed request is answered 400 by the app's :meth:`App.error` (JSON, never HTML)
  and the connection closed; an exception in ``respond`` is a 500 the same way.

Answers always carry ``Content-Length``; there is no response streaming, no TLS, no
HTTP/2: the router listens on 127.0.0.1 only.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sys
import traceback
from collections import deque
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Protocol, cast

import httptools

#: Answers queued on one connection (pipelining) before it stops reading more requests.
MAX_PIPELINED = 32

_REASONS = {status.value: status.phrase for status in HTTPStatus}
_CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


@dataclass
class Request:
    """One request: method, path (without the query), lower-cased headers, body."""

    method: str
    path: str
    headers: dict[str, str]
    body: bytes = b""
    keep_alive: bool = True


@dataclass
class Response:
    """One answer; ``close`` ends the connection after it."""

    status: int
    body: bytes = b""
    headers: list[tuple[str, str]] = field(default_factory=list)
    close: bool = False


class App(Protocol):
    """What the server asks of the application behind it."""

    @property
    def max_body(self) -> int:
        """Bodies are buffered up to this many bytes; a longer one goes to ``too_large``."""

    def refuse(self, request: Request, content_length: int | None) -> Response | None:
        """Return an answer that refuses the request from its head alone, or ``None``."""

    def too_large(self, request: Request, size: int | None) -> Response:
        """Return the answer to a body over :attr:`max_body`."""

    def error(self, status: int, message: str) -> Response:
        """Return the answer to a request the server could not read or the app broke on."""

    async def respond(self, request: Request) -> Response:
        """Answer one whole request."""


class HttpServer:
    """The listening side: starts on a bound socket, stops, counts open connections."""

    def __init__(self, app: App) -> None:
        self.app = app
        self.connections: set[Connection] = set()
        self._server: asyncio.AbstractServer | None = None

    async def start(self, sock: socket.socket) -> None:
        """Serve connections accepted on the bound, listening socket ``sock``."""
        loop = asyncio.get_running_loop()
        self._server = await loop.create_server(lambda: Connection(self), sock=sock)

    def stop(self) -> None:
        """Stop accepting; open connections finish their request and then close."""
        if self._server is not None:
            self._server.close()
        for connection in list(self.connections):
            connection.close_when_idle()


class Connection(asyncio.Protocol):
    """One client connection: parse, hand whole requests to the app, write answers in order."""

    def __init__(self, server: HttpServer) -> None:
        self.server = server
        self.app = server.app
        self.parser = httptools.HttpRequestParser(self)
        self.transport: asyncio.Transport | None = None
        self.queue: deque[tuple[Request, Response | None]] = deque()
        self.busy = False
        self.closing = False
        self.discard = False  # after a refused Expect: 100-continue, ignore what follows
        self._url = b""
        self._headers: dict[str, str] = {}
        self._chunks: list[bytes] = []
        self._size = 0
        self._request: Request | None = None
        self._refused: Response | None = None

    # -- asyncio.Protocol --------------------------------------------------------------------

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        """Remember the transport; the server counts the connection."""
        # (uvloop's transports implement asyncio.Transport without subclassing it)
        self.transport = cast(asyncio.Transport, transport)
        self.server.connections.add(self)

    def connection_lost(self, exc: Exception | None) -> None:
        """Forget the connection; a request still running finishes and its answer is dropped."""
        self.server.connections.discard(self)
        self.closing = True

    def data_received(self, data: bytes) -> None:
        """Feed the parser; a malformed request is answered 400 and the connection closed."""
        if self.discard or self.closing:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            self._fail(400, "Protocol upgrades are not supported here.")
        except httptools.HttpParserError as exc:
            self._fail(400, f"Malformed HTTP request: {exc}.")

    # -- httptools callbacks -----------------------------------------------------------------

    def on_message_begin(self) -> None:
        """Start a new request."""
        self._url = b""
        self._headers = {}
        self._chunks = []
        self._size = 0
        self._refused = None

    def on_url(self, url: bytes) -> None:
        """Part of the request target."""
        self._url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        """One header; a repeated one keeps its first value (a second ``Host`` is refused)."""
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        if key in self._headers:
            if key in ("host", "content-length"):
                self._headers["x-duplicate"] = key
            return
        self._headers[key] = text

    def on_headers_complete(self) -> None:
        """Let the app refuse the request before its body is read."""
        path = self._url.split(b"?", 1)[0].decode("latin-1")
        method = self.parser.get_method().decode("latin-1")
        self._request = Request(method, path, self._headers, keep_alive=True)
        length_text = self._headers.get("content-length")
        length = int(length_text) if length_text and length_text.isdigit() else None
        if "x-duplicate" in self._headers:
            self._refused = self.app.error(400, "A request may have one Host and one length.")
        else:
            self._refused = self.app.refuse(self._request, length)
        if self._refused is None and length is not None and length > self.app.max_body:
            self._refused = self.app.too_large(self._request, length)
        expects = self._headers.get("expect", "").lower() == "100-continue"
        if expects and self._refused is not None:
            # The client waits for this answer before sending the body: answer now, then
            # close (the body it may still send is not read).
            self._refused.close = True
            self.discard = True
            self.queue.append((self._request, self._refused))
            self._next()
        elif expects and self.transport is not None:
            self.transport.write(_CONTINUE)

    def on_body(self, body: bytes) -> None:
        """Buffer the body, unless it is refused (then it is read and dropped)."""
        if self._refused is not None:
            return
        self._size += len(body)
        if self._size > self.app.max_body:
            assert self._request is not None
            self._refused = self.app.too_large(self._request, None)
            self._chunks = []
            return
        self._chunks.append(body)

    def on_message_complete(self) -> None:
        """Queue the whole request; start it if nothing else is being answered."""
        request = self._request
        if request is None or self.discard:
            return
        request.body = b"".join(self._chunks)
        request.keep_alive = self.parser.should_keep_alive()
        self._chunks = []
        self.queue.append((request, self._refused))
        if len(self.queue) > MAX_PIPELINED and self.transport is not None:
            self.transport.pause_reading()
        self._next()

    # -- answering ---------------------------------------------------------------------------

    def _next(self) -> None:
        if self.busy or not self.queue:
            return
        request, refused = self.queue.popleft()
        if refused is not None:
            self._send(request, refused)
            return
        self.busy = True
        asyncio.get_running_loop().create_task(self._respond(request))

    async def _respond(self, request: Request) -> None:
        try:
            response = await self.app.respond(request)
        except Exception as exc:  # noqa: BLE001 - a bug must still get an answer, in JSON
            print(traceback.format_exc(), file=sys.stderr, flush=True)
            response = self.app.error(500, f"Internal error: {type(exc).__name__}: {exc}")
        self.busy = False
        self._send(request, response)

    def _send(self, request: Request, response: Response) -> None:
        transport = self.transport
        if transport is None or transport.is_closing():
            return
        keep = request.keep_alive and not response.close and not self.closing
        lines = [
            f"HTTP/1.1 {response.status} {_REASONS.get(response.status, 'Unknown')}",
            f"Content-Length: {len(response.body)}",
        ]
        lines += [f"{name}: {value}" for name, value in response.headers]
        if not keep:
            lines.append("Connection: close")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        transport.write(head + response.body if len(response.body) < 65536 else head)
        if len(response.body) >= 65536:
            transport.write(response.body)
        if not keep:
            transport.close()
            self.closing = True
            return
        if len(self.queue) <= MAX_PIPELINED:
            with contextlib.suppress(RuntimeError):
                transport.resume_reading()
        self._next()

    def _fail(self, status: int, message: str) -> None:
        response = self.app.error(status, message)
        response.close = True
        self.discard = True
        self.queue.append((Request("", "", {}, keep_alive=False), response))
        self._next()

    def close_when_idle(self) -> None:
        """Close now if no request is in progress, else after its answer."""
        self.closing = True
        if not self.busy and not self.queue and self.transport is not None:
            self.transport.close()
