"""``Session.cleanup`` on the sagemaker backend, against moto: an endpoint goes with its
endpoint config and models, and a second run finds nothing."""

from __future__ import annotations

from typing import Any

import pytest

from sm_magics import cleanup
from sm_magics.api import Session
from sm_magics.backends import registry
from sm_magics.backends.specs import EndpointSpec, VariantSpec

from .test_flows_moto import make_training_job, names


def test_cleanup_deletes_endpoint_config_and_models(moto_backend: Any) -> None:
    model = make_training_job(moto_backend)
    moto_backend.create_endpoint(
        EndpointSpec("ep", [VariantSpec(model_data=model, job="train-1")], notebook="nb.ipynb")
    )
    assert names(moto_backend) != (set(), set())
    session = Session("sagemaker", ledger=moto_backend.ledger, notebook="nb.ipynb")
    session._backends["sagemaker"] = moto_backend
    assert len(Session("sagemaker", ledger=moto_backend.ledger, notebook="x").cleanup()) == 0

    report = session.cleanup()
    assert [(item.kind, item.name, item.outcome) for item in report] == [
        ("endpoint", "ep", "deleted")
    ]
    assert names(moto_backend) == (set(), set())
    assert moto_backend.aws.client("sagemaker").list_endpoints()["Endpoints"] == []
    assert repr(session.cleanup()) == "Nothing running or billing (this notebook)."


def test_rows_of_another_region_get_a_backend_of_that_region(
    moto_backend: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    made: list[dict[str, Any]] = []

    class Fake:
        def __init__(self, **kwargs: Any) -> None:
            made.append(kwargs)

    monkeypatch.setattr(registry, "get_backend_class", lambda name: Fake)
    session = Session("sagemaker", ledger=moto_backend.ledger, region="us-east-1")
    session._backends["sagemaker"] = moto_backend
    assert cleanup.backend_for(session, "sagemaker", "us-east-1") is moto_backend
    other = cleanup.backend_for(session, "sagemaker", "eu-west-1")
    assert isinstance(other, Fake) and made[0]["region"] == "eu-west-1"
    assert cleanup.backend_for(session, "sagemaker", "eu-west-1") is other  # made once
