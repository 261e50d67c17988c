"""Local endpoints as real processes: deploy, invoke (HTTP and boto3), variants, delete, TTL.

Each test deploys a LogisticRegression on iris behind a real router and real workers on
127.0.0.1, and talks to it the way users do: plain HTTP on the container routes, the
unchanged ``sagemaker-runtime`` boto3 client on the Runtime route, and the backend's own
methods. Every endpoint is deleted by the ``endpoints`` fixture, whatever happens.
"""

from __future__ import annotations

import json
import os
import signal
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from sm_magics.errors import InvalidRequest, ModelError, NotFound

from .conftest import (
    MODEL_FN,
    ROW,
    ROW_CLASS,
    ROW_JSON,
    Endpoints,
    invoke,
    port_closed,
    request,
    running,
    runtime_client,
    wait_until,
    worker_pids,
)

#: The iris model, with a predict_fn that refuses a negative first feature.
PICKY = (
    MODEL_FN
    + """

def predict_fn(data, model):
    if data[0][0] < 0:
        raise ValueError(f"cannot score a negative sepal length {data[0][0]}")
    return model.predict(data)
"""
)

NEGATIVE_ROW = json.dumps([[-1.0, 3.5, 1.4, 0.2]]).encode()


def ledger_status(endpoints: Endpoints, name: str) -> str | None:
    """Return the status of the endpoint's newest ledger row."""
    record = endpoints.backend.ledger.get_endpoint(name)
    return None if record is None else record.status


def log_hosts(endpoints: Endpoints, name: str) -> dict[str, list[str]]:
    """Return every log line of the endpoint, by stream host (``AllTraffic-1``, ...)."""
    hosts: dict[str, list[str]] = {}
    for event in endpoints.backend.read_endpoint_logs(name).events:
        hosts.setdefault(event.host, []).append(event.message)
    return hosts


def model_error(caught: pytest.ExceptionInfo[ClientError]) -> dict[str, Any]:
    """Return the parsed error response of a boto3 ``ModelError``."""
    response: dict[str, Any] = caught.value.response
    assert response["Error"]["Code"] == "ModelError", response
    return response


# -- deploy and the container routes --------------------------------------------------------


def test_deploy_goes_from_creating_to_in_service_and_answers_ping(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    gate = tmp_path / "gate"
    script = endpoints.script(
        MODEL_FN.replace("def model_fn(model_dir):\n", "def model_fn(model_dir):\n    _wait()\n")
        + f"""

def _wait():
    import time
    from pathlib import Path

    deadline = time.monotonic() + 120
    while not Path({str(gate)!r}).exists() and time.monotonic() < deadline:
        time.sleep(0.02)
"""
    )
    name = endpoints.deploy(endpoints.variant(script=script), wait=False)
    assert endpoints.describe(name)["EndpointStatus"] == "Creating"
    assert ledger_status(endpoints, name) == "Creating"

    # The router binds at once; until the model is loaded the health check says no.
    loading = endpoints.wait(name, lambda d: d["Url"], "the URL")
    assert loading["EndpointStatus"] == "Creating"
    url = loading["Url"]
    assert url.startswith("http://127.0.0.1:")
    assert request(url, "GET", "/ping").status == 503
    assert invoke(url).status == 400  # not InService yet

    gate.touch()
    description = endpoints.wait_status(name)
    assert description["EndpointStatus"] == "InService", endpoints.debug(name)
    assert ledger_status(endpoints, name) == "InService"
    ping = request(url, "GET", "/ping")
    assert (ping.status, ping.body) == (200, b"")
    [variant] = description["ProductionVariants"]
    assert variant["VariantName"] == "AllTraffic"
    assert variant["CurrentInstanceCount"] == variant["DesiredInstanceCount"] == 1
    assert variant["CurrentWeight"] == 1.0
    assert variant["ModelDataUrl"] == endpoints.model.as_uri()


def test_post_invocations_on_both_routes(endpoints: Endpoints) -> None:
    name = endpoints.deploy()
    url = endpoints.url(name)

    reply = invoke(url)
    assert reply.status == 200, reply.body
    assert reply.json() == [ROW_CLASS]
    assert reply.headers["content-type"] == "application/json"
    assert reply.headers["x-amzn-invoked-production-variant"] == "AllTraffic"

    runtime = request(
        url,
        "POST",
        f"/endpoints/{name}/invocations",
        ",".join(map(str, ROW)).encode(),
        {"Content-Type": "text/csv", "Accept": "text/csv"},
    )
    assert runtime.status == 200, runtime.body
    assert runtime.body.decode().split() == [str(ROW_CLASS)]
    assert runtime.headers["content-type"] == "text/csv"
    assert runtime.headers["x-amzn-invoked-production-variant"] == "AllTraffic"

    many = invoke(url, json.dumps([ROW, [6.7, 3.0, 5.2, 2.3]]).encode(), Accept="*/*")
    assert many.json() == [ROW_CLASS, 2]


def test_the_unchanged_boto3_runtime_client_invokes_the_endpoint(endpoints: Endpoints) -> None:
    name = endpoints.deploy()
    client = runtime_client(endpoints.url(name))

    response = client.invoke_endpoint(
        EndpointName=name,
        Body=ROW_JSON,
        ContentType="application/json",
        Accept="application/json",
        TargetVariant="AllTraffic",
    )
    assert json.loads(response["Body"].read()) == [ROW_CLASS]
    assert response["ContentType"] == "application/json"
    assert response["InvokedProductionVariant"] == "AllTraffic"

    csv = client.invoke_endpoint(
        EndpointName=name, Body=",".join(map(str, ROW)), ContentType="text/csv", Accept="text/csv"
    )
    assert csv["Body"].read().decode().strip() == str(ROW_CLASS)
    assert csv["ContentType"] == "text/csv"

    # The backend's own invoke goes through the same route.
    result = endpoints.backend.invoke_endpoint(name, ROW_JSON, content_type="application/json")
    assert (json.loads(result.body), result.content_type, result.variant) == (
        [ROW_CLASS],
        "application/json",
        "AllTraffic",
    )


def test_a_handler_that_raises_is_a_model_error_and_the_endpoint_keeps_serving(
    endpoints: Endpoints,
) -> None:
    name = endpoints.deploy(endpoints.variant(script=endpoints.script(PICKY)))
    url = endpoints.url(name)
    client = runtime_client(url)

    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(EndpointName=name, Body=NEGATIVE_ROW, ContentType="application/json")
    response = model_error(caught)
    assert response["OriginalStatusCode"] == 500
    assert "cannot score a negative sepal length -1.0" in response["Error"]["Message"]
    assert "cannot score a negative sepal length -1.0" in response["OriginalMessage"]
    assert name in response["LogStreamArn"]

    ok = client.invoke_endpoint(EndpointName=name, Body=ROW_JSON, ContentType="application/json")
    assert json.loads(ok["Body"].read()) == [ROW_CLASS]

    # The container route answers the plain status; the backend raises ModelError.
    plain = invoke(url, NEGATIVE_ROW)
    assert plain.status == 500
    assert b"ValueError: cannot score a negative sepal length -1.0" in plain.body
    with pytest.raises(ModelError, match="negative sepal length") as raised:
        endpoints.backend.invoke_endpoint(name, NEGATIVE_ROW, content_type="application/json")
    assert raised.value.status == 500
    assert raised.value.variant == "AllTraffic"
    assert invoke(url).json() == [ROW_CLASS]

    # The error reached the worker's log stream, and the statistics count it.
    wait_until(
        lambda: any("negative sepal" in m for m in log_hosts(endpoints, name)["AllTraffic-1"]),
        what="the error in the worker's log",
    )
    endpoints.wait(
        name,
        lambda d: (
            d["ProductionVariants"][0]["Errors"] == 3
            and d["ProductionVariants"][0]["Invocations"] == 5
        ),
        "the statistics",
    )


@pytest.mark.parametrize(
    ("body", "content_type", "accept", "status"),
    [
        (b"[[5.1, 3.5", "application/json", "application/json", 400),
        (b"1,2,3\n4,5\n", "text/csv", "application/json", 400),
        (b"not npy", "application/x-npy", "application/json", 400),
        (b"<row/>", "application/xml", "application/json", 415),
        (ROW_JSON, "application/json", "text/html", 406),
    ],
    ids=["json", "csv", "npy", "unsupported-type", "not-acceptable"],
)
def test_a_request_the_defaults_cannot_read_is_a_client_model_error(
    endpoints: Endpoints, body: bytes, content_type: str, accept: str, status: int
) -> None:
    name = endpoints.deploy()
    url = endpoints.url(name)
    client = runtime_client(url)

    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(
            EndpointName=name, Body=body, ContentType=content_type, Accept=accept
        )
    response = model_error(caught)
    assert response["OriginalStatusCode"] == status
    assert f"client error ({status})" in response["Error"]["Message"]

    plain = request(
        url, "POST", "/invocations", body, {"Content-Type": content_type, "Accept": accept}
    )
    assert plain.status == status

    # The server lives on: the same worker answers the next request.
    workers = endpoints.workers(name)
    assert invoke(url).json() == [ROW_CLASS]
    assert endpoints.workers(name) == workers
    assert request(url, "GET", "/ping").status == 200


def test_unknown_endpoint_name_or_variant_is_a_validation_error(endpoints: Endpoints) -> None:
    name = endpoints.deploy()
    url = endpoints.url(name)
    client = runtime_client(url)

    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(
            EndpointName="no-such-endpoint", Body=ROW_JSON, ContentType="application/json"
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "no-such-endpoint" in caught.value.response["Error"]["Message"]

    with pytest.raises(ClientError) as caught:
        client.invoke_endpoint(
            EndpointName=name, Body=ROW_JSON, ContentType="application/json", TargetVariant="B"
        )
    assert caught.value.response["Error"]["Code"] == "ValidationError"
    assert "'B' not found" in caught.value.response["Error"]["Message"]

    assert invoke(url, X_Amzn_SageMaker_Target_Variant="B").status == 400
    with pytest.raises(InvalidRequest, match="'B' not found"):
        endpoints.backend.invoke_endpoint(
            name, ROW_JSON, content_type="application/json", target_variant="B"
        )
    with pytest.raises(NotFound):
        endpoints.backend.invoke_endpoint("no-such-endpoint", ROW_JSON, content_type="x")


def test_model_fn_that_raises_fails_the_endpoint_and_leaves_nothing_running(
    endpoints: Endpoints,
) -> None:
    script = endpoints.script(
        "def model_fn(model_dir):\n    raise RuntimeError('weights are corrupt: 0xdead')\n"
    )
    name = endpoints.deploy(endpoints.variant(script=script, count=2), wait=False)
    router = endpoints.router_pid(name)
    description = endpoints.wait_status(name)
    assert description["EndpointStatus"] == "Failed"
    assert "RuntimeError: weights are corrupt: 0xdead" in description["FailureReason"]
    assert ledger_status(endpoints, name) == "Failed"
    record = endpoints.backend.ledger.get_endpoint(name)
    assert "weights are corrupt" in (record.failure_reason or "")

    wait_until(lambda: not running(router), what="the router to exit")
    assert worker_pids(router) == set()
    assert port_closed(description["Url"])
    with pytest.raises(InvalidRequest, match=r"Failed.*weights are corrupt"):
        endpoints.backend.invoke_endpoint(name, ROW_JSON, content_type="application/json")
    # The worker's own log says why, as a container's CloudWatch stream would.
    assert any("weights are corrupt" in m for ms in log_hosts(endpoints, name).values() for m in ms)


def test_a_missing_model_fn_fails_the_endpoint_with_a_reason(endpoints: Endpoints) -> None:
    script = endpoints.script("print('a training script, no handlers')\n")
    name = endpoints.deploy(endpoints.variant(script=script), wait=False)
    description = endpoints.wait_status(name)
    assert description["EndpointStatus"] == "Failed"
    assert "No model_fn found" in description["FailureReason"]


def test_instance_count_starts_that_many_workers_each_with_a_log_stream(
    endpoints: Endpoints,
) -> None:
    name = endpoints.deploy(endpoints.variant(count=3))
    [variant] = endpoints.describe(name)["ProductionVariants"]
    assert variant["CurrentInstanceCount"] == variant["DesiredInstanceCount"] == 3
    assert len(endpoints.workers(name)) == 3

    hosts = wait_until(
        lambda: (h := log_hosts(endpoints, name)) and len(h) == 3 and h,
        what="three log streams",
    )
    assert set(hosts) == {"AllTraffic-1", "AllTraffic-2", "AllTraffic-3"}
    for lines in hosts.values():
        assert any(line.startswith("Model loaded from") for line in lines)
    url = endpoints.url(name)
    assert all(invoke(url).json() == [ROW_CLASS] for _ in range(12))


# -- variants -------------------------------------------------------------------------------


def test_two_variants_share_traffic_by_weight_and_target_variant_wins(
    endpoints: Endpoints,
) -> None:
    name = endpoints.deploy(endpoints.variant("A", weight=0.8), endpoints.variant("B", weight=0.2))
    url = endpoints.url(name)
    total = 400
    seen = {"A": 0, "B": 0}
    for _ in range(total):
        reply = invoke(url)
        assert reply.status == 200
        seen[reply.headers["x-amzn-invoked-production-variant"]] += 1
    # Binomial(400, 0.2): mean 80, standard deviation 8; six deviations either way.
    assert 32 <= seen["B"] <= 128, seen
    assert seen["A"] + seen["B"] == total

    for target in ("A", "B"):
        for _ in range(25):
            reply = invoke(url, X_Amzn_SageMaker_Target_Variant=target)
            assert reply.headers["x-amzn-invoked-production-variant"] == target
    client = runtime_client(url)
    for _ in range(10):
        answered = client.invoke_endpoint(
            EndpointName=name, Body=ROW_JSON, ContentType="application/json", TargetVariant="B"
        )
        assert answered["InvokedProductionVariant"] == "B"

    description = endpoints.wait(
        name,
        lambda d: sum(v["Invocations"] for v in d["ProductionVariants"]) == total + 60,
        "the invocation counts",
    )
    counts = {v["VariantName"]: v["Invocations"] for v in description["ProductionVariants"]}
    assert counts == {"A": seen["A"] + 25, "B": seen["B"] + 35}
    weights = {v["VariantName"]: v["CurrentWeight"] for v in description["ProductionVariants"]}
    assert weights == {"A": 0.8, "B": 0.2}


def test_update_adds_a_variant_then_sets_weights_then_removes_one(endpoints: Endpoints) -> None:
    script = endpoints.script()
    name = endpoints.deploy(endpoints.variant("A", script=script))
    url = endpoints.url(name)
    workers_a = endpoints.workers(name)

    # The list is the whole desired configuration: A stays, B is added.
    endpoints.backend.update_endpoint(
        name,
        [endpoints.variant("A", script=script), endpoints.variant("B", script=script, count=2)],
    )
    description = endpoints.wait_updated(name)
    assert {
        v["VariantName"]: v["CurrentInstanceCount"] for v in description["ProductionVariants"]
    } == {
        "A": 1,
        "B": 2,
    }
    assert workers_a < endpoints.workers(name)  # A's worker was not restarted
    assert invoke(url, X_Amzn_SageMaker_Target_Variant="B").status == 200

    # Weights only: no worker restarts, all traffic to B.
    endpoints.backend.update_endpoint(
        name,
        [
            endpoints.variant("A", script=script, weight=0.0),
            endpoints.variant("B", script=script, count=2, weight=1.0),
        ],
    )
    workers = endpoints.workers(name)
    description = endpoints.wait_updated(name)
    assert {v["VariantName"]: v["CurrentWeight"] for v in description["ProductionVariants"]} == {
        "A": 0.0,
        "B": 1.0,
    }
    answered = {invoke(url).headers["x-amzn-invoked-production-variant"] for _ in range(40)}
    assert answered == {"B"}
    assert invoke(url, X_Amzn_SageMaker_Target_Variant="A").status == 200  # A still serves
    assert endpoints.workers(name) == workers

    # A leaves the list: it is drained and stopped.
    endpoints.backend.update_endpoint(name, [endpoints.variant("B", script=script, count=2)])
    description = endpoints.wait_updated(name)
    assert [v["VariantName"] for v in description["ProductionVariants"]] == ["B"]
    wait_until(lambda: endpoints.workers(name) == workers - workers_a, what="A's worker to stop")
    assert invoke(url, X_Amzn_SageMaker_Target_Variant="A").status == 400
    assert invoke(url).headers["x-amzn-invoked-production-variant"] == "B"
    assert "LastUpdateError" not in description


def test_update_to_a_new_model_serves_the_new_model(endpoints: Endpoints, tmp_path: Path) -> None:
    import joblib
    from sklearn.datasets import load_iris
    from sklearn.dummy import DummyClassifier

    from sm_magics.packaging import write_tar_gz

    script = endpoints.script()
    name = endpoints.deploy(endpoints.variant(script=script))
    url = endpoints.url(name)
    assert invoke(url).json() == [ROW_CLASS]

    # Another model under the same variant name: one that always answers class 7.
    features, labels = load_iris(return_X_y=True)
    (tmp_path / "constant").mkdir()
    constant = DummyClassifier(strategy="most_frequent").fit(features, [7] * len(labels))
    joblib.dump(constant, tmp_path / "constant" / "model.joblib")
    archive = tmp_path / "constant.tar.gz"
    write_tar_gz(tmp_path / "constant", archive)
    old_workers = endpoints.workers(name)
    endpoints.backend.update_endpoint(name, [endpoints.variant(script=script, model=archive)])
    endpoints.wait(
        name,
        lambda d: (
            d["EndpointStatus"] == "InService"
            and d["ProductionVariants"][0]["CurrentInstanceCount"] == 1
            and not (endpoints.workers(name) & old_workers)
        ),
        "the new model's worker to replace the old one",
    )
    assert invoke(url).json() == [7]
    assert endpoints.describe(name)["ProductionVariants"][0]["ModelDataUrl"] == archive.as_uri()


@pytest.mark.parametrize("failure", ["model_fn", "corrupt-archive"])
def test_a_failing_new_variant_leaves_the_old_config_serving(
    endpoints: Endpoints, tmp_path: Path, failure: str
) -> None:
    script = endpoints.script()
    name = endpoints.deploy(endpoints.variant("A", script=script))
    url = endpoints.url(name)
    workers = endpoints.workers(name)

    if failure == "model_fn":
        bad = endpoints.variant(
            "Bad",
            script=endpoints.script(
                "def model_fn(model_dir):\n    raise MemoryError('bad variant cannot load')\n"
            ),
        )
        expected = "MemoryError: bad variant cannot load"
    else:
        archive = tmp_path / "broken.tar.gz"
        archive.write_bytes(b"this is not a gzip file")
        bad = endpoints.variant("Bad", script=script, model=archive)
        expected = "broken.tar.gz"
    endpoints.backend.update_endpoint(
        name, [endpoints.variant("A", script=script, weight=0.5), bad]
    )
    description = endpoints.wait(
        name,
        lambda d: d["EndpointStatus"] == "InService" and d.get("LastUpdateError"),
        "the update to fail",
    )
    assert expected in description["LastUpdateError"]
    # The old configuration, untouched: A alone, full weight, same worker.
    [variant] = description["ProductionVariants"]
    assert variant["VariantName"] == "A"
    assert variant["CurrentWeight"] == variant["DesiredWeight"] == 1.0
    assert variant["CurrentInstanceCount"] == 1
    assert endpoints.workers(name) == workers
    answered = {invoke(url).headers["x-amzn-invoked-production-variant"] for _ in range(20)}
    assert answered == {"A"}
    assert invoke(url, X_Amzn_SageMaker_Target_Variant="Bad").status == 400

    # A later, good update still goes through and clears the error. Until the router has
    # applied it, describe says Updating (the router is stopped to make "until" certain).
    router = endpoints.router_pid(name)
    os.kill(router, signal.SIGSTOP)
    try:
        endpoints.backend.update_endpoint(
            name,
            [endpoints.variant("A", script=script), endpoints.variant("C", script=script)],
        )
        assert endpoints.describe(name)["EndpointStatus"] == "Updating"
    finally:
        os.kill(router, signal.SIGCONT)
    description = endpoints.wait_updated(name)
    assert "LastUpdateError" not in description
    assert {v["VariantName"] for v in description["ProductionVariants"]} == {"A", "C"}


def test_update_of_an_endpoint_that_is_not_in_service_is_refused(endpoints: Endpoints) -> None:
    script = endpoints.script("def model_fn(model_dir):\n    raise RuntimeError('nope')\n")
    name = endpoints.deploy(endpoints.variant(script=script), wait=False)
    assert endpoints.wait_status(name)["EndpointStatus"] == "Failed"
    with pytest.raises(InvalidRequest, match="Failed"):
        endpoints.backend.update_endpoint(name, [endpoints.variant()])


# -- delete and TTL -------------------------------------------------------------------------


def test_delete_stops_everything_keeps_the_logs_and_frees_the_name(
    endpoints: Endpoints,
) -> None:
    name = endpoints.deploy(endpoints.variant(count=2))
    url = endpoints.url(name)
    router = endpoints.router_pid(name)
    workers = endpoints.workers(name)
    assert len(workers) == 2
    assert invoke(url).status == 200

    endpoints.backend.delete_endpoint(name)

    assert port_closed(url)
    assert not running(router)
    assert not any(running(pid) for pid in workers)
    assert ledger_status(endpoints, name) == "Deleted"
    record = endpoints.backend.ledger.get_endpoint(name)
    assert record is not None and record.deleted_at is not None
    with pytest.raises(NotFound):
        endpoints.describe(name)
    with pytest.raises(NotFound):
        endpoints.backend.delete_endpoint(name)
    hosts = log_hosts(endpoints, name)
    assert set(hosts) == {"AllTraffic-1", "AllTraffic-2"}
    assert any("Model loaded from" in line for line in hosts["AllTraffic-1"])

    # The name is free again, as on SageMaker.
    assert endpoints.deploy(name=name) == name
    assert invoke(endpoints.url(name)).json() == [ROW_CLASS]
    assert ledger_status(endpoints, name) == "InService"
    assert endpoints.router_pid(name) != router


def test_an_endpoint_with_a_ttl_deletes_itself(endpoints: Endpoints) -> None:
    name = endpoints.deploy(ttl=2)
    description = endpoints.describe(name)
    assert description["TtlAt"] is not None
    url = description["Url"]
    router = endpoints.router_pid(name)
    workers = endpoints.workers(name)

    wait_until(lambda: ledger_status(endpoints, name) == "Deleted", what="the TTL to expire")
    wait_until(lambda: not running(router), what="the router to exit")
    assert not any(running(pid) for pid in workers)
    assert port_closed(url)
    record = endpoints.backend.ledger.get_endpoint(name)
    assert record is not None and record.deleted_at is not None
    assert "AllTraffic-1" in log_hosts(endpoints, name)

    # The name is free again without anyone calling delete.
    assert endpoints.deploy(name=name) == name
    assert invoke(endpoints.url(name)).json() == [ROW_CLASS]


def test_a_model_with_no_files_deploys(endpoints: Endpoints, tmp_path: Path) -> None:
    # A model_fn that builds (or downloads) its model writes nothing to SM_MODEL_DIR: the
    # job packs an empty model.tar.gz, which must serve all the same.
    from sm_magics.packaging import write_tar_gz

    empty = tmp_path / "empty"
    empty.mkdir()
    archive = tmp_path / "model.tar.gz"
    write_tar_gz(empty, archive)
    script = endpoints.script(
        "def model_fn(model_dir):\n    return 'built'\n\n\n"
        "def predict_fn(data, model):\n    return {'model': model}\n"
    )
    name = endpoints.deploy(endpoints.variant(script=script, model=archive))
    reply = invoke(endpoints.describe(name)["Url"], b"[[1]]")
    assert (reply.status, reply.json()) == (200, {"model": "built"}), reply.body
