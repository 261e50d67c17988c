"""The REST fuzz runs against a real Jupyter server with the extension, as tests/server."""

from __future__ import annotations

from pytest_jupyter.jupyter_server import *  # noqa: F403 - fixtures and hooks, this folder only
from server.conftest import api, jp_server_config  # noqa: F401 - the same server and client
from serving.conftest import (  # noqa: F401 - real endpoints, always deleted
    _no_endpoint_left_running,
    endpoints,
    iris_model,
)
