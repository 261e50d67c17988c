"""The live endpoint widget: status, URL, variants table, Invoke and Delete buttons.

No kernel is needed: widgets open dummy comms. The endpoints serve a tiny ``model.tar.gz``
built once for the module; each test has its own ``SM_MAGICS_HOME`` (conftest) and deletes
what it deployed. Waits have generous timeouts that only keep a broken endpoint from
hanging the suite; nothing asserts how long anything took.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import helpers
import pytest

from sm_magics.api import STATUS_COLOURS, Session
from sm_magics.endpoint import Endpoint
from sm_magics.widgets import EndpointWidget

WAIT = 120.0  # only against hangs

MODEL_FN = helpers.MODEL_FN


@pytest.fixture
def session(sm_home: Path) -> Iterator[Session]:
    """A session on the test's home; every endpoint it still has is deleted at the end."""
    yield from helpers.session_deleting_endpoints()


@pytest.fixture
def widgets() -> Iterator[list[EndpointWidget]]:
    """Widgets made by a test; closed (their pollers stopped) at the end."""
    made: list[EndpointWidget] = []
    yield made
    for widget in made:
        widget.close()
        if widget.poller is not None:
            widget.poller.join(30)


@pytest.fixture
def deploy(session: Session, model_uri: str, tmp_path: Path) -> Callable[..., Endpoint]:
    """Deploy the model (``wait``: until InService) and return the Endpoint."""

    def make(wait: bool = True, script: str = MODEL_FN, **options: object) -> Endpoint:
        folder = tmp_path / f"code-{uuid.uuid4().hex[:8]}"
        folder.mkdir()
        (folder / "serve.py").write_text(script)
        endpoint = session.deploy(
            model_uri,
            endpoint=f"ep-{uuid.uuid4().hex[:10]}",
            entry_point=folder / "serve.py",
            **options,  # type: ignore[arg-type]
        )
        if wait:
            endpoint.wait(WAIT, poll=0.05)
        return endpoint

    return make


def text_of(markup: str) -> str:
    """Return the visible text of an HTML fragment."""
    return html.unescape(re.sub(r"<[^>]+>", " ", markup))


def table_rows(markup: str) -> list[list[str]]:
    """Return the cells of each row of the variants table (header row excluded)."""
    rows = re.findall(r"<tr>(.*?)</tr>", markup, re.S)
    return [
        [html.unescape(c) for c in re.findall(r"<td[^>]*>(.*?)</td>", row, re.S)]
        for row in rows
        if "<td" in row
    ]


def make_widget(endpoint: Endpoint, widgets: list[EndpointWidget]) -> EndpointWidget:
    widget = EndpointWidget(endpoint, follow=False)
    widgets.append(widget)
    return widget


# -- rendering ---------------------------------------------------------------------------------


def test_refresh_renders_status_url_and_variants(
    deploy: Callable[..., Endpoint], widgets: list[EndpointWidget]
) -> None:
    endpoint = deploy(instance_count=2, instance_type="ml.c5.xlarge")
    widget = make_widget(endpoint, widgets)
    assert widget.poller is None
    assert widget.refresh() is True
    header = widget.header.value
    assert endpoint.name in header
    assert f"<code>{endpoint.url}</code>" in header
    assert STATUS_COLOURS["InService"] in header
    assert "InService" in text_of(header)
    assert "/hour on SageMaker" in text_of(header)
    rows = table_rows(widget.variants_view.value)
    assert len(rows) == 1
    name, weight, instances, instance_type, invocations, errors, *_ = rows[0]
    assert (name, weight, instances) == ("AllTraffic", "1", "2/2")
    assert instance_type == "ml.c5.xlarge (sklearn defaults)"  # the serving container named
    assert (invocations, errors) == ("0", "0")
    assert widget.invoke_button.disabled is False
    assert widget.delete_button.disabled is False
    assert repr(widget) == f"<EndpointWidget {endpoint.name}>"


def test_refresh_shows_invocations_and_two_variants(
    session: Session,
    deploy: Callable[..., Endpoint],
    widgets: list[EndpointWidget],
    model_uri: str,
    tmp_path: Path,
) -> None:
    endpoint = deploy()
    (tmp_path / "serve_b.py").write_text(MODEL_FN)
    session.deploy(
        model_uri, endpoint=endpoint.name, variants={"b": 0.25}, entry_point=tmp_path / "serve_b.py"
    )

    def applied() -> bool:
        variants = endpoint.variants
        return endpoint.status == "InService" and all(
            v["CurrentWeight"] == v["DesiredWeight"]
            and v["CurrentInstanceCount"] == v["DesiredInstanceCount"]
            for v in variants
        )

    helpers.wait_until(applied, WAIT, what="variant b to be added")
    for _ in range(3):
        assert endpoint.invoke([[0, 0]], variant="b") == [0]
    helpers.wait_until(
        lambda: any(v["Invocations"] >= 3 for v in endpoint.variants),
        WAIT,
        what="the invocations to be counted",
    )
    widget = make_widget(endpoint, widgets)
    rows = {row[0]: row for row in table_rows(widget.variants_view.value)}
    assert set(rows) == {"AllTraffic", "b"}
    assert rows["AllTraffic"][1:3] == ["1", "1/1"]
    assert rows["b"][1:3] == ["0.25", "1/1"]
    assert rows["b"][4] == "3"
    assert rows["b"][6].endswith(" ms")


def test_failed_endpoint_shows_its_reason_and_stops_following(
    deploy: Callable[..., Endpoint], widgets: list[EndpointWidget]
) -> None:
    endpoint = deploy(
        wait=False, script="def model_fn(model_dir):\n    raise ValueError('no weights here')\n"
    )
    helpers.wait_until(lambda: endpoint.status == "Failed", WAIT, what="the endpoint to fail")
    widget = make_widget(endpoint, widgets)
    assert widget.refresh() is False
    assert STATUS_COLOURS["Failed"] in widget.header.value
    assert "no weights here" in text_of(widget.header.value)
    assert widget.invoke_button.disabled is True
    assert widget.delete_button.disabled is False


def test_failed_update_shows_its_error(
    session: Session,
    deploy: Callable[..., Endpoint],
    widgets: list[EndpointWidget],
    model_uri: str,
) -> None:
    endpoint = deploy()
    # No handlers for the new variant: its start fails and the endpoint keeps serving.
    session.deploy(model_uri, endpoint=endpoint.name, variants={"b": 0.5})
    helpers.wait_until(
        lambda: "LastUpdateError" in endpoint.describe(), WAIT, what="the update to fail"
    )
    widget = make_widget(endpoint, widgets)
    assert widget.refresh() is True
    assert "InService" in text_of(widget.header.value)
    assert "model_fn" in text_of(widget.header.value)
    assert STATUS_COLOURS["Failed"] in widget.header.value
    assert [row[0] for row in table_rows(widget.variants_view.value)] == ["AllTraffic"]
    assert widget.invoke_button.disabled is False


# -- Invoke ------------------------------------------------------------------------------------


def test_invoke_button_shows_the_prediction(
    deploy: Callable[..., Endpoint], widgets: list[EndpointWidget]
) -> None:
    widget = make_widget(deploy(), widgets)
    widget.payload.value = "[[0, 0], [3, 3]]"
    widget.invoke_button.click()
    assert text_of(widget.result.value).strip() == "[0, 1]"
    assert "<code>" in widget.result.value

    widget.payload.value = "3,3"  # CSV works too
    widget.invoke_button.click()
    assert text_of(widget.result.value).strip() == "[1]"


def test_invoke_button_error_is_a_red_message(
    deploy: Callable[..., Endpoint], widgets: list[EndpointWidget]
) -> None:
    widget = make_widget(deploy(), widgets)
    widget.payload.value = "[[1, 2, 3]]"
    widget.invoke_button.click()  # must not raise
    assert "color:red" in widget.result.value
    assert "3 features" in text_of(widget.result.value)

    widget.payload.value = "   "
    widget.invoke_button.click()
    assert "type a payload first" in widget.result.value


# -- Delete ------------------------------------------------------------------------------------


def test_delete_needs_two_clicks(
    session: Session, deploy: Callable[..., Endpoint], widgets: list[EndpointWidget]
) -> None:
    endpoint = deploy()
    widget = make_widget(endpoint, widgets)
    widget.delete_button.click()
    assert widget.delete_button.description == "Really delete?"
    assert endpoint.status == "InService"
    assert endpoint.invoke([[3, 3]]) == [1]

    widget.delete_button.click()
    assert widget.delete_button.description == "Delete"
    record = session.ledger.get_endpoint(endpoint.name)
    assert record is not None and record.status == "Deleted"
    assert [r.name for r in session.endpoints()] == []
    assert "Deleted" in text_of(widget.header.value)
    assert STATUS_COLOURS["Deleted"] in widget.header.value
    assert widget.delete_button.layout.display == "none"
    assert widget.invoke_button.disabled is True
    assert widget.refresh() is False  # nothing left to follow
    assert "Deleted" in text_of(widget.header.value)


def test_poller_ends_when_the_endpoint_is_deleted_elsewhere(
    deploy: Callable[..., Endpoint], widgets: list[EndpointWidget]
) -> None:
    endpoint = deploy()
    widget = EndpointWidget(endpoint)
    widgets.append(widget)
    assert widget.poller is not None and widget.poller.is_alive()
    endpoint.delete()
    widget.poller.join(WAIT)
    assert not widget.poller.is_alive()
    assert "Deleted" in text_of(widget.header.value)


def test_widget_of_an_endpoint_whose_ttl_passed(
    session: Session, deploy: Callable[..., Endpoint], widgets: list[EndpointWidget]
) -> None:
    endpoint = deploy(ttl="1s")
    widget = make_widget(endpoint, widgets)
    assert "deletes itself in" in widget.header.value

    def deleted() -> bool:
        record = session.ledger.get_endpoint(endpoint.name)
        return record is not None and record.status == "Deleted"

    helpers.wait_until(deleted, WAIT, what="the endpoint to delete itself")
    assert widget.refresh() is False
    assert "Deleted" in text_of(widget.header.value)
    assert widget.invoke_button.disabled is True


# -- display -----------------------------------------------------------------------------------


def test_repr_mimebundle_outside_a_kernel_is_text_and_a_snapshot(
    deploy: Callable[..., Endpoint],
) -> None:
    endpoint = deploy()
    bundle = endpoint._repr_mimebundle_()
    assert set(bundle) == {"text/plain", "text/html"}
    assert "InService" in bundle["text/html"]
    assert f"%sm_watch {endpoint.name}" in bundle["text/html"]
    assert bundle["text/plain"] == f"<Endpoint {endpoint.name} (local) InService>"
