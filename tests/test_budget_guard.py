"""The budget guard (``SageMakerMagics.max_hourly_cost``) and ``default_ttl``, locally.

The guard must refuse before anything exists: no ledger row, no folder, no process. The
same checks against the sagemaker backend (no CreateModel / CreateEndpointConfig /
CreateEndpoint / CreateTrainingJob, no S3 upload) are in
``tests/sagemaker_serving/test_budget_guard_moto.py``.
"""

from __future__ import annotations

import time
import uuid
import warnings
from collections.abc import Iterator
from pathlib import Path

import helpers
import pytest
from IPython.core.error import UsageError
from IPython.core.interactiveshell import InteractiveShell

from sm_magics import config, pricing
from sm_magics.api import CostWarning, Session
from sm_magics.endpoint import Endpoint
from sm_magics.errors import BudgetExceeded, InvalidRequest
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord

MODEL_FN = helpers.MODEL_FN

BIG = "ml.p4d.24xlarge"


@pytest.fixture
def session(sm_home: Path) -> Iterator[Session]:
    """A session with a 10 USD/h limit; every endpoint it still has is deleted at the end."""
    for value in helpers.session_deleting_endpoints():
        value.max_hourly_cost = 10.0
        yield value


def nothing_created(home: Path) -> None:
    """Assert the home holds no job, endpoint, ledger row or endpoint process."""
    ledger = Ledger()
    try:
        assert ledger.list_jobs() == []
        assert ledger.list_endpoints(live_only=False) == []
    finally:
        ledger.close()
    assert not any((home / "endpoints").glob("*")) if (home / "endpoints").exists() else True
    assert not any((home / "jobs").glob("*")) if (home / "jobs").exists() else True


def hosting(instance_type: str, count: int = 1) -> float:
    value = pricing.hourly_cost(instance_type, count, "us-east-1", usage="hosting")
    assert value is not None
    return value


def test_p4d_deploy_under_10_usd_is_refused_with_nothing_created(
    session: Session, model_uri: str, entry_point: Path, sm_home: Path
) -> None:
    big = hosting(BIG)
    assert big > 10  # the premise of the test
    with pytest.raises(BudgetExceeded) as caught:
        session.deploy(model_uri, endpoint="big", instance_type=BIG, entry_point=entry_point)
    message = str(caught.value)
    assert (
        f"would bring local billing to {big:.2f} USD/h (this request {big:.2f} + running "
        f"0.00), over the 10.00 USD/h limit (SageMakerMagics.max_hourly_cost)" in message
    )
    assert "--force" in message and "nothing was created" in message
    assert isinstance(caught.value, InvalidRequest)
    assert (caught.value.request, caught.value.running, caught.value.limit) == (
        pytest.approx(big),
        0.0,
        10.0,
    )
    nothing_created(sm_home)


def test_force_goes_ahead(
    session: Session, model_uri: str, entry_point: Path, sm_home: Path
) -> None:
    endpoint = session.deploy(
        model_uri, endpoint="big", instance_type=BIG, entry_point=entry_point, force=True
    )
    assert endpoint.wait("2m").status == "InService"
    assert session.costs().billing_per_hour == pytest.approx(hosting(BIG))


def test_what_runs_counts_on_the_same_backend_only(
    session: Session, model_uri: str, entry_point: Path
) -> None:
    # A real local endpoint (the guard describes what it counts before refusing: a row
    # without an endpoint would be found gone) and a SageMaker row, never counted here.
    session.deploy(
        model_uri, endpoint="running-local", instance_type="ml.m5.large", entry_point=entry_point
    )
    session.ledger.insert_endpoint(
        EndpointRecord(
            name="running-aws",
            backend="sagemaker",
            status="InService",
            created_at=time.time(),
            region="us-east-1",
            variants=[
                {"VariantName": "a", "InstanceType": "ml.m5.large", "DesiredInstanceCount": 1}
            ],
        )
    )
    small = hosting("ml.m5.large")
    session.max_hourly_cost = small * 1.5  # room for one, not for two
    with pytest.raises(BudgetExceeded, match=rf"running {small:.2f}\)"):
        session.deploy(model_uri, endpoint="second", entry_point=entry_point)
    assert session.ledger.get_endpoint("second") is None


def test_limit_zero_is_off(session: Session, model_uri: str, entry_point: Path) -> None:
    session.max_hourly_cost = 0
    endpoint = session.deploy(
        model_uri, endpoint="free", instance_type=BIG, entry_point=entry_point
    )
    assert endpoint.name == "free"


def test_serverless_is_not_refused(session: Session, model_uri: str, entry_point: Path) -> None:
    session.max_hourly_cost = 0.01
    endpoint = session.deploy(
        model_uri, endpoint="sl", serverless_memory=2048, entry_point=entry_point
    )
    assert endpoint.name == "sl"


def test_training_guard_refuses_before_creating_anything(session: Session, sm_home: Path) -> None:
    with pytest.raises(BudgetExceeded, match="training job big-train would bring local billing"):
        session.train("print('hi')", name="big-train", instance_type=BIG, instance_count=2)
    nothing_created(sm_home)


def test_training_guard_counts_spot_at_the_estimate(session: Session) -> None:
    spot = pricing.hourly_cost(BIG, 1, "us-east-1", spot=True)
    assert spot is not None
    session.max_hourly_cost = spot * 1.01
    job = session.train("print('hi')", instance_type=BIG, spot=True)
    helpers.wait_until_terminal(job.backend, job.name)
    with pytest.raises(BudgetExceeded):
        session.train("print('hi')", instance_type=BIG)


def test_training_force_goes_ahead(session: Session) -> None:
    job = session.train("print('hi')", name="forced", instance_type=BIG, force=True)
    assert helpers.wait_until_terminal(job.backend, job.name)["TrainingJobStatus"] == "Completed"


def test_unknown_price_warns_and_goes_ahead(session: Session) -> None:
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        job = session.train("print('hi')", instance_type="ml.zz.huge")
    assert any(
        issubclass(w.category, CostWarning) and "ml.zz.huge" in str(w.message) for w in caught
    )
    helpers.wait_until_terminal(job.backend, job.name)


def test_bad_limits_are_refused(sm_home: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    with pytest.raises(InvalidRequest):
        Session(max_hourly_cost=-1)
    with pytest.raises(InvalidRequest):
        Session(default_ttl="soon")
    monkeypatch.setenv(config.ENV_MAX_HOURLY_COST, "12.5")
    monkeypatch.setenv(config.ENV_DEFAULT_TTL, "2h")
    session = Session()
    assert (session.max_hourly_cost, session.default_ttl) == (12.5, "2h")
    monkeypatch.setenv(config.ENV_MAX_HOURLY_COST, "lots")
    assert Session().max_hourly_cost == 0.0  # a typo in the environment turns it off


# -- default_ttl ---------------------------------------------------------------------------


def test_default_ttl_applies_to_new_endpoints_without_ttl(
    session: Session, model_uri: str, entry_point: Path
) -> None:
    session.default_ttl = "2h"
    before = time.time()
    endpoint = session.deploy(model_uri, endpoint="ttl-default", entry_point=entry_point)
    record = session.ledger.get_endpoint(endpoint.name)
    assert record is not None and record.ttl_at is not None
    assert before + 7200 <= record.ttl_at <= time.time() + 7200
    explicit = session.deploy(model_uri, endpoint="ttl-own", entry_point=entry_point, ttl="30m")
    record = session.ledger.get_endpoint(explicit.name)
    assert record is not None and record.ttl_at is not None
    assert record.ttl_at <= time.time() + 1800
    # an update (a new variant) is not a creation: the default does not get in the way
    endpoint.wait("2m")
    session.deploy(model_uri, endpoint="ttl-default", variants={"b": 1.0}, entry_point=entry_point)


# -- through the magics --------------------------------------------------------------------


@pytest.fixture
def guarded(ip: InteractiveShell) -> Iterator[InteractiveShell]:
    """The shell with a 10 USD/h limit; restored afterwards; its endpoints deleted."""
    magics = ip.magics_manager.registry["SageMakerMagics"]
    saved = (magics.max_hourly_cost, magics.default_ttl)
    ip.run_line_magic("config", "SageMakerMagics.max_hourly_cost = 10")
    yield ip
    magics.max_hourly_cost, magics.default_ttl = saved
    session = Session()
    for record in session.ledger.list_endpoints():
        session.endpoint(record.name).delete()
    session.ledger.close()


def test_magic_deploy_refused_then_forced(
    guarded: InteractiveShell, model_uri: str, entry_point: Path, sm_home: Path
) -> None:
    name = f"ep-{uuid.uuid4().hex[:8]}"
    line = f"{model_uri} -e {name} -i {BIG} --entry-point {entry_point}"
    with pytest.raises(UsageError, match=r"over the 10\.00 USD/h limit.*--force"):
        guarded.run_line_magic("sm_deploy", line)
    nothing_created(sm_home)
    endpoint = guarded.run_line_magic("sm_deploy", line + " --force")
    assert isinstance(endpoint, Endpoint)


def test_magic_train_refused_then_forced(guarded: InteractiveShell, sm_home: Path) -> None:
    with pytest.raises(UsageError, match=r"over the 10\.00 USD/h limit"):
        guarded.run_cell_magic("sm_train", f"-i {BIG}", "print('hi')")
    nothing_created(sm_home)
    job = guarded.run_cell_magic("sm_train", f"-i {BIG} --force --wait", "print('hi')")
    assert job.status == "Completed"


def test_magic_config_validation_and_default_ttl(
    guarded: InteractiveShell, model_uri: str, entry_point: Path
) -> None:
    magics = guarded.magics_manager.registry["SageMakerMagics"]
    with pytest.raises(Exception, match="max_hourly_cost"):
        magics.max_hourly_cost = -5
    with pytest.raises(Exception, match="default_ttl"):
        magics.default_ttl = "whenever"
    guarded.run_line_magic("config", "SageMakerMagics.default_ttl = '90m'")
    assert magics.session.default_ttl == "90m"
    endpoint = guarded.run_line_magic(
        "sm_deploy", f"{model_uri} -e ttl-magic --entry-point {entry_point}"
    )
    record = magics.session.ledger.get_endpoint(endpoint.name)
    assert record is not None and record.ttl_at is not None
    assert record.ttl_at <= time.time() + 5400
