"""``--ttl`` on the sagemaker backend: an EventBridge Scheduler schedule deletes the endpoint.

Stubber tests check every request against the real ``scheduler`` and ``sagemaker`` service
models, in order; the moto tests run the same code against moto's ``scheduler`` backend,
which stores schedules (create, get, delete, a name conflict) but never runs them: that
the schedule fires and SageMaker deletes the endpoint is EventBridge's part and is not
simulated here. The request itself (target ``aws-sdk:sagemaker:deleteEndpoint``, input,
role, one-time ``at()`` in UTC, deleted after it ran) is what these tests pin down.
"""

from __future__ import annotations

import json
import time
import warnings
from typing import Any

import pytest
from botocore.stub import ANY

from sm_magics.backends.sagemaker import schedules, serving
from sm_magics.backends.specs import EndpointSpec, VariantSpec
from sm_magics.errors import InvalidRequest, NotFound, ResourceLimitExceeded, SmMagicsNotice
from sm_magics.ledger_records import EndpointRecord

from . import stubs as s
from .conftest import BUCKET, MODEL_URI, ROLE, SKLEARN_IMAGE

#: 2026-01-01T00:00:00Z: every test runs at this moment.
NOW = 1767225600.0
EXPLICIT = {"SM_MAGICS_IMAGE": s.IMAGE}


@pytest.fixture
def frozen_clock(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(serving.time, "time", lambda: NOW)


def variant(name: str = "AllTraffic") -> VariantSpec:
    return VariantSpec(name=name, model_data=MODEL_URI, environment=dict(EXPLICIT))


def schedule_request(name: str = "ep", when: str = "2026-01-01T01:00:00") -> dict[str, Any]:
    return {
        "Name": f"sm-magics-ttl-{name}",
        "ScheduleExpression": f"at({when})",
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": "arn:aws:scheduler:::aws-sdk:sagemaker:deleteEndpoint",
            "RoleArn": ROLE,
            "Input": json.dumps({"EndpointName": name}),
        },
        "ActionAfterCompletion": "DELETE",
        "Description": f"sm-magics: delete SageMaker endpoint {name} (--ttl)",
    }


def stub_models_and_config(sm: Any, name: str = "ep") -> None:
    s.not_found(sm, "describe_endpoint", "endpoint", name)
    sm.add_response(
        "create_model",
        {"ModelArn": s.arn("model", f"{name}-AllTraffic-00000001")},
        {
            "ModelName": f"{name}-AllTraffic-00000001",
            "PrimaryContainer": ANY,
            "ExecutionRoleArn": ROLE,
            "Tags": ANY,
        },
    )
    sm.add_response(
        "create_endpoint_config",
        {"EndpointConfigArn": s.arn("endpoint-config", f"{name}-00000002")},
        {
            "EndpointConfigName": f"{name}-00000002",
            "ProductionVariants": [s.config_variant("AllTraffic", f"{name}-AllTraffic-00000001")],
            "Tags": ANY,
        },
    )


# -- names and times ------------------------------------------------------------------------


def test_schedule_names_fit_scheduler_and_are_stable():
    assert schedules.schedule_name("ep") == "sm-magics-ttl-ep"
    long = "e" * 63
    name = schedules.schedule_name(long)
    assert len(name) == 64
    assert name == schedules.schedule_name(long)
    assert name != schedules.schedule_name("e" * 62 + "f")


def test_the_time_is_utc_and_rounded_up_to_the_second():
    assert schedules.at_expression(NOW) == "at(2026-01-01T00:00:00)"
    assert schedules.at_expression(NOW + 0.2) == "at(2026-01-01T00:00:01)"


def test_the_scheduler_role_defaults_to_the_execution_role(stubbed, monkeypatch):
    backend, _ = stubbed
    assert backend.aws.scheduler_role == ROLE
    monkeypatch.setattr(backend.aws, "_scheduler_role", "arn:aws:iam::123456789012:role/Ttl")
    assert backend.aws.scheduler_role == "arn:aws:iam::123456789012:role/Ttl"


# -- create ---------------------------------------------------------------------------------


def test_create_with_ttl_schedules_the_deletion_before_creating_the_endpoint(stubbed, frozen_clock):
    backend, stubs = stubbed
    sm, scheduler = stubs("sagemaker"), stubs("scheduler")
    stub_models_and_config(sm)
    scheduler.add_response(
        "create_schedule",
        {"ScheduleArn": "arn:aws:scheduler:us-east-1:123456789012:schedule/default/x"},
        schedule_request(),
    )
    sm.add_response(
        "create_endpoint",
        {"EndpointArn": s.arn("endpoint", "ep")},
        {"EndpointName": "ep", "EndpointConfigName": "ep-00000002", "Tags": ANY},
    )
    backend.create_endpoint(EndpointSpec("ep", [variant()], ttl=3600))
    stubs.check()
    record = backend.ledger.get_endpoint("ep")
    assert record is not None
    assert record.ttl_at == NOW + 3600


def test_a_schedule_that_cannot_be_made_fails_the_deploy_and_rolls_it_back(stubbed, frozen_clock):
    backend, stubs = stubbed
    sm, scheduler = stubs("sagemaker"), stubs("scheduler")
    stub_models_and_config(sm)
    scheduler.add_client_error(
        "create_schedule",
        service_error_code="ValidationException",
        service_message="The execution role you provide must allow AWS EventBridge Scheduler "
        "to assume the role.",
        http_status_code=400,
        expected_params=schedule_request(),
    )
    sm.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "ep-00000002"})
    sm.add_response("delete_model", {}, {"ModelName": "ep-AllTraffic-00000001"})
    with pytest.raises(InvalidRequest) as caught:
        backend.create_endpoint(EndpointSpec("ep", [variant()], ttl=3600))
    stubs.check()  # no CreateEndpoint: nothing bills without its deadline
    message = str(caught.value)
    assert message.startswith("Endpoint ep was not created (TTL schedule): CreateSchedule")
    assert "must trust scheduler.amazonaws.com and allow sagemaker:DeleteEndpoint" in message
    assert ROLE in message
    assert "Rolled back: deleted ep-00000002, ep-AllTraffic-00000001." in message
    assert backend.ledger.get_endpoint("ep") is None


def test_a_failed_create_endpoint_deletes_the_schedule_with_the_rest(stubbed, frozen_clock):
    backend, stubs = stubbed
    sm, scheduler = stubs("sagemaker"), stubs("scheduler")
    stub_models_and_config(sm)
    scheduler.add_response("create_schedule", {"ScheduleArn": "arn:x"}, schedule_request())
    sm.add_client_error(
        "create_endpoint",
        service_error_code="ResourceLimitExceeded",
        service_message="The account-level service limit is 0.",
        http_status_code=400,
    )
    sm.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "ep-00000002"})
    sm.add_response("delete_model", {}, {"ModelName": "ep-AllTraffic-00000001"})
    scheduler.add_response("delete_schedule", {}, {"Name": "sm-magics-ttl-ep"})
    with pytest.raises(ResourceLimitExceeded) as caught:
        backend.create_endpoint(EndpointSpec("ep", [variant()], ttl=3600))
    stubs.check()
    assert "Deleted its TTL schedule." in str(caught.value)
    assert backend.ledger.get_endpoint("ep") is None


def test_without_ttl_no_schedule_is_made(stubbed):
    backend, stubs = stubbed
    sm = stubs("sagemaker")
    stub_models_and_config(sm)
    sm.add_response(
        "create_endpoint",
        {"EndpointArn": s.arn("endpoint", "ep")},
        {"EndpointName": "ep", "EndpointConfigName": "ep-00000002", "Tags": ANY},
    )
    stubs("scheduler")  # any scheduler call would fail: none is stubbed
    backend.create_endpoint(EndpointSpec("ep", [variant()]))
    stubs.check()


# -- delete and expiry ------------------------------------------------------------------------


def insert_record(backend: Any, *, ttl: int | None, created: float) -> None:
    backend.ledger.insert_endpoint(
        EndpointRecord(
            name="ep",
            backend="sagemaker",
            status="InService",
            created_at=created,
            ttl_at=created + ttl if ttl else None,
            spec={"ttl": ttl},
        )
    )


def stub_delete(sm: Any, scaling: Any) -> None:
    sm.add_response("describe_endpoint", s.endpoint("ep", "ep-000000aa", [s.live_variant("a")]))
    scaling.add_response("describe_scalable_targets", {"ScalableTargets": []})
    sm.add_response("delete_endpoint", {}, {"EndpointName": "ep"})


def stub_sweep_nothing_left(sm: Any) -> None:
    sm.add_response("list_endpoint_configs", s.config_summaries())
    s.not_found(sm, "describe_endpoint_config", "endpoint-config", "ep-000000aa")


def test_deleting_before_the_ttl_deletes_the_schedule(stubbed):
    backend, stubs = stubbed
    insert_record(backend, ttl=3600, created=time.time())
    sm, scaling, scheduler = (
        stubs("sagemaker"),
        stubs("application-autoscaling"),
        stubs("scheduler"),
    )
    stub_delete(sm, scaling)
    scheduler.add_response("delete_schedule", {}, {"Name": "sm-magics-ttl-ep"})
    stub_sweep_nothing_left(sm)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmMagicsNotice)
        backend.delete_endpoint("ep")
    stubs.check()
    assert backend.ledger.get_endpoint("ep").status == "Deleted"


def test_a_schedule_that_already_ran_or_was_never_made_is_fine(stubbed):
    backend, stubs = stubbed
    insert_record(backend, ttl=60, created=time.time())
    sm, scaling, scheduler = (
        stubs("sagemaker"),
        stubs("application-autoscaling"),
        stubs("scheduler"),
    )
    stub_delete(sm, scaling)
    scheduler.add_client_error(
        "delete_schedule",
        service_error_code="ResourceNotFoundException",
        service_message="Schedule sm-magics-ttl-ep does not exist.",
        http_status_code=404,
        expected_params={"Name": "sm-magics-ttl-ep"},
    )
    stub_sweep_nothing_left(sm)
    with warnings.catch_warnings():
        warnings.simplefilter("error", SmMagicsNotice)
        backend.delete_endpoint("ep")
    stubs.check()


def test_a_schedule_that_cannot_be_deleted_is_reported_and_the_endpoint_still_goes(stubbed):
    backend, stubs = stubbed
    insert_record(backend, ttl=60, created=time.time())
    sm, scaling, scheduler = (
        stubs("sagemaker"),
        stubs("application-autoscaling"),
        stubs("scheduler"),
    )
    stub_delete(sm, scaling)
    scheduler.add_client_error("delete_schedule", "AccessDeniedException", "no", 400)
    stub_sweep_nothing_left(sm)
    with pytest.warns(SmMagicsNotice) as said:
        backend.delete_endpoint("ep")
    stubs.check()
    assert backend.ledger.get_endpoint("ep").status == "Deleted"
    err = " ".join(str(w.message) for w in said)
    assert "TTL schedule sm-magics-ttl-ep" in err
    assert "scheduler:DeleteSchedule" in err


def test_an_endpoint_the_schedule_deleted_is_recorded_with_why_and_its_parts_swept(stubbed):
    backend, stubs = stubbed
    insert_record(backend, ttl=3600, created=time.time() - 4000)
    sm = stubs("sagemaker")
    s.not_found(sm, "describe_endpoint", "endpoint", "ep")
    sm.add_response("list_endpoint_configs", s.config_summaries("ep-00000003"))
    sm.add_response("list_tags", s.owner_tags("ep"))
    sm.add_response(
        "describe_endpoint_config",
        s.endpoint_config("ep-00000003", [s.config_variant("a", "ep-a-00000001")]),
        {"EndpointConfigName": "ep-00000003"},
    )
    sm.add_response("delete_model", {}, {"ModelName": "ep-a-00000001"})
    sm.add_response("delete_endpoint_config", {}, {"EndpointConfigName": "ep-00000003"})
    with pytest.raises(NotFound):
        backend.describe_endpoint("ep")
    stubs.check()
    record = backend.ledger.get_endpoint("ep")
    assert record.status == "Deleted"
    assert record.failure_reason == "TTL expired (1h 00m)"


def test_a_row_holding_the_ttl_as_typed_still_reads_deleted_when_it_expired(stubbed):
    """Issue 11, bug 1: ``Session.deploy`` overwrote the row's ``ttl`` (seconds) with "2h".

    The vanished-endpoint path formatted that string as a duration and raised
    ``TypeError`` instead of ``NotFound``; callers swallowed it and the endpoint went on
    counting as live and billing. The reason now comes from the row's own times.
    """
    backend, stubs = stubbed
    created = time.time() - 8000
    backend.ledger.insert_endpoint(
        EndpointRecord(
            name="ep",
            backend="sagemaker",
            status="InService",
            created_at=created,
            ttl_at=created + 7200,
            spec={"ttl": "2h"},
        )
    )
    sm = stubs("sagemaker")
    s.not_found(sm, "describe_endpoint", "endpoint", "ep")
    stub_sweep_nothing_left(sm)
    with pytest.raises(NotFound):
        backend.describe_endpoint("ep")
    record = backend.ledger.get_endpoint("ep")
    assert (record.status, record.failure_reason) == ("Deleted", "TTL expired (2h 00m)")
    assert record.deleted_at is not None
    assert backend.ledger.list_endpoints() == []


# -- against moto ------------------------------------------------------------------------------


def test_deploy_with_ttl_then_delete_through_the_session_on_moto(moto_backend):
    """moto's scheduler stores the schedule (and never runs it); delete removes it."""
    from sm_magics.api import Session

    backend = moto_backend
    session = Session(
        "sagemaker", region=backend.aws.region, ledger=backend.ledger, aws=backend.aws
    )
    scheduler = backend.aws.client("scheduler")
    # A leftover of an earlier "ep" deleted outside sm-magics: replaced, not a conflict.
    scheduler.create_schedule(
        Name="sm-magics-ttl-ep",
        ScheduleExpression="at(2020-01-01T00:00:00)",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={"Arn": "arn:aws:scheduler:::aws-sdk:sagemaker:deleteEndpoint", "RoleArn": ROLE},
    )
    before = time.time()
    session.deploy(
        f"s3://{BUCKET}/models/a/model.tar.gz",
        endpoint="ep",
        environment={"SM_MAGICS_IMAGE": SKLEARN_IMAGE},
        ttl="2h",
    )
    schedule = scheduler.get_schedule(Name="sm-magics-ttl-ep")
    assert schedule["ScheduleExpression"] != "at(2020-01-01T00:00:00)"
    assert schedule["ScheduleExpression"] >= schedules.at_expression(before + 7200)
    assert schedule["ScheduleExpressionTimezone"] == "UTC"
    assert schedule["ActionAfterCompletion"] == "DELETE"
    assert schedule["Target"]["Arn"] == "arn:aws:scheduler:::aws-sdk:sagemaker:deleteEndpoint"
    assert schedule["Target"]["RoleArn"] == ROLE
    assert json.loads(schedule["Target"]["Input"]) == {"EndpointName": "ep"}

    session.endpoint("ep").delete()  # what %sm_delete does
    with pytest.raises(scheduler.exceptions.ResourceNotFoundException):
        scheduler.get_schedule(Name="sm-magics-ttl-ep")
    assert session.ledger.get_endpoint("ep").status == "Deleted"
