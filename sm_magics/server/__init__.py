"""The Jupyter server extension: the side panel's REST API under ``/sm-magics/api/v1``.

Jupyter finds it through ``sm_magics._jupyter_server_extension_points`` (enabled on
install by ``jupyter-config/server-config/sm_magics.json``) and calls
:func:`_load_jupyter_server_extension` once at start-up. The routes are in
:mod:`sm_magics.server.handlers`; the contract is ``docs/rest-api.md``.
"""

from __future__ import annotations

from typing import Any


def _load_jupyter_server_extension(serverapp: Any) -> None:
    """Register the REST routes on a running Jupyter server."""
    from sm_magics.server.context import ServerContext
    from sm_magics.server.handlers import NAMESPACE, setup_handlers

    setup_handlers(serverapp.web_app, ServerContext())
    serverapp.log.info("sm_magics: REST API at %s%s", serverapp.base_url, NAMESPACE)
