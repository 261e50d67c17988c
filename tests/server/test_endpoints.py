"""``/endpoints`` routes against a real local endpoint (router + worker processes)."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from serving.conftest import MODEL_FN, ROW, ROW_CLASS, Endpoints

from .conftest import Call

#: The iris model, with a predict_fn that refuses a negative first feature (a ModelError).
PICKY = (
    MODEL_FN
    + """

def predict_fn(data, model):
    if data[0][0] < 0:
        raise ValueError("cannot score a negative sepal length")
    return model.predict(data)
"""
)


async def _until(api: Call, name: str, predicate: Any) -> dict[str, Any]:
    """Poll ``GET /endpoints/<name>`` until ``predicate(body)``; return that body."""
    for _ in range(600):  # a guard against a hang, not a timing
        reply = await api("GET", "endpoints", name)
        if predicate(reply.body):
            return dict(reply.body)
        await asyncio.sleep(0.1)
    raise AssertionError(f"endpoint {name} never satisfied the predicate: {reply.body}")


async def test_endpoint_lifecycle(api: Call, endpoints: Endpoints) -> None:
    name = endpoints.deploy(endpoints.variant(script=endpoints.script(PICKY)))

    listed = await api("GET", "endpoints")
    assert listed.status == 200
    [row] = listed.body["endpoints"]
    assert row["name"] == name
    assert row["status"] == "InService"
    assert row["backend"] == "local"
    assert row["url"].startswith("http://127.0.0.1:")
    assert row["variants"] == [
        {
            "name": "AllTraffic",
            "instance_type": "ml.m5.large",
            "instance_count": 1,
            "weight": 1.0,
            "serverless_memory_mb": None,
        }
    ]
    assert row["billing"] is True
    assert row["cost_per_hour"] > 0
    assert row["last_invoked_at"] is None  # never called yet
    assert row["snippet"].startswith(f"%sm_invoke {name} '")
    payload = row["snippet"].split(" ", 2)[2].strip("'")
    assert isinstance(json.loads(payload), list)

    one = await api("GET", "endpoints", name)
    assert one.status == 200
    assert one.body["name"] == name and one.body["status"] == "InService"

    answer = await api("POST", "endpoints", name, "invoke", body={"body": json.dumps([ROW])})
    assert answer.status == 200, answer.body
    assert json.loads(answer.body["body"]) == [ROW_CLASS]
    assert answer.body["variant"] == "AllTraffic"
    assert answer.body["content_type"].startswith("application/json")
    assert answer.body["body_encoding"] == "utf-8"

    # The router records the last invocation with its statistics, about once a second.
    invoked = await _until(api, name, lambda body: body["last_invoked_at"] is not None)
    assert invoked["last_invoked_at"] >= invoked["created_at"]

    failed = await api(
        "POST", "endpoints", name, "invoke", body={"body": json.dumps([[-1.0, 3.5, 1.4, 0.2]])}
    )
    assert failed.status == 424
    assert failed.body["code"] == "ModelError"
    assert "negative sepal length" in failed.body["message"]

    wrong_variant = await api(
        "POST", "endpoints", name, "invoke", body={"body": "[[1, 2, 3, 4]]", "variant": "nope"}
    )
    assert wrong_variant.status == 400
    assert wrong_variant.body["code"] == "InvalidRequest"

    for malformed in (
        b"not json",
        b"[1, 2]",
        b"{}",
        json.dumps({"body": [[1, 2]]}).encode(),
        json.dumps({"body": "[]", "content_type": 3}).encode(),
        json.dumps({"body": "[]", "extra": 1}).encode(),
    ):
        reply = await api("POST", "endpoints", name, "invoke", body=malformed)
        assert reply.status == 400, malformed
        assert reply.body["code"] == "InvalidRequest"

    deleted = await api("DELETE", "endpoints", name)
    assert deleted.status == 200
    assert deleted.body["status"] == "Deleted"
    assert deleted.body["deleted_at"] is not None
    assert deleted.body["billing"] is False

    assert (await api("GET", "endpoints")).body["endpoints"] == []
    history = await api("GET", "endpoints", params={"deleted": "1"})
    assert [(e["name"], e["status"]) for e in history.body["endpoints"]] == [(name, "Deleted")]
    gone = await api("GET", "endpoints", name)
    assert gone.status == 200 and gone.body["status"] == "Deleted"  # history stays readable

    after = await api("POST", "endpoints", name, "invoke", body={"body": "[[1, 2, 3, 4]]"})
    assert after.status == 404
    assert after.body["code"] == "NotFound"
    again = await api("DELETE", "endpoints", name)
    assert again.status == 404


async def test_unknown_endpoint_is_404(api: Call) -> None:
    for method, route in (("GET", ()), ("DELETE", ()), ("POST", ("invoke",))):
        body = {"body": "[]"} if method == "POST" else None
        reply = await api(method, "endpoints", "no-such-endpoint", *route, body=body)
        assert reply.status == 404, (method, route)
        assert reply.body["code"] == "NotFound"


async def test_bad_endpoint_filters_are_400(api: Call) -> None:
    for params in ({"backend": "nowhere"}, {"deleted": "perhaps"}):
        reply = await api("GET", "endpoints", params=params)
        assert reply.status == 400
        assert reply.body["code"] == "InvalidRequest"
