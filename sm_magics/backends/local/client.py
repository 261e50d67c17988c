"""The kernel's client of local routers: kept-alive connections, and what it need not re-read.

An invocation used to open a TCP connection and read the endpoint's ``state.json``,
``router.pid`` and process table each time (1.3-1.9 ms against 0.8 ms for the request
itself). Here each thread keeps one HTTP/1.1 connection per router, and each endpoint's URL
is remembered once read; both are dropped as soon as the router does not answer, and the
state is read again then (it says why: ``Failed``, ``Deleted``, a new router's port). The
router itself checks the endpoint's name and status on every request, so a remembered URL
can never reach the wrong endpoint or a stopped one.

Standard library only (a socket): the kernel imports no HTTP framework for this.
"""

from __future__ import annotations

import functools
import json
import socket
import struct
import threading
from collections.abc import Callable
from urllib.parse import quote, urlsplit

from sm_magics import limits
from sm_magics.backends.results import InvokeResult
from sm_magics.errors import (
    AccessDenied,
    InvalidRequest,
    InvocationTimeout,
    ModelError,
    PayloadTooLarge,
)

#: The client waits a little longer than the router's own deadline, so that the router's
#: answer ("timed out") arrives rather than a bare socket timeout.
_SLACK_SECONDS = 5.0


class _Connection:
    """One kept-alive HTTP/1.1 connection to a router: one write per request, then read.

    ``http.client`` writes the headers and the body of a POST in two ``send`` calls (and
    parses headers with the ``email`` package); here a request is one ``sendall`` on a
    ``TCP_NODELAY`` socket. The socket is blocking with the timeout kept by the kernel
    (``SO_RCVTIMEO``/``SO_SNDTIMEO``): with Python's own timeouts every read or write is a
    ``poll`` plus the call, about a third of the client's CPU per request. Only what our
    router answers is understood: a status line, headers, a ``Content-Length`` body.
    """

    def __init__(self, address: str, timeout: float) -> None:
        host, _, port = address.rpartition(":")
        self.address = address
        self.sock = socket.create_connection((host.strip("[]"), int(port)), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        _kernel_timeouts(self.sock, timeout)
        self.buffer = bytearray()

    def _recv(self) -> bytes:
        try:
            return self.sock.recv(_CHUNK)
        except BlockingIOError:  # SO_RCVTIMEO passed
            raise TimeoutError("the router did not answer in time") from None

    def post(self, path: str, headers: bytes, body: bytes) -> tuple[int, dict[str, str], bytes]:
        """Send one POST and return ``(status, lower-cased headers, body)``."""
        head = (
            f"POST {path} HTTP/1.1\r\nHost: {self.address}\r\nContent-Length: {len(body)}\r\n"
        ).encode("latin-1")
        try:
            self.sock.sendall(head + headers + b"\r\n" + body)
        except BlockingIOError:  # SO_SNDTIMEO passed: the router stopped reading
            raise TimeoutError("the router did not take the request in time") from None
        buffer = self.buffer
        while (end := buffer.find(b"\r\n\r\n")) < 0:
            if len(buffer) > _MAX_HEAD:
                raise ConnectionResetError("not an HTTP answer: headers too long")
            chunk = self._recv()
            if not chunk:
                raise ConnectionResetError("the router closed the connection")
            buffer += chunk
        status_line, *lines = bytes(buffer[:end]).decode("latin-1").split("\r\n")
        del buffer[: end + 4]
        parts = status_line.split(None, 2)
        if len(parts) < 2 or not parts[1].isdigit():
            raise ConnectionResetError(f"not an HTTP answer: {status_line[:80]!r}")
        answer: dict[str, str] = {}
        for line in lines:
            name, _, value = line.partition(":")
            answer[name.strip().lower()] = value.strip()
        length = int(answer.get("content-length", "0"))
        while len(buffer) < length:
            chunk = self._recv()
            if not chunk:
                raise ConnectionResetError("the router closed the connection mid-answer")
            buffer += chunk
        data = bytes(buffer[:length])
        del buffer[:length]
        return int(parts[1]), answer, data

    def close(self) -> None:
        """Close the socket."""
        self.sock.close()


_CHUNK = 65536
_MAX_HEAD = 65536


def _kernel_timeouts(sock: socket.socket, timeout: float) -> None:
    """Make ``sock`` blocking with ``timeout`` kept by the kernel, where it can be.

    Elsewhere (no ``SO_RCVTIMEO``, another ``timeval`` layout) it keeps Python's timeout.
    """
    seconds = int(timeout)
    value = struct.pack("ll", seconds, int((timeout - seconds) * 1_000_000))
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVTIMEO, value)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDTIMEO, value)
    except (OSError, AttributeError):
        return
    sock.settimeout(None)


class _Connections(threading.local):
    """One kept-alive connection per router address, per thread (the REST server has many)."""

    def __init__(self) -> None:
        self.by_address: dict[str, _Connection] = {}


_connections = _Connections()
#: ``(home key, endpoint name) -> router URL``, as last read from the endpoint's state.
_urls: dict[tuple[str, str], str] = {}
_urls_lock = threading.Lock()


def forget(home: str, name: str) -> None:
    """Drop the remembered URL of an endpoint (deleted, failed, or not answering)."""
    with _urls_lock:
        _urls.pop((home, name), None)


def encode_headers(headers: dict[str, str]) -> bytes:
    """Return ``headers`` as HTTP header lines.

    Raises
    ------
    InvalidRequest
        A value is not printable Latin-1 (a CR or LF would inject headers).
    """
    lines = []
    for name, value in headers.items():
        if any(c in value for c in "\r\n\0"):
            raise InvalidRequest(f"{name} must be one line: {value[:80]!r}.")
        try:
            lines.append(f"{name}: {value}\r\n".encode("latin-1"))
        except UnicodeEncodeError:
            raise InvalidRequest(
                f"{name} must be Latin-1 text (an HTTP header): {value[:80]!r}."
            ) from None
    return b"".join(lines)


@functools.lru_cache(maxsize=256)
def _address(url: str) -> str:
    return urlsplit(url).netloc


@functools.lru_cache(maxsize=256)
def _route(name: str) -> str:
    return f"/endpoints/{quote(name)}/invocations"


def _post(url: str, path: str, body: bytes, headers: bytes) -> tuple[int, dict[str, str], bytes]:
    """POST on the thread's kept-alive connection to ``url``; reconnect once if it went stale."""
    address = _address(url)
    for attempt in (1, 2):
        connection = _connections.by_address.get(address)
        reused = connection is not None
        try:
            if connection is None:
                timeout = limits.invocation_timeout() + _SLACK_SECONDS
                connection = _Connection(address, timeout)
                _connections.by_address[address] = connection
            status, answer, data = connection.post(path, headers, body)
        except (ConnectionError, OSError, ValueError) as exc:
            if connection is not None:
                connection.close()
            _connections.by_address.pop(address, None)
            # A kept-alive connection the router closed meanwhile (it was restarted, or
            # ended the idle connection): one retry on a fresh one. A fresh one failing is
            # the router's answer, and a timeout is never retried (the model got it).
            if isinstance(exc, TimeoutError) or attempt == 2 or not reused:
                raise
            continue
        if answer.get("connection", "").lower() == "close":
            connection.close()
            _connections.by_address.pop(address, None)
        return status, answer, data
    raise AssertionError("unreachable")  # pragma: no cover


def invoke(
    home: str,
    name: str,
    body: bytes,
    headers: dict[str, str],
    read_url: Callable[[], str],
) -> InvokeResult:
    """Send one request to endpoint ``name``'s router and return its answer.

    ``read_url`` reads the endpoint's state and returns its URL, or raises the error that
    says why it cannot be invoked; it is called only when no URL is remembered, or when the
    remembered one does not answer.
    """
    key = (home, name)
    with _urls_lock:
        url = _urls.get(key)
    path = _route(name)
    header_lines = encode_headers(headers)
    for attempt in (1, 2):
        if url is None:
            url = read_url()
            with _urls_lock:
                _urls[key] = url
        try:
            status, answer, data = _post(url, path, body, header_lines)
        except TimeoutError:
            raise InvocationTimeout(
                f"Endpoint {name} did not answer within "
                f"{limits.invocation_timeout() + _SLACK_SECONDS:g} s."
            ) from None
        except (ConnectionError, OSError, ValueError) as exc:
            forget(home, name)
            if attempt == 2:
                raise InvalidRequest(f"Endpoint {name} did not answer: {exc}") from None
            url = None  # read the state again: it says Failed, Deleted, or a new port
            continue
        if status == 400 and b"of account local not found" in data:
            forget(home, name)  # another endpoint took that port: read the state again
            if attempt == 1:
                url = None
                continue
        return _result(status, answer, data)
    raise AssertionError("unreachable")  # pragma: no cover


def _result(status: int, answer: dict[str, str], data: bytes) -> InvokeResult:
    """Return a 2xx answer; raise the error class that matches any other one."""
    variant = answer.get("x-amzn-invoked-production-variant", "")
    if status < 300:
        return InvokeResult(body=data, content_type=answer.get("content-type", ""), variant=variant)
    detail = data.decode(errors="replace")
    try:
        payload = json.loads(detail)
    except ValueError:
        payload = {"message": detail}
    if not isinstance(payload, dict):
        payload = {"message": detail}
    message = str(payload.get("OriginalMessage") or payload.get("message") or detail)
    if status == 424:
        original = int(payload.get("OriginalStatusCode", 500))
        if original == 0:
            raise InvocationTimeout(message, variant=variant or None)
        raise ModelError(message, status=original, variant=variant or None)
    if status == 413:
        raise PayloadTooLarge(message)
    if status == 403:
        raise AccessDenied(message)
    raise InvalidRequest(message)
