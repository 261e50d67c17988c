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


#: Waits (up to 50 s) for a gate file named by the request before answering.
GATED = (
    MODEL_FN
    + """

import json
import os
import time


def transform_fn(model, body, content_type, accept):
    gate = json.loads(body)
    deadline = time.monotonic() + 50
    while gate and not os.path.exists(gate) and time.monotonic() < deadline:
        time.sleep(0.05)
    if gate == "sleep":
        time.sleep(30)
    return b"[0]", "application/json"
"""
)


async def test_slow_invocations_never_block_the_rest_of_the_panel(
    api: Call, endpoints: Endpoints, tmp_path: Any
) -> None:
    name = endpoints.deploy(endpoints.variant(script=endpoints.script(GATED), count=2))
    gate = tmp_path / "gate"
    body = {"body": json.dumps(str(gate))}
    slow = [
        asyncio.ensure_future(
            api("POST", "endpoints", name, "invoke", body=body, request_timeout=90)
        )
        # More than the 8 threads the panel's routes have (and 9 + 1 fits the test client's
        # 10 connections: a 10th slow one would queue our GETs in the client itself).
        for _ in range(9)
    ]
    try:
        await asyncio.sleep(1)  # let them reach the endpoint (not a timing: see below)
        assert not any(task.done() for task in slow)
        # While every invocation hangs, the rest of the API answers at once. (Before, the
        # invocations held all 8 threads and these waited until the gate opened.)
        for route, params in (
            (("jobs",), None),
            (("cost",), None),
            (("endpoints",), None),
            (("changes",), {"timeout": "0"}),
        ):
            reply = await api("GET", *route, params=params, request_timeout=20)
            assert reply.status == 200, (route, reply.body)
        assert not any(task.done() for task in slow)
    finally:
        gate.touch()
    answers = await asyncio.gather(*slow)
    assert [a.status for a in answers] == [200] * 9, [a.body for a in answers]


async def test_an_invocation_timeout_is_504_and_a_large_body_413(
    api: Call, endpoints: Endpoints, monkeypatch: Any
) -> None:
    monkeypatch.setenv("SM_MAGICS_INVOCATION_TIMEOUT", "2")
    name = endpoints.deploy(endpoints.variant(script=endpoints.script(GATED)))

    timed_out = await api("POST", "endpoints", name, "invoke", body={"body": '"sleep"'})
    assert timed_out.status == 504, timed_out.body
    assert timed_out.body["code"] == "InvocationTimeout"
    assert "timed out" in timed_out.body["message"]

    too_large = await api(
        "POST", "endpoints", name, "invoke", body={"body": "1" * 6_291_457}, request_timeout=120
    )
    assert too_large.status == 413, too_large.body
    assert too_large.body["code"] == "PayloadTooLarge"
    assert "6,291,456" in too_large.body["message"]


async def test_hostile_invoke_bodies_are_400(api: Call, endpoints: Endpoints) -> None:
    name = endpoints.deploy()
    for hostile in (
        b'{"body": "\\ud800"}',  # a lone surrogate, escaped as JSON allows
        b'{"body": "[]", "content_type": "text/csv\\r\\nX-Evil: 1"}',
        b'{"body": "[]", "accept": "\\u00e9t\\u00e9"}',
        b"[" * 100_000 + b"]" * 100_000,  # nesting beyond the JSON parser's recursion
        b'{"body": ' + b"[" * 100_000 + b"]" * 100_000 + b"}",
    ):
        reply = await api("POST", "endpoints", name, "invoke", body=hostile)
        assert reply.status == 400, (hostile[:60], reply.status, reply.body)
        assert reply.body["code"] == "InvalidRequest"
