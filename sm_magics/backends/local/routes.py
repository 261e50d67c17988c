"""The router's HTTP routes and answers: the SageMaker container and Runtime APIs, locally.

Routes: ``GET /ping`` (200 once InService, else 503), ``POST /invocations`` (the container
contract: a model's error keeps its own status and text) and ``POST
/endpoints/<name>/invocations`` (the Runtime API that ``boto3.client("sagemaker-runtime",
endpoint_url=url)`` calls; signature headers are ignored). Every answer the router makes
itself is JSON in the Runtime API's shape (an ``x-amzn-ErrorType`` header and a
``message``), which botocore turns into the right ``ClientError``:

* a body over SageMaker's limit (6 MB real-time, 4 MB serverless): 413 ``ValidationError``,
  decided from ``Content-Length`` before the body is read;
* the model did not answer within the deadline (60 s): ``ModelError`` 424 with
  ``OriginalStatusCode`` 0 and SageMaker's "timed out" wording (504 on the container route);
* a handler failed: ``ModelError`` 424 with the container's status and message;
* a request from a web page -- an ``Origin`` header, or a ``Host`` that is not this
  loopback address and port (DNS rebinding) -- is refused 403: any page a user visits
  could otherwise POST to ``127.0.0.1:PORT`` and run (or read) the model. boto3, the SDK,
  urllib and curl send neither, so they keep working.
"""

from __future__ import annotations

import asyncio
import json
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from sm_magics import limits
from sm_magics.backends.local import inference
from sm_magics.backends.local.httpwire import Request, Response
from sm_magics.backends.local.pool import WorkerDied

if TYPE_CHECKING:
    from sm_magics.backends.local.router import Router
    from sm_magics.backends.local.variants import Variant

_JSON = [("Content-Type", "application/json")]
_SERVING = ("InService", "Updating")


async def within(awaitable: Any, seconds: float) -> Any:
    """Await ``awaitable`` under one deadline (no extra task where asyncio allows it)."""
    timeout = getattr(asyncio, "timeout", None)
    if timeout is None:  # Python 3.10
        return await asyncio.wait_for(awaitable, seconds)
    async with timeout(seconds):
        return await awaitable


def aws_error(status: int, code: str, message: str, **extra: Any) -> Response:
    """Answer as the SageMaker Runtime API does, so botocore raises the right error."""
    body = json.dumps({"message": message, "Message": message, **extra}).encode()
    return Response(status, body, [("x-amzn-ErrorType", f"{code}:"), *_JSON])


class RouterApp:
    """The :class:`~.httpwire.App` of one endpoint's router."""

    def __init__(self, router: Router, port: int) -> None:
        self.router = router
        self.hosts = {f"127.0.0.1:{port}", f"localhost:{port}", f"[::1]:{port}"}
        self.timeout = limits.invocation_timeout()
        self._limit_of: tuple[int, int, str] | None = None

    # -- limits and refusals -------------------------------------------------------------------

    def _limit(self) -> tuple[int, str]:
        """Return the body limit of the current config (serverless if any variant is)."""
        config = self.router.config
        if self._limit_of is None or self._limit_of[0] != id(config):
            serverless = any(v.get("serverless_memory_mb") for v in config.get("variants", []))
            size, what = limits.payload_limit(serverless=serverless)
            self._limit_of = (id(config), size, what)
        return self._limit_of[1], self._limit_of[2]

    @property
    def max_body(self) -> int:
        """The largest body buffered (SageMaker's limit for this endpoint)."""
        return self._limit()[0]

    def refuse(self, request: Request, content_length: int | None) -> Response | None:
        """Refuse a browser's request (``Origin``, foreign ``Host``) from its head alone."""
        origin = request.headers.get("origin")
        if origin is not None:
            return aws_error(
                403,
                "AccessDeniedException",
                f"Requests from web pages are refused (Origin: {origin[:200]}): a local "
                "endpoint answers code on this machine (boto3, the SDK, curl), not browsers.",
            )
        host = request.headers.get("host")
        if host is not None and host.lower() not in self.hosts:
            return aws_error(
                403,
                "AccessDeniedException",
                f"Host {host[:200]!r} is refused: call this endpoint at "
                f"{min(self.hosts)} (a foreign Host is how DNS rebinding reaches loopback).",
            )
        return None

    def too_large(self, request: Request, size: int | None) -> Response:
        """413 ``ValidationError``, as SageMaker answers a body over its limit."""
        limit, what = self._limit()
        return aws_error(413, "ValidationError", limits.too_large_message(size, limit, what))

    def error(self, status: int, message: str) -> Response:
        """Answer a request the server could not read (400) or a bug (500), in JSON."""
        code = "ValidationError" if status < 500 else "InternalFailure"
        return aws_error(status, code, message)

    # -- routes ----------------------------------------------------------------------------------

    async def respond(self, request: Request) -> Response:
        """Route one request."""
        path = request.path
        if path == "/ping":
            if request.method not in ("GET", "HEAD"):
                return self._not_allowed(request, "GET")
            return self.ping()
        if path == "/invocations":
            if request.method != "POST":
                return self._not_allowed(request, "POST")
            return await self.invocations(request, None)
        parts = path.split("/")
        if len(parts) == 4 and parts[1] == "endpoints" and parts[3] == "invocations":
            if request.method != "POST":
                return self._not_allowed(request, "POST")
            return await self.invocations(request, unquote(parts[2]))
        return aws_error(
            404,
            "UnknownOperationException",
            f"No route {request.method} {path[:200]}: this endpoint answers GET /ping, "
            "POST /invocations and POST /endpoints/<name>/invocations.",
        )

    def _not_allowed(self, request: Request, allowed: str) -> Response:
        response = aws_error(
            405,
            "UnknownOperationException",
            f"{request.method} is not allowed on {request.path}; use {allowed}.",
        )
        response.headers.append(("Allow", allowed))
        return response

    def ping(self) -> Response:
        """Answer the health check: 200 once every variant is loaded, 503 before."""
        status = self.router.state.get("status")
        if status in _SERVING:
            return Response(200)
        return Response(503, str(status).encode(), [("Content-Type", "text/plain")])

    async def invocations(self, request: Request, name: str | None) -> Response:
        """Route one request to a variant's worker and relay its answer."""
        router = self.router
        runtime = name is not None
        if runtime and name != router.name:
            return aws_error(400, "ValidationError", f"Endpoint {name} of account local not found.")
        if router.state.get("status") not in _SERVING:
            return aws_error(
                400,
                "ValidationError",
                f"Endpoint {router.name} is {router.state.get('status')}, not InService.",
            )
        try:
            variant = router.choose(request.headers.get("x-amzn-sagemaker-target-variant"))
        except LookupError as exc:
            return aws_error(400, "ValidationError", str(exc))
        headers = request.headers
        content_type = headers.get("content-type") or inference.JSON
        accept = headers.get("accept", "")
        try:
            reply, payload = await within(
                router.invoke(variant, request.body, content_type, accept), self.timeout
            )
        except asyncio.TimeoutError:
            variant.errors += 1
            return self._timed_out(variant, runtime)
        except WorkerDied as exc:
            variant.errors += 1
            message = f"The model's worker stopped before answering: {exc}."
            if runtime:
                return self._model_error(variant, 500, message)
            return aws_error(500, "ModelError", message)
        status = int(reply.get("status", 500))
        served_by = ("X-Amzn-Invoked-Production-Variant", variant.name)
        if status < 400:
            content = reply.get("content_type") or inference.JSON
            return Response(status, payload, [("Content-Type", str(content)), served_by])
        message = payload.decode(errors="replace")
        if not runtime:  # the container's own answer: its status, its text
            return Response(status, payload, [("Content-Type", "text/plain"), served_by])
        answer = self._model_error(variant, status, message)
        answer.headers.append(served_by)
        return answer

    def _model_error(self, variant: Variant, status: int, message: str) -> Response:
        """``ModelError`` 424, as the Runtime API wraps what the container answered."""
        name = self.router.name
        kind = "server" if status >= 500 or status == 0 else "client"
        return aws_error(
            424,
            "ModelError",
            f"Received {kind} error ({status}) from {variant.name} with message "
            f'"{message}". See the endpoint\'s logs (%sm_logs {name}).',
            OriginalStatusCode=status,
            OriginalMessage=message,
            LogStreamArn=f"arn:aws:logs:local:000000000000:log-group:/aws/sagemaker/"
            f"Endpoints/{name}:log-stream:{variant.name}/{name}",
        )

    def _timed_out(self, variant: Variant, runtime: bool) -> Response:
        message = (
            f"Your invocation timed out while waiting for a response from variant "
            f"{variant.name}: the model did not answer within {self.timeout:g} s "
            "(SageMaker's limit); a worker that held the request was restarted."
        )
        if runtime:
            return self._model_error(variant, 0, message)
        return aws_error(504, "ModelError", message)
