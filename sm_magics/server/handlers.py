"""The REST API v1 of the side panel: one base handler and one route table.

Every verb is ``@tornado.web.authenticated`` (Jupyter's token or cookie + XSRF), answers
JSON, and hands its blocking work (SQLite, backend calls, boto3) to the extension's
worker threads with :meth:`ApiHandler.blocking` (invocations to threads of their own with
:meth:`ApiHandler.invoking`), so a slow AWS call or model never stalls the Jupyter server
or the rest of the panel. The contract is ``docs/rest-api.md``.
"""

from __future__ import annotations

import asyncio
import functools
import json
import logging
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar

import tornado.web
from jupyter_server.base.handlers import APIHandler
from jupyter_server.utils import url_path_join

from sm_magics.errors import SmMagicsError
from sm_magics.server import endpoints, errors, jobs, models, params
from sm_magics.server.context import ServerContext

if TYPE_CHECKING:
    from sm_magics.display.costs import CostSummaryJSON

T = TypeVar("T")

#: The API's root under the server's base URL.
NAMESPACE = "sm-magics/api/v1"
#: How often ``/changes`` looks at the ledger while it holds a request (seconds).
CHANGES_POLL = 0.25
SETTINGS_KEY = "sm_magics"

log = logging.getLogger(__name__)

_NAME = r"(?P<name>[^/]+)"


class ApiHandler(APIHandler):
    """The base of every route: JSON in and out, one error shape, blocking work off-loop."""

    @property
    def context(self) -> ServerContext:
        """The extension's shared state (Session, threads, ledger version)."""
        context: ServerContext = self.settings[SETTINGS_KEY]
        return context

    async def blocking(self, func: Callable[..., T], *args: Any) -> T:
        """Run ``func(*args)`` on the extension's threads and return its result."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self.context.executor, functools.partial(func, *args))

    async def invoking(self, func: Callable[..., T], *args: Any) -> T:
        """Run an invocation ``func(*args)`` on the invocation threads (never the panel's)."""
        context = self.context
        context.take_invocation_slot()
        try:
            loop = asyncio.get_running_loop()
            return await loop.run_in_executor(context.invocations, functools.partial(func, *args))
        finally:
            context.release_invocation_slot()

    def query(self, name: str) -> str | None:
        """Return a query parameter, or ``None`` when absent."""
        return self.get_query_argument(name, None)

    def reply(self, data: Any, status: int = 200) -> None:
        """Finish with ``data`` as JSON."""
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(data))

    def write_error(self, status_code: int, **kwargs: Any) -> None:
        """Answer ``{"code", "message"}`` with the status of the error's class; no traceback."""
        exc_info = kwargs.get("exc_info")
        exc = exc_info[1] if exc_info else None
        status, body = errors.describe(exc, status_code)
        self.set_status(status)
        self.set_header("Content-Type", "application/json")
        self.finish(json.dumps(body))

    def log_exception(self, typ: Any, value: Any, tb: Any) -> None:
        """Log expected errors (404, 400, ...) in one line; keep tracebacks for real bugs."""
        if isinstance(value, SmMagicsError):
            status, body = errors.describe(value)
            if status < 500:
                log.info("%s %s: %s %s", self.request.method, self.request.uri, status, body)
                return
        super().log_exception(typ, value, tb)


class JobsHandler(ApiHandler):
    """``GET /jobs``: the ledger's jobs, running ones refreshed first."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """List jobs; filters ``status``, ``backend``, ``kind``, ``active``, ``limit``."""
        query = params.JobQuery.parse(self.query)
        self.reply(await self.blocking(jobs.list_jobs, self.context, query))


class JobHandler(ApiHandler):
    """``GET /jobs/<name>[?full=1]``: one job, with its metric series (downsampled)."""

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        """Describe one job."""
        full = params.flag(self.query, "full")
        self.reply(await self.blocking(jobs.get_job, self.context, name, full))


class JobLogsHandler(ApiHandler):
    """``GET /jobs/<name>/logs?cursor=C&limit=N``: log lines after a cursor."""

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        """Return the next page of log lines."""
        limit = params.integer(self.query, "limit", params.DEFAULT_LOG_LIMIT, params.MAX_LOG_LIMIT)
        cursor = self.query("cursor")
        self.reply(await self.blocking(jobs.read_logs, self.context, name, cursor, limit))


class JobStopHandler(ApiHandler):
    """``POST /jobs/<name>/stop``: ask a job to stop (an ended job is not an error)."""

    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        """Stop one job."""
        self.reply(await self.blocking(jobs.stop_job, self.context, name))


class EndpointsHandler(ApiHandler):
    """``GET /endpoints``: live endpoints (``deleted=1``: history too)."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """List endpoints; filters ``backend``, ``deleted``."""
        backend = params.backend(self.query)
        deleted = params.flag(self.query, "deleted")
        self.reply(await self.blocking(endpoints.list_endpoints, self.context, backend, deleted))


class EndpointHandler(ApiHandler):
    """``GET`` / ``DELETE /endpoints/<name>``."""

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        """Describe one endpoint."""
        self.reply(await self.blocking(endpoints.get_endpoint, self.context, name))

    @tornado.web.authenticated
    async def delete(self, name: str) -> None:
        """Delete one endpoint; the answer has status ``Deleted``."""
        self.reply(await self.blocking(endpoints.delete_endpoint, self.context, name))


class EndpointInvokeHandler(ApiHandler):
    """``POST /endpoints/<name>/invoke``: one request to the model."""

    @tornado.web.authenticated
    async def post(self, name: str) -> None:
        """Send the body's payload to the endpoint and relay its answer."""
        request = params.InvokeRequest.parse(self.request.body)
        self.reply(await self.invoking(endpoints.invoke, self.context, name, request))


class CostHandler(ApiHandler):
    """``GET /cost[?notebook=path]``: what runs and bills now, and the totals."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """Return the cost summary of :func:`sm_magics.cost_summary.summarize`."""
        notebook = self.query("notebook") or None
        self.reply(await self.blocking(cost_summary, self.context, notebook))


def cost_summary(context: ServerContext, notebook: str | None) -> CostSummaryJSON:
    """Refresh what runs, then summarize the ledger (blocking)."""
    from sm_magics import cost_summary

    jobs.refresh_running(context)
    endpoints.refresh_live(context)
    return cost_summary.summarize(context.session.ledger, notebook=notebook).to_json()


class ChangesHandler(ApiHandler):
    """``GET /changes?since=V&timeout=T``: a long poll on the ledger's version."""

    _gone = False

    def on_connection_close(self) -> None:
        """Stop polling for a client that left."""
        self._gone = True

    @tornado.web.authenticated
    async def get(self) -> None:
        """Answer as soon as the version differs from ``since``, or after ``timeout``."""
        since = self.query("since")
        timeout = params.changes_timeout(self.query)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + timeout
        while True:
            version = await self.blocking(self.context.version)
            remaining = deadline - loop.time()
            if since is None or version != since or remaining <= 0 or self._gone:
                break
            await asyncio.sleep(min(CHANGES_POLL, remaining))
        if not self._gone:
            self.reply({"version": version})


class ModelsHandler(ApiHandler):
    """``GET /models[?group=G]``: the model registry's versions."""

    @tornado.web.authenticated
    async def get(self) -> None:
        """List registered versions, newest first within each group."""
        group = self.query("group")
        self.reply(await self.blocking(models.list_models, self.context, group))


class ModelApprovalHandler(ApiHandler):
    """``POST /models/<group>/<version>/(approve|reject)``."""

    @tornado.web.authenticated
    async def post(self, group: str, version: str, action: str) -> None:
        """Change one version's approval, recording who and when."""
        self.reply(await self.blocking(models.set_approval, self.context, group, version, action))


class LineageHandler(ApiHandler):
    """``GET /lineage/<name>``: where an endpoint, a version or a job came from."""

    @tornado.web.authenticated
    async def get(self, name: str) -> None:
        """Return the lineage tree (nodes with their parents)."""
        self.reply(await self.blocking(models.lineage, self.context, name))


class NoRouteHandler(ApiHandler):
    """Anything else under the namespace: a JSON 404 rather than Jupyter's HTML page."""

    def _not_found(self) -> None:
        raise tornado.web.HTTPError(404, f"No route {self.request.path} in the sm-magics API.")

    @tornado.web.authenticated
    def get(self, *_: str) -> None:
        """Unknown route."""
        self._not_found()

    @tornado.web.authenticated
    def post(self, *_: str) -> None:
        """Unknown route."""
        self._not_found()

    @tornado.web.authenticated
    def delete(self, *_: str) -> None:
        """Unknown route."""
        self._not_found()


#: The route table, relative to ``<base_url>sm-magics/api/v1``.
ROUTES: list[tuple[str, type[ApiHandler]]] = [
    (r"/jobs", JobsHandler),
    (rf"/jobs/{_NAME}", JobHandler),
    (rf"/jobs/{_NAME}/logs", JobLogsHandler),
    (rf"/jobs/{_NAME}/stop", JobStopHandler),
    (r"/endpoints", EndpointsHandler),
    (rf"/endpoints/{_NAME}", EndpointHandler),
    (rf"/endpoints/{_NAME}/invoke", EndpointInvokeHandler),
    (r"/cost", CostHandler),
    (r"/models", ModelsHandler),
    (
        r"/models/(?P<group>[^/]+)/(?P<version>[0-9]{1,9})/(?P<action>approve|reject)",
        ModelApprovalHandler,
    ),
    (r"/lineage/(?P<name>.+)", LineageHandler),  # a version's name has a slash
    (r"/changes", ChangesHandler),
    (r"(/.*)?", NoRouteHandler),
]


def setup_handlers(web_app: tornado.web.Application, context: ServerContext) -> None:
    """Register :data:`ROUTES` under the server's base URL and share ``context``."""
    web_app.settings[SETTINGS_KEY] = context
    base_url = web_app.settings.get("base_url", "/")
    root = url_path_join(base_url, NAMESPACE)
    web_app.add_handlers(".*$", [(root + pattern + "/?$", handler) for pattern, handler in ROUTES])
