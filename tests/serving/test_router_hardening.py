"""The router under hostile conditions: stuck workers, outside kills, big bodies, browsers.

Each test reproduces a defect of issue 12 with real processes (router, workers, clients):
a large request to a worker that stopped reading, workers killed from outside (the OOM
killer, a user's ``kill``), bodies over SageMaker's limits, error answers that were
tornado's HTML pages, and requests from a web page (an ``Origin``, a rebound ``Host``).
Timeouts in here only keep a broken router from hanging the suite; none is asserted.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess

import pytest
from botocore.exceptions import ClientError

from .conftest import (
    MODEL_FN,
    ROW_CLASS,
    ROW_JSON,
    Endpoints,
    address,
    invoke,
    request,
    running,
    runtime_client,
    wait_until,
)

#: Answers the size of the body it got, whatever it is (no decoding of megabytes).
SIZE = (
    MODEL_FN
    + """

def transform_fn(model, body, content_type, accept):
    return str(len(body)).encode(), "text/plain"
"""
)

#: Sleeps as long as the request asks (a JSON number of seconds), then answers.
SLEEPY = (
    MODEL_FN
    + """

import json
import time


def transform_fn(model, body, content_type, accept):
    time.sleep(float(json.loads(body)))
    return b"[0]", "application/json"
"""
)


def _size_endpoint(endpoints: Endpoints, **variant: object) -> str:
    spec = endpoints.variant(script=endpoints.script(SIZE))
    for key, value in variant.items():
        setattr(spec, key, value)
    return endpoints.deploy(spec)


def _error(caught: pytest.ExceptionInfo[ClientError]) -> tuple[int, str, str]:
    response = caught.value.response
    return (
        response["ResponseMetadata"]["HTTPStatusCode"],
        response["Error"]["Code"],
        response["Error"]["Message"],
    )


# -- defect 2: a worker that stopped reading ------------------------------------------------


def test_a_large_request_to_a_stopped_worker_times_out_and_the_worker_is_replaced(
    endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SM_MAGICS_INVOCATION_TIMEOUT", "3")
    name = _size_endpoint(endpoints)
    url = endpoints.url(name)
    [stuck] = endpoints.workers(name)
    os.kill(stuck, signal.SIGSTOP)  # alive, but it reads nothing any more
    try:
        # 5 MB: far more than a socket buffer, so the router's write to it cannot finish.
        reply = request(
            url,
            "POST",
            f"/endpoints/{name}/invocations",
            b"x" * 5_000_000,
            {"Content-Type": "application/octet-stream"},
            timeout=40,
        )
    finally:
        if running(stuck):
            os.kill(stuck, signal.SIGCONT)
    assert reply.status == 424, reply.body
    assert reply.headers["x-amzn-errortype"].startswith("ModelError")
    body = reply.json()
    assert body["OriginalStatusCode"] == 0
    assert "timed out" in body["message"] and "AllTraffic" in body["message"]
    assert "did not answer: " not in body["message"]

    # The stuck worker was replaced; the endpoint serves again.
    endpoints.wait(
        name,
        lambda d: d["EndpointStatus"] == "InService" and endpoints.workers(name) - {stuck},
        "a new worker",
    )
    assert not running(stuck)
    # (its replacement may still be loading the model: the first answers can time out)
    wait_until(lambda: invoke(url, b"abc").body == b"3", what="an answer from the new worker")


def test_a_slow_model_times_out_with_a_message_on_both_routes(
    endpoints: Endpoints, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("SM_MAGICS_INVOCATION_TIMEOUT", "2")
    name = endpoints.deploy(endpoints.variant(script=endpoints.script(SLEEPY)))
    url = endpoints.url(name)
    client = runtime_client(url)
    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName=name, Body=b"30", ContentType="application/json")
    status, code, message = _error(caught)
    assert (status, code) == (424, "ModelError")
    assert caught.value.response["OriginalStatusCode"] == 0
    assert "timed out" in message
    plain = invoke(url, b"30")
    assert plain.status == 504
    assert "timed out" in plain.json()["message"]
    endpoints.wait(name, lambda d: d["EndpointStatus"] == "InService", "InService")
    wait_until(lambda: invoke(url, b"0").status == 200, what="an answer from the new worker")


# -- defect 3: kills from outside are not a crash loop --------------------------------------


def test_workers_killed_after_serving_are_replaced_however_often(endpoints: Endpoints) -> None:
    # Three workers killed together, three times: 9 deaths in well under a minute, where
    # more than 5 used to mark the endpoint Failed. Each had served (idle workers are
    # handed out first come first served, so 6 requests in a row reach all 3).
    name = endpoints.deploy(endpoints.variant(count=3))
    url = endpoints.url(name)
    killed: set[int] = set()
    for _ in range(3):
        for _ in range(6):
            assert invoke(url).json() == [ROW_CLASS]
        workers = endpoints.workers(name)
        assert len(workers) == 3
        for worker in workers:
            os.kill(worker, signal.SIGKILL)
        killed.update(workers)
        endpoints.wait(
            name,
            lambda d: (
                d["EndpointStatus"] != "InService"
                or (
                    d["ProductionVariants"][0]["CurrentInstanceCount"] == 3
                    and len(endpoints.workers(name) - killed) == 3
                )
            ),
            "the killed workers to be replaced",
        )
        assert endpoints.describe(name)["EndpointStatus"] == "InService", endpoints.debug(name)
    assert invoke(url).json() == [ROW_CLASS]
    router_log = (endpoints.home / "endpoints" / name / "router.log").read_text()
    assert "not a crash loop" in router_log


def test_error_answers_are_json_never_html(endpoints: Endpoints) -> None:
    name = endpoints.deploy()
    url = endpoints.url(name)
    for method, path in [
        ("GET", "/invocations"),
        ("GET", f"/endpoints/{name}/invocations"),
        ("POST", "/nowhere"),
        ("DELETE", "/ping"),
        ("POST", f"/endpoints/{name}/invocations/more"),
    ]:
        reply = request(url, method, path, b"" if method == "POST" else None)
        assert reply.status in (404, 405), (method, path, reply.status)
        assert reply.headers["content-type"] == "application/json", (method, path, reply.body)
        assert "x-amzn-errortype" in reply.headers
        assert reply.json()["message"], (method, path)
        assert b"<html" not in reply.body.lower()


# -- defect 4: SageMaker's payload limits ---------------------------------------------------


def test_a_body_over_6_mib_is_refused_413_as_sagemaker_does(endpoints: Endpoints) -> None:
    name = _size_endpoint(endpoints)
    url = endpoints.url(name)
    client = runtime_client(url)

    biggest = client.invoke_endpoint(
        EndpointName=name, Body=b"1" * 6_291_456, ContentType="application/octet-stream"
    )
    assert biggest["Body"].read() == b"6291456"
    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(
            EndpointName=name, Body=b"1" * 6_291_457, ContentType="application/octet-stream"
        )
    status, code, message = _error(caught)
    assert (status, code) == (413, "ValidationError")
    assert "6,291,456" in message

    plain = invoke(url, b"1" * 6_291_457)
    assert plain.status == 413
    assert plain.json()["message"]
    # The connection and the endpoint are fine afterwards.
    assert invoke(url, b"12").body == b"2"


def test_a_serverless_endpoint_takes_at_most_4_mb(endpoints: Endpoints) -> None:
    name = _size_endpoint(endpoints, serverless_memory_mb=2048)
    client = runtime_client(endpoints.url(name))
    ok = client.invoke_endpoint(
        EndpointName=name, Body=b"1" * 4_194_304, ContentType="application/octet-stream"
    )
    assert ok["Body"].read() == b"4194304"
    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(
            EndpointName=name, Body=b"1" * 4_194_305, ContentType="application/octet-stream"
        )
    assert _error(caught)[:2] == (413, "ValidationError")


def test_an_expect_continue_over_the_limit_is_refused_before_the_body(
    endpoints: Endpoints,
) -> None:
    name = _size_endpoint(endpoints)
    connection = http.client.HTTPConnection(*address(endpoints.url(name)), timeout=30)
    try:
        connection.putrequest("POST", "/invocations")
        connection.putheader("Content-Type", "application/octet-stream")
        connection.putheader("Content-Length", str(10**9))
        connection.putheader("Expect", "100-continue")
        connection.endheaders()  # and no body: the answer must come without it
        response = connection.getresponse()
        assert response.status == 413
        assert json.loads(response.read())["message"]
    finally:
        connection.close()


# -- defect 12: no requests from web pages --------------------------------------------------


def test_requests_from_a_web_page_are_refused(endpoints: Endpoints) -> None:
    name = endpoints.deploy()
    url = endpoints.url(name)
    host, port = address(url)

    from_page = invoke(url, ROW_JSON, Origin="https://evil.example")
    assert from_page.status == 403
    assert from_page.json()["message"]
    rebound = invoke(url, ROW_JSON, Host=f"evil.example:{port}")
    assert rebound.status == 403
    other_port = invoke(url, ROW_JSON, Host=f"127.0.0.1:{port + 1}")
    assert other_port.status == 403
    null_origin = request(
        url, "POST", f"/endpoints/{name}/invocations", ROW_JSON, {"Origin": "null"}
    )
    assert null_origin.status == 403

    # What code sends keeps working: boto3, http.client (urllib alike), localhost, curl.
    client = runtime_client(url)
    answer = client.invoke_endpoint(
        EndpointName=name, Body=ROW_JSON, ContentType="application/json"
    )
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert invoke(url).json() == [ROW_CLASS]
    assert invoke(url, ROW_JSON, Host=f"localhost:{port}").json() == [ROW_CLASS]
    assert request(url, "GET", "/ping").status == 200
    curl = shutil.which("curl")
    if curl is not None:
        done = subprocess.run(
            [
                curl,
                "-s",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                "@-",
                f"http://{host}:{port}/invocations",
            ],
            input=ROW_JSON,
            capture_output=True,
            timeout=30,
            check=True,
        )
        assert json.loads(done.stdout) == [ROW_CLASS]
