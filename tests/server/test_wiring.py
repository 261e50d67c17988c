"""The extension is found, enabled and loaded; every route needs Jupyter's authentication."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest

from .conftest import Call

#: Every (verb, route) of docs/rest-api.md, with names that need not exist: authentication
#: is checked before anything else.
ROUTES = [
    ("GET", "jobs"),
    ("GET", "jobs/some-job"),
    ("GET", "jobs/some-job/logs"),
    ("POST", "jobs/some-job/stop"),
    ("GET", "endpoints"),
    ("GET", "endpoints/some-endpoint"),
    ("DELETE", "endpoints/some-endpoint"),
    ("POST", "endpoints/some-endpoint/invoke"),
    ("GET", "cost"),
    ("GET", "changes"),
    ("GET", "no/such/route"),
]


async def test_extension_is_enabled_and_loaded(jp_serverapp: Any) -> None:
    manager = jp_serverapp.extension_manager
    assert "sm_magics" in manager.extensions
    extension = manager.extensions["sm_magics"]
    assert extension.enabled
    assert [p.module_name for p in extension.extension_points.values()] == ["sm_magics.server"]
    assert "sm_magics" in jp_serverapp.web_app.settings


@pytest.mark.parametrize(("method", "route"), ROUTES)
async def test_every_route_refuses_a_request_without_a_token(
    api: Call, method: str, route: str
) -> None:
    # jupyter_server answers API handlers without a login with 403 (it never redirects
    # them to the login page), and a POST or DELETE without a token fails its XSRF check
    # first, also 403. The body is our JSON error shape either way, with no traceback.
    reply = await api(method, *route.split("/"), headers={"Authorization": ""})
    assert reply.status == 403
    assert reply.body["code"] == "Forbidden"
    assert set(reply.body) == {"code", "message"}
    if method == "GET":
        assert reply.body["message"] == "Forbidden"
    else:
        assert "_xsrf" in reply.body["message"]


async def test_a_wrong_token_is_refused(api: Call) -> None:
    reply = await api("GET", "jobs", headers={"Authorization": "token not-the-token"})
    assert reply.status == 403
    assert reply.body["code"] == "Forbidden"


async def test_unknown_route_under_the_namespace_is_a_json_404(api: Call) -> None:
    reply = await api("GET", "no", "such", "route")
    assert reply.status == 404
    assert reply.body["code"] == "NotFound"
    assert "application/json" in reply.content_type


async def test_the_server_uses_the_tests_home(
    api: Call, sm_home: Path, server_context: Any
) -> None:
    reply = await api("GET", "jobs")
    assert reply.status == 200
    assert server_context.session.ledger.path.parent == sm_home


def test_load_ext_and_extension_points_import_no_server_code(sm_home: Path) -> None:
    heavy = ("tornado", "jupyter_server", "boto3", "botocore", "ipywidgets")
    code = f"""
        import json, sys
        from IPython.core.interactiveshell import InteractiveShell
        before = sorted(m for m in {heavy!r} if m in sys.modules)
        import sm_magics
        points = sm_magics._jupyter_server_extension_points()
        InteractiveShell.instance().run_line_magic("load_ext", "sm_magics")
        after = sorted(m for m in {heavy!r} if m in sys.modules)
        print(json.dumps({{"before": before, "after": after, "points": points}}))
    """
    result = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout.strip().splitlines()[-1])
    assert report["before"] == []  # IPython alone would void the check
    assert report["after"] == []
    assert report["points"] == [{"module": "sm_magics.server"}]
