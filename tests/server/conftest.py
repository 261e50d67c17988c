"""Fixtures of the server extension's tests: a real Jupyter server with ``sm_magics`` on.

pytest-jupyter's fixtures are imported here rather than enabled as a plugin for the whole
suite: its autouse event-loop fixture and its coroutine-test hooks then only apply to the
tests of this folder. ``jp_serverapp`` runs in this process, so the ``SM_MAGICS_HOME`` the
autouse ``sm_home`` fixture sets is the server's too; the extension reads it per request.

Endpoints are real local ones (the serving tests' ``endpoints`` fixture, which deletes
them whatever happens); SageMaker rows are ledger rows served by a stub backend put into
the server's Session (see ``stub_backend``), so no test needs AWS or a network.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from pytest_jupyter.jupyter_server import *  # noqa: F403 - fixtures and hooks, this folder only
from serving.conftest import (  # the serving tests' endpoint fixtures, reused as they are
    _no_endpoint_left_running,  # noqa: F401
    endpoints,  # noqa: F401
    iris_model,  # noqa: F401
)
from tornado.httpclient import HTTPResponse
from traitlets.config import Config

from sm_magics.server.context import ServerContext
from sm_magics.server.handlers import SETTINGS_KEY

API = ("sm-magics", "api", "v1")


@pytest.fixture
def jp_server_config() -> Config:
    """Enable the extension, as ``jupyter-config/server-config/sm_magics.json`` does."""
    return Config({"ServerApp": {"jpserver_extensions": {"sm_magics": True}}})


@dataclass
class Reply:
    """A response of the REST API, decoded."""

    status: int
    body: Any
    raw: bytes
    content_type: str


Call = Callable[..., Coroutine[Any, Any, Reply]]


@pytest.fixture
def api(jp_fetch: Any, jp_serverapp: Any) -> Iterator[Call]:
    """``await api("GET", "jobs", params=..., body=..., headers=...)`` -> :class:`Reply`.

    Error statuses are returned, not raised, so tests assert on them. Afterwards the
    extension's worker threads are stopped: Jupyter calls no unload hook for a module
    extension, and every test starts a server of its own.
    """

    async def call(
        method: str,
        *path: str,
        params: dict[str, Any] | None = None,
        body: Any = None,
        headers: dict[str, str] | None = None,
        request_timeout: float = 60,
    ) -> Reply:
        data = None
        if body is not None:
            data = body if isinstance(body, (bytes, str)) else json.dumps(body)
        elif method == "POST":
            data = b""
        response: HTTPResponse = await jp_fetch(
            *API,
            *path,
            method=method,
            params=params,
            body=data,
            headers=headers,
            raise_error=False,
            request_timeout=request_timeout,
            allow_nonstandard_methods=True,
        )
        raw = response.body or b""
        try:
            decoded = json.loads(raw) if raw else None
        except ValueError:
            decoded = None
        return Reply(response.code, decoded, raw, response.headers.get("Content-Type", ""))

    yield call
    jp_serverapp.web_app.settings[SETTINGS_KEY].close()


@pytest.fixture
def server_context(jp_serverapp: Any) -> ServerContext:
    """The extension's shared state inside the running server."""
    context: ServerContext = jp_serverapp.web_app.settings[SETTINGS_KEY]
    return context
