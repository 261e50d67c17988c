"""Whole serving flows against moto (``ThreadedMotoServer`` on 127.0.0.1).

Where moto stops, each test says so and a scripted fake takes over that one step:

* endpoints are ``InService`` the moment they are created (no ``Creating``);
* ``UpdateEndpoint`` is not implemented (HTTP 500): :class:`ScriptedUpdates` stands in,
  answering one ``Updating`` describe and then finishing the update as SageMaker does
  (the endpoint now runs the new config), through moto's own ``CreateEndpoint``;
* ``InvokeEndpoint`` answers from a queue set through moto's API, keyed by request body
  (a body seen before gets the earlier answer), and accepts any endpoint name;
* transform jobs are born ``Completed`` and ``StopTransformJob`` does not exist;
* nothing writes CloudWatch logs, so the log tests write the events themselves.
"""

from __future__ import annotations

import functools
import time
import uuid
from pathlib import Path
from typing import Any

import pytest

from sm_magics.backends.sagemaker import autoscaling, cwlogs
from sm_magics.backends.specs import EndpointSpec, TransformSpec, VariantSpec
from sm_magics.errors import NotFound
from sm_magics.ledger_records import EndpointRecord

from .conftest import BUCKET, ROLE, SKLEARN_IMAGE, queue_invoke_results


def make_training_job(backend: Any, name: str = "train-1") -> str:
    """Create a (born Completed) moto training job; return its model URI."""
    sm = backend.aws.client("sagemaker")
    sm.create_training_job(
        TrainingJobName=name,
        AlgorithmSpecification={"TrainingImage": SKLEARN_IMAGE, "TrainingInputMode": "File"},
        RoleArn=ROLE,
        OutputDataConfig={"S3OutputPath": f"s3://{BUCKET}/jobs"},
        ResourceConfig={"InstanceType": "ml.m5.large", "InstanceCount": 1, "VolumeSizeInGB": 5},
        StoppingCondition={"MaxRuntimeInSeconds": 3600},
        HyperParameters={
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"s3://{BUCKET}/sm-magics/source/x/sourcedir.tar.gz"',
        },
    )
    uri = sm.describe_training_job(TrainingJobName=name)["ModelArtifacts"]["S3ModelArtifacts"]
    return str(uri)


def names(backend: Any) -> tuple[set[str], set[str]]:
    """Return the (model names, endpoint config names) moto holds."""
    sm = backend.aws.client("sagemaker")
    models = {m["ModelName"] for m in sm.list_models()["Models"]}
    configs = {c["EndpointConfigName"] for c in sm.list_endpoint_configs()["EndpointConfigs"]}
    return models, configs


def test_endpoint_create_describe_reweigh_invoke_delete(moto_backend, moto_url):
    backend = moto_backend
    model = make_training_job(backend)
    backend.create_endpoint(
        EndpointSpec(
            "ep",
            [
                VariantSpec(name="a", model_data=model, job="train-1", weight=0.5),
                VariantSpec(name="b", model_data=model, job="train-1", weight=0.5),
            ],
        )
    )
    models, configs = names(backend)
    assert models == {"ep-a-00000001", "ep-b-00000002"} and configs == {"ep-00000003"}
    container = backend.aws.client("sagemaker").describe_model(ModelName="ep-a-00000001")[
        "PrimaryContainer"
    ]
    assert container["Image"] == SKLEARN_IMAGE
    assert container["Environment"]["SAGEMAKER_PROGRAM"] == "train.py"

    description = backend.describe_endpoint("ep")  # moto: InService at once
    assert description["EndpointStatus"] == "InService"
    assert description["Url"] == moto_url
    assert [
        (v["VariantName"], v["CurrentWeight"], v["InstanceType"], v["ModelDataUrl"])
        for v in description["ProductionVariants"]
    ] == [("a", 0.5, "ml.m5.large", model), ("b", 0.5, "ml.m5.large", model)]
    record = backend.ledger.get_endpoint("ep")
    assert (record.status, record.url) == ("InService", moto_url)

    # Same models, new weights and count: UpdateEndpointWeightsAndCapacities, in place.
    backend.update_endpoint(
        "ep",
        [
            VariantSpec(name="a", model_data=model, job="train-1", weight=0.9, instance_count=2),
            VariantSpec(name="b", model_data=model, job="train-1", weight=0.1),
        ],
    )
    description = backend.describe_endpoint("ep")
    assert [
        (v["VariantName"], v["CurrentWeight"], v["DesiredInstanceCount"])
        for v in description["ProductionVariants"]
    ] == [("a", 0.9, 2), ("b", 0.1, 1)]
    assert names(backend) == (models, configs)  # nothing new was made

    body = f"1,2,3 {uuid.uuid4()}".encode()  # a body moto has not memoised
    queue_invoke_results(
        moto_url,
        [{"Body": "0.42", "ContentType": "text/csv", "InvokedProductionVariant": "b"}],
    )
    result = backend.invoke_endpoint("ep", body, content_type="text/csv", target_variant="b")
    assert (result.body, result.content_type, result.variant) == (b"0.42", "text/csv", "b")

    backend.delete_endpoint("ep")
    assert names(backend) == (set(), set())
    with pytest.raises(NotFound):
        backend.describe_endpoint("ep")
    assert backend.ledger.get_endpoint("ep").status == "Deleted"
    with pytest.raises(NotFound):
        backend.delete_endpoint("ep")


class ScriptedUpdates:
    """Stands in for SageMaker's ``UpdateEndpoint``, which moto does not implement.

    After an ``UpdateEndpoint`` the next ``DescribeEndpoint`` answers ``Updating`` with the
    new config pending; the one after finishes the update as SageMaker does (the endpoint
    runs the new config; moto's ``CreateEndpoint`` replaces an endpoint of the same name).
    Every other call goes to moto unchanged.
    """

    def __init__(self, aws: Any) -> None:
        self.real = aws.call
        self.requests: list[dict[str, Any]] = []
        self.pending: dict[str, Any] | None = None
        self.updating_describes = 0

    def __call__(self, service: str, operation: str, **params: Any) -> dict[str, Any]:
        if (service, operation) == ("sagemaker", "update_endpoint"):
            self.requests.append(params)
            self.pending, self.updating_describes = params, 1
            return {"EndpointArn": f"arn:aws:sagemaker:::endpoint/{params['EndpointName']}"}
        if (service, operation) == ("sagemaker", "describe_endpoint") and self.pending:
            if self.updating_describes:
                self.updating_describes -= 1
                answer = self.real(service, operation, **params)
                pending = {"EndpointConfigName": self.pending["EndpointConfigName"]}
                return {**answer, "EndpointStatus": "Updating", "PendingDeploymentSummary": pending}
            self.real("sagemaker", "create_endpoint", **self.pending)
            self.pending = None
        return self.real(service, operation, **params)


def test_blue_green_update_cleans_the_old_config_and_models_once_in_service(
    moto_backend, monkeypatch: pytest.MonkeyPatch
):
    """moto lacks UpdateEndpoint: :class:`ScriptedUpdates` plays SageMaker for that step."""
    backend = moto_backend
    scripted = ScriptedUpdates(backend.aws)
    monkeypatch.setattr(backend.aws, "call", scripted)
    model = make_training_job(backend)
    model_v2 = make_training_job(backend, "train-2")
    backend.create_endpoint(
        EndpointSpec("ep", [VariantSpec(name="a", model_data=model, job="train-1")])
    )
    assert names(backend) == ({"ep-a-00000001"}, {"ep-00000002"})

    # Add variant b (a new model): blue/green, a's model reused.
    backend.update_endpoint(
        "ep",
        [
            VariantSpec(name="a", model_data=model, job="train-1", weight=0.8),
            VariantSpec(name="b", model_data=model_v2, job="train-2", weight=0.2),
        ],
    )
    assert scripted.requests == [{"EndpointName": "ep", "EndpointConfigName": "ep-00000004"}]
    assert names(backend) == ({"ep-a-00000001", "ep-b-00000003"}, {"ep-00000002", "ep-00000004"})
    updating = backend.describe_endpoint("ep")
    assert updating["EndpointStatus"] == "Updating"
    assert [(v["VariantName"], v["DesiredWeight"]) for v in updating["ProductionVariants"]] == [
        ("a", 0.8),
        ("b", 0.2),
    ]
    assert backend.ledger.get_endpoint("ep").status == "Updating"
    done = backend.describe_endpoint("ep")
    assert done["EndpointStatus"] == "InService"
    assert done["EndpointConfigName"] == "ep-00000004"
    assert names(backend) == ({"ep-a-00000001", "ep-b-00000003"}, {"ep-00000004"})

    # Replace a's model: its old model goes with the old config.
    backend.update_endpoint(
        "ep",
        [
            VariantSpec(name="a", model_data=model_v2, job="train-2", weight=0.5),
            VariantSpec(name="b", model_data=model_v2, job="train-2", weight=0.5),
        ],
    )
    backend.describe_endpoint("ep")
    backend.describe_endpoint("ep")
    assert names(backend) == ({"ep-a-00000005", "ep-b-00000003"}, {"ep-00000006"})

    backend.delete_endpoint("ep")
    assert names(backend) == (set(), set())


def test_autoscaling_is_registered_and_deregistered_before_delete(moto_backend):
    backend = moto_backend
    model = make_training_job(backend)
    backend.create_endpoint(
        EndpointSpec("ep", [VariantSpec(model_data=model, job="train-1", instance_count=1)])
    )
    arn = autoscaling.enable_autoscaling(
        backend.aws, "ep", "AllTraffic", 1, 3, target_invocations_per_instance=50
    )
    assert arn
    assert autoscaling.settings(backend.aws, "ep", ["AllTraffic"]) == [
        autoscaling.ScalingSetting("AllTraffic", 1, 3, 50.0, 300, 60)
    ]
    backend.delete_endpoint("ep")
    scaling = backend.aws.client("application-autoscaling")
    assert scaling.describe_scalable_targets(ServiceNamespace="sagemaker")["ScalableTargets"] == []


def test_transform_uploads_local_input_once_and_cleans_its_model(moto_backend, tmp_path: Path):
    """moto: the job is born Completed, and StopTransformJob does not exist (an ended job
    is never asked to stop, so stop is a no-op here; the request is tested under Stubber).
    """
    backend = moto_backend
    model = make_training_job(backend)
    data = tmp_path / "in"
    data.mkdir()
    (data / "a.csv").write_text("1,2\n3,4\n")
    (data / "b.csv").write_text("5,6\n")
    spec = TransformSpec(
        name="tj",
        model=VariantSpec(model_data=model, job="train-1"),
        input_uri=str(data),
        output_uri=f"s3://{BUCKET}/out/",
    )
    backend.create_transform_job(spec)
    s3 = backend.aws.client("s3")
    keys = {
        o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET, Prefix="sm-magics/data/")["Contents"]
    }
    assert {k.rsplit("/", 1)[-1] for k in keys} >= {"a.csv", "b.csv"}
    record = backend.ledger.get_job("tj")
    described_input = backend.aws.client("sagemaker").describe_transform_job(TransformJobName="tj")[
        "TransformInput"
    ]["DataSource"]["S3DataSource"]["S3Uri"]
    assert described_input == record.spec["input_s3"]
    assert described_input.startswith(f"s3://{BUCKET}/sm-magics/data/")

    description = backend.describe_transform_job("tj")
    assert description["TransformJobStatus"] == "Completed"
    record = backend.ledger.get_job("tj")
    assert (record.kind, record.status, record.spec["model_deleted"]) == (
        "transform",
        "Completed",
        True,
    )
    assert names(backend)[0] == set()  # the job's model is gone
    backend.stop_transform_job("tj")  # ended: nothing to do

    # The same data again: nothing uploaded twice (the manifest says it is complete).
    before = len(keys)
    backend.create_transform_job(TransformSpec(**{**spec.__dict__, "name": "tj2"}))
    after = s3.list_objects_v2(Bucket=BUCKET, Prefix="sm-magics/data/")["KeyCount"]
    assert after == before


def _put(logs: Any, group: str, stream: str, messages: list[str]) -> None:
    now = int(time.time() * 1000)
    logs.put_log_events(
        logGroupName=group,
        logStreamName=stream,
        logEvents=[{"timestamp": now + i, "message": m} for i, m in enumerate(messages)],
    )


@pytest.fixture
def log_clock(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """The clock cwlogs paces its reads by, moved by hand: ``clock[0] += 60``."""
    clock = [time.time()]
    monkeypatch.setattr(
        cwlogs, "LogReader", functools.partial(cwlogs.LogReader, clock=lambda: clock[0])
    )
    return clock


I1, I2, I3 = "i-0a1b2c3d4e5f6a7b8", "i-0b1c2d3e4f5a6b7c8", "i-0c1d2e3f4a5b6c7d8"


def test_endpoint_logs_from_cloudwatch_per_variant_and_instance(moto_backend, log_clock):
    """moto writes no logs for endpoints: the test writes them, as instances would."""
    backend = moto_backend
    backend.ledger.insert_endpoint(
        EndpointRecord(
            name="ep",
            backend="sagemaker",
            status="InService",
            created_at=time.time(),
            variants=[{"VariantName": "a"}, {"VariantName": "b"}],
        )
    )
    logs = backend.aws.client("logs")
    assert backend.read_endpoint_logs("ep").events == []  # no log group yet
    group = "/aws/sagemaker/Endpoints/ep"
    logs.create_log_group(logGroupName=group)
    for stream in (f"a/{I1}", f"a/{I2}", f"b/{I3}"):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    _put(logs, group, f"a/{I1}", ["starting", "ready"])
    _put(logs, group, f"b/{I3}", ["b ready"])
    log_clock[0] += 60
    batch = backend.read_endpoint_logs("ep")
    assert sorted((e.host, e.message) for e in batch.events) == [
        (f"a/{I1}", "ready"),
        (f"a/{I1}", "starting"),
        (f"b/{I3}", "b ready"),
    ]
    stamps = [e.timestamp for e in batch.events]
    assert stamps == sorted(stamps)  # variants merged by time
    log_clock[0] += 60
    assert backend.read_endpoint_logs("ep", batch.cursor).events == []
    _put(logs, group, f"a/{I2}", ["second instance"])
    log_clock[0] += 60
    batch = backend.read_endpoint_logs("ep", batch.cursor)
    assert [(e.host, e.message) for e in batch.events] == [(f"a/{I2}", "second instance")]


def test_transform_logs_from_cloudwatch(moto_backend, log_clock):
    """moto writes no logs for transform jobs: the test writes them."""
    backend = moto_backend
    logs = backend.aws.client("logs")
    group = "/aws/sagemaker/TransformJobs"
    logs.create_log_group(logGroupName=group)
    for stream in (f"tj/{I1}", f"tj/{I1}/data-log", f"tj2/{I2}"):
        logs.create_log_stream(logGroupName=group, logStreamName=stream)
    _put(logs, group, f"tj/{I1}", ["loading model"])
    _put(logs, group, f"tj/{I1}/data-log", ["a.csv: ok"])
    _put(logs, group, f"tj2/{I2}", ["another job"])
    batch = backend.read_transform_logs("tj")
    assert sorted((e.host, e.message) for e in batch.events) == [
        (I1, "loading model"),
        (f"{I1}/data-log", "a.csv: ok"),
    ]
    _put(logs, group, f"tj/{I1}", ["done"])
    log_clock[0] += 60
    assert [e.message for e in backend.read_transform_logs("tj", batch.cursor).events] == ["done"]


def test_session_deploy_add_variant_and_reweigh_through_the_api(
    moto_backend, moto_url, monkeypatch: pytest.MonkeyPatch
):
    """The public API over the sagemaker backend: deploy, A/B variant, weights, invoke,
    delete. moto lacks UpdateEndpoint: :class:`ScriptedUpdates` plays it.
    """
    from sm_magics.api import Session

    backend = moto_backend
    monkeypatch.setattr(backend.aws, "call", ScriptedUpdates(backend.aws))
    session = Session(
        "sagemaker", region=backend.aws.region, ledger=backend.ledger, aws=backend.aws
    )
    image = {"SM_MAGICS_IMAGE": SKLEARN_IMAGE}
    model_a = f"s3://{BUCKET}/models/a/model.tar.gz"
    model_b = f"s3://{BUCKET}/models/b/model.tar.gz"

    endpoint = session.deploy(model_a, endpoint="ep", environment=image)
    assert endpoint.wait("10s").status == "InService"
    assert endpoint.url == moto_url

    session.deploy(model_b, endpoint="ep", variants={"b": 0.25}, environment=image)
    endpoint.wait("10s")  # Updating once, then InService on the new config
    weights = {
        v["VariantName"]: v["CurrentWeight"] for v in endpoint.describe()["ProductionVariants"]
    }
    assert weights == {"AllTraffic": 1.0, "b": 0.25}
    models, configs = names(backend)
    assert len(models) == 2 and len(configs) == 1

    session.deploy(endpoint="ep", variants={"AllTraffic": 0.5, "b": 0.5})  # weights only
    weights = {
        v["VariantName"]: v["CurrentWeight"] for v in endpoint.describe()["ProductionVariants"]
    }
    assert weights == {"AllTraffic": 0.5, "b": 0.5}
    assert names(backend) == (models, configs)

    queue_invoke_results(moto_url, [{"Body": '{"y": 1}', "ContentType": "application/json"}])
    assert endpoint.invoke({"x": str(uuid.uuid4())}) == {"y": 1}

    endpoint.delete()
    assert names(backend) == (set(), set())
    assert session.ledger.get_endpoint("ep").status == "Deleted"


def test_variant_env_values_are_read_from_the_model_not_the_ledger(
    moto_backend, monkeypatch: pytest.MonkeyPatch
):
    """Issue 12 defect 11: the ledger keeps ``--env`` names only; an update that keeps
    variant AllTraffic takes its values from DescribeModel, so its model is reused as is.
    """
    from sm_magics.api import Session
    from sm_magics.ledger_records import REDACTED

    backend = moto_backend
    monkeypatch.setattr(backend.aws, "call", ScriptedUpdates(backend.aws))
    session = Session(
        "sagemaker", region=backend.aws.region, ledger=backend.ledger, aws=backend.aws
    )
    secret = "s3cr3t-" + uuid.uuid4().hex
    model_a = f"s3://{BUCKET}/models/a/model.tar.gz"
    environment = {"SM_MAGICS_IMAGE": SKLEARN_IMAGE, "API_TOKEN": secret}
    endpoint = session.deploy(model_a, endpoint="ep", environment=environment)
    endpoint.wait("10s")
    assert session.ledger.get_endpoint("ep").spec["variants"][0]["environment"] == {
        "API_TOKEN": REDACTED,
        "SM_MAGICS_IMAGE": SKLEARN_IMAGE,  # sm-magics' own setting: which image serves it
    }
    (model,) = names(backend)[0]
    assert backend.variant_environments("ep")["AllTraffic"]["API_TOKEN"] == secret

    session.deploy(
        model_a, endpoint="ep", variants={"b": 0.5}, environment={"SM_MAGICS_IMAGE": SKLEARN_IMAGE}
    )
    endpoint.wait("10s")
    assert model in names(backend)[0]  # AllTraffic's model reused: the very same container
    sm = backend.aws.client("sagemaker")
    assert sm.describe_model(ModelName=model)["PrimaryContainer"]["Environment"]["API_TOKEN"] == (
        secret
    )
    ledger_files = sorted(backend.ledger.path.parent.glob(backend.ledger.path.name + "*"))
    assert not any(secret.encode() in path.read_bytes() for path in ledger_files)
    endpoint.delete()


def test_async_endpoint_config_and_invoke_async_upload_the_payload(moto_backend):
    """moto stores AsyncInferenceConfig and answers InvokeEndpointAsync with an output
    location of its own (it runs no model: nothing is ever written there). Every request
    is validated by botocore against the real service model before it is sent."""
    from sm_magics.backends.specs import AsyncInferenceSpec

    backend = moto_backend
    model = make_training_job(backend)
    backend.create_endpoint(
        EndpointSpec(
            "aep",
            [VariantSpec(name="a", model_data=model, job="train-1")],
            async_inference=AsyncInferenceSpec(
                f"s3://{BUCKET}/async/out", f"s3://{BUCKET}/async/failed", 4
            ),
        )
    )
    sm = backend.aws.client("sagemaker")
    config = sm.describe_endpoint_config(
        EndpointConfigName=sm.describe_endpoint(EndpointName="aep")["EndpointConfigName"]
    )
    assert config["AsyncInferenceConfig"] == {
        "OutputConfig": {
            "S3OutputPath": f"s3://{BUCKET}/async/out",
            "S3FailurePath": f"s3://{BUCKET}/async/failed",
        },
        "ClientConfig": {"MaxConcurrentInvocationsPerInstance": 4},
    }
    assert backend.ledger.get_endpoint("aep").spec["async"]["output_uri"].endswith("/async/out")
    queued = backend.invoke_endpoint_async("aep", b"[[1, 2]]", content_type="application/json")
    assert queued.output_location.startswith("s3://")
    inputs = backend.aws.client("s3").list_objects_v2(
        Bucket=BUCKET, Prefix="sm-magics/async-inputs/"
    )["Contents"]
    assert len(inputs) == 1 and inputs[0]["Key"].endswith(".in")
    backend.invoke_endpoint_async("aep", b"[[1, 2]]", content_type="application/json")
    assert (
        len(
            backend.aws.client("s3").list_objects_v2(
                Bucket=BUCKET, Prefix="sm-magics/async-inputs/"
            )["Contents"]
        )
        == 1
    )  # the same payload is one object


def test_async_output_must_be_s3_on_sagemaker(moto_backend):
    from sm_magics.backends.specs import AsyncInferenceSpec
    from sm_magics.errors import InvalidRequest

    model = make_training_job(moto_backend)
    with pytest.raises(InvalidRequest, match="not an s3:// URI"):
        moto_backend.create_endpoint(
            EndpointSpec(
                "aep2",
                [VariantSpec(name="a", model_data=model, job="train-1")],
                async_inference=AsyncInferenceSpec("/tmp/out"),
            )
        )
    assert moto_backend.ledger.get_endpoint("aep2") is None  # nothing half-created


def test_unknown_endpoint_logs_are_not_found(moto_backend):
    with pytest.raises(NotFound):
        moto_backend.read_endpoint_logs("ghost")
