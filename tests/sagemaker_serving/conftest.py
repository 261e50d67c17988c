"""Fixtures for the sagemaker backend's serving tests: Stubber clients and a moto server.

No test talks to AWS. Credentials and region are fake and pinned, and no config file of the
machine is read. Two kinds of fixtures:

* ``stubbed``: a backend whose boto3 clients are wrapped in botocore's ``Stubber``, which
  validates every request against the real service model and asserts the exact
  parameters we expect, in order (:class:`Stubs`);
* ``moto_backend``: a backend whose clients talk to one ``ThreadedMotoServer`` on
  127.0.0.1 (started once per session, reset before every test), for whole flows.
"""

from __future__ import annotations

import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole"
BUCKET = "sm-magics-test-bucket"
SKLEARN_IMAGE = f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"
SOURCE_URI = f"s3://{BUCKET}/sm-magics/source/abc123/sourcedir.tar.gz"
MODEL_URI = f"s3://{BUCKET}/jobs/train-1/output/model.tar.gz"


@pytest.fixture(autouse=True)
def fake_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials and region; no profile, config file or endpoint of this machine."""
    for name in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE", "AWS_ENDPOINT_URL", "SM_MAGICS_ROLE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(autouse=True)
def fixed_names(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make resource names deterministic: ``<base>-00000001``, ``-00000002``, ...

    The real suffix is a hash with a nonce (tested on its own); a counter lets the tests
    spell out exact requests.
    """
    from sm_magics.backends.sagemaker import serving, transform, updates

    counter = iter(range(1, 1_000_000))

    def name(base_name: str, content: Any = None) -> str:
        return f"{base_name[:54].rstrip('-')}-{next(counter):08x}"

    monkeypatch.setattr(serving, "resource_name", name)
    monkeypatch.setattr(transform, "resource_name", name)
    monkeypatch.setattr(updates, "resource_name", name)


def _session(endpoint_url: str | None = None) -> Any:
    import boto3

    from sm_magics.backends.sagemaker.aws import AwsSession

    boto = boto3.Session(
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        aws_session_token="testing",
        region_name=REGION,
    )
    return AwsSession(
        REGION, role=ROLE, bucket=BUCKET, endpoint_url=endpoint_url, boto_session=boto
    )


@dataclass
class Stubs:
    """One activated ``Stubber`` per service, on the clients the backend uses."""

    backend: Any
    stubbers: dict[str, Any] = field(default_factory=dict)

    def __call__(self, service: str) -> Any:
        """Return the (activated) Stubber of ``service``'s client."""
        from botocore.stub import Stubber

        if service not in self.stubbers:
            stubber = Stubber(self.backend.aws.client(service))
            stubber.activate()
            self.stubbers[service] = stubber
        return self.stubbers[service]

    def check(self) -> None:
        """Fail if a stubbed response was not asked for."""
        for stubber in self.stubbers.values():
            stubber.assert_no_pending_responses()

    def close(self) -> None:
        for stubber in self.stubbers.values():
            stubber.deactivate()


@pytest.fixture
def stubbed(sm_home: Path) -> Iterator[tuple[Any, Stubs]]:
    """A sagemaker backend whose every AWS call must have been stubbed, in order."""
    from sm_magics.backends.sagemaker import SageMakerBackend
    from sm_magics.ledger import Ledger

    ledger = Ledger(sm_home / "ledger.sqlite")
    backend = SageMakerBackend(aws=_session(), ledger=ledger)
    stubs = Stubs(backend)
    yield backend, stubs
    stubs.close()
    ledger.close()


@pytest.fixture(scope="session")
def moto_url() -> Iterator[str]:
    """One moto server on 127.0.0.1 for the whole session."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_backend(moto_url: str, sm_home: Path) -> Iterator[Any]:
    """A sagemaker backend on a freshly reset moto server, with its bucket made."""
    from sm_magics.backends.sagemaker import SageMakerBackend
    from sm_magics.ledger import Ledger

    request = urllib.request.Request(f"{moto_url}/moto-api/reset", data=b"", method="POST")
    urllib.request.urlopen(request).close()
    ledger = Ledger(sm_home / "ledger.sqlite")
    backend = SageMakerBackend(aws=_session(moto_url), ledger=ledger)
    backend.aws.client("s3").create_bucket(Bucket=BUCKET)
    yield backend
    ledger.close()


def queue_invoke_results(moto_url: str, results: list[dict[str, str]]) -> None:
    """Queue what moto's InvokeEndpoint answers next (one result per *new* request body)."""
    request = urllib.request.Request(
        f"{moto_url}/moto-api/static/sagemaker/endpoint-results",
        data=json.dumps({"results": results}).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    urllib.request.urlopen(request).close()


def training_job_description(
    name: str = "train-1",
    *,
    image: str = SKLEARN_IMAGE,
    hyperparameters: dict[str, str] | None = None,
    model_data: str = MODEL_URI,
) -> dict[str, Any]:
    """A ``DescribeTrainingJob`` answer with what serving reads from it."""
    from datetime import datetime, timezone

    return {
        "TrainingJobName": name,
        "TrainingJobArn": f"arn:aws:sagemaker:{REGION}:{ACCOUNT}:training-job/{name}",
        "ModelArtifacts": {"S3ModelArtifacts": model_data},
        "TrainingJobStatus": "Completed",
        "SecondaryStatus": "Completed",
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "CreationTime": datetime(2024, 1, 1, tzinfo=timezone.utc),
        "AlgorithmSpecification": {"TrainingImage": image, "TrainingInputMode": "File"},
        "HyperParameters": (
            hyperparameters
            if hyperparameters is not None
            else {
                "sagemaker_program": json.dumps("train.py"),
                "sagemaker_submit_directory": json.dumps(SOURCE_URI),
            }
        ),
    }
