"""The blocking work behind the ``/endpoints`` routes, run on the extension's worker threads.

Lists come from the ledger after ``Session.refresh`` had each live endpoint described by
its backend (which marks one it no longer knows, e.g. one whose ``--ttl`` passed,
``Deleted``: the server never writes a row). Invocations and deletes go through
the kernel's own :class:`~sm_magics.endpoint.Endpoint` handle.
"""

from __future__ import annotations

import base64
import logging
import time
from typing import TypedDict

from sm_magics.backends import statuses
from sm_magics.backends.local.endpoint_dir import EndpointDir
from sm_magics.endpoint import Endpoint
from sm_magics.errors import NotFound
from sm_magics.ledger_records import EndpointRecord
from sm_magics.server.context import ServerContext
from sm_magics.server.params import InvokeRequest
from sm_magics.server.serialize import EndpointJSON, endpoint_json

log = logging.getLogger(__name__)


class EndpointList(TypedDict):
    """The answer of ``GET /endpoints``."""

    endpoints: list[EndpointJSON]
    version: str


class InvokeJSON(TypedDict):
    """The answer of ``POST /endpoints/<name>/invoke``."""

    body: str
    body_encoding: str  # "utf-8", or "base64" for a binary answer (.npy, images)
    content_type: str
    variant: str


def _last_invoked_at(record: EndpointRecord) -> float | None:
    """When a live local endpoint last answered; ``None`` elsewhere (SageMaker has no such)."""
    if record.backend != "local" or not record.is_live:
        return None
    return EndpointDir.for_endpoint(record.name).last_invoked_at()


def _refresh(ctx: ServerContext, record: EndpointRecord) -> EndpointRecord:
    """Return the endpoint's row after its backend described it (when it may be live)."""
    fresh = ctx.session.refresh([record], strict=True)
    return fresh[0] if fresh else record


def refresh_live(ctx: ServerContext, backend: str | None = None) -> None:
    """Bring the rows of live endpoints up to date (each at most once per refresh interval)."""
    records = ctx.session.ledger.list_endpoints(backend=backend)
    ctx.session.refresh([r for r in records if ctx.refresh_due("endpoint", r.name)])


def list_endpoints(ctx: ServerContext, backend: str | None, deleted: bool) -> EndpointList:
    """Return live endpoints (and deleted ones with ``deleted``), newest first."""
    refresh_live(ctx, backend)
    version = ctx.version()  # before the rows; see jobs.list_jobs
    records = ctx.session.ledger.list_endpoints(live_only=not deleted, backend=backend)
    now = time.time()
    return {
        "endpoints": [
            endpoint_json(r, now=now, last_invoked_at=_last_invoked_at(r)) for r in records
        ],
        "version": version,
    }


def _record(ctx: ServerContext, name: str) -> EndpointRecord:
    record = ctx.session.ledger.get_endpoint(name)
    if record is None:
        raise NotFound(
            f"No endpoint named {name!r} in the ledger; GET /endpoints (or %sm_endpoints) "
            "lists them."
        )
    return record


def get_endpoint(ctx: ServerContext, name: str) -> EndpointJSON:
    """Return one endpoint, described afresh when live; a deleted one as history."""
    record = _refresh(ctx, _record(ctx, name))
    return endpoint_json(record, now=time.time(), last_invoked_at=_last_invoked_at(record))


def _live(ctx: ServerContext, name: str) -> Endpoint:
    record = ctx.session.ledger.get_endpoint(name)
    if record is None or not record.is_live:
        detail = "was deleted" if record is not None else "is not in the ledger"
        raise NotFound(f"Endpoint {name!r} {detail}; GET /endpoints lists the live ones.")
    return Endpoint.from_record(ctx.session, record)


def invoke(ctx: ServerContext, name: str, request: InvokeRequest) -> InvokeJSON:
    """Send one request to a live endpoint and return its answer as text (or base64)."""
    result = _live(ctx, name).invoke(
        request.body.encode(),
        content_type=request.content_type,
        accept=request.accept,
        variant=request.variant,
        raw=True,
    )
    try:
        body, encoding = result.body.decode("utf-8"), "utf-8"
    except UnicodeDecodeError:
        body, encoding = base64.b64encode(result.body).decode(), "base64"
    return {
        "body": body,
        "body_encoding": encoding,
        "content_type": result.content_type,
        "variant": result.variant,
    }


def delete_endpoint(ctx: ServerContext, name: str) -> EndpointJSON:
    """Delete a live endpoint (nothing of it runs afterwards); return its final row."""
    _live(ctx, name).delete()
    record = _record(ctx, name)
    return endpoint_json(record, now=time.time(), status=statuses.DELETED)
