"""Fixtures of the sagemaker backend's tests: fake credentials, Stubber, moto, the ledger.

No test here talks to AWS. Every test runs with fake static credentials, a fixed region,
the instance metadata service disabled (so botocore never probes 169.254.169.254) and no
AWS configuration file, and with the notebook metadata file pointed at a path that does
not exist, whatever the machine has.

Two ways to play AWS:

* ``stubs``: botocore's ``Stubber`` on the very clients an :class:`AwsSession` made.
  Every request the backend makes is validated against the real service model, and the
  test states exactly which calls happen, in order. A test fails if a stubbed response
  was not used.
* ``moto_url``: one moto server for the session (``ThreadedMotoServer`` on 127.0.0.1,
  port chosen by the OS), reset before each test that asks for it.
"""

from __future__ import annotations

import logging
import os
import urllib.request
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sm_fakes import BUCKET, REGION, ROLE, Stubs

from sm_magics.backends.sagemaker import aws as aws_module
from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.ledger import Ledger


@pytest.fixture(autouse=True)
def fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials, a region, no config files, no IMDS, no notebook metadata."""
    for name in list(os.environ):
        if name.startswith("AWS_") or name in ("SM_MAGICS_ROLE", "SM_MAGICS_BUCKET"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_SESSION_TOKEN", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setattr(aws_module, "NOTEBOOK_METADATA_FILE", tmp_path / "no-metadata.json")


@pytest.fixture
def aws() -> AwsSession:
    """A session with a known role and bucket (nothing to discover)."""
    return AwsSession(REGION, role=ROLE, bucket=BUCKET)


@pytest.fixture
def stubs(aws: AwsSession) -> Iterator[Stubs]:
    """Stubbers on ``aws``'s clients; every queued response must have been used."""
    stubs = Stubs(aws)
    yield stubs
    try:
        stubs.assert_done()
    finally:
        stubs.deactivate()


@pytest.fixture
def ledger(sm_home: Path) -> Iterator[Ledger]:
    ledger = Ledger()
    yield ledger
    ledger.close()


@pytest.fixture
def backend(aws: AwsSession, ledger: Ledger) -> Any:
    """A ``SageMakerBackend`` on the stubbable session, with a VPC configured."""
    from sm_magics.backends.options import BackendOptions
    from sm_magics.backends.sagemaker import SageMakerBackend

    return SageMakerBackend(
        aws=aws,
        ledger=ledger,
        options=BackendOptions.from_mapping(
            {"subnets": ["subnet-0a1b2c3d"], "security_group_ids": "sg-0123abcd,sg-4567ef01"}
        ),
    )


# -- moto ---------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def moto_server() -> Iterator[str]:
    """One moto server on 127.0.0.1 for the whole session; its base URL."""
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_url(moto_server: str) -> str:
    """The moto server, emptied of what earlier tests created."""
    request = urllib.request.Request(f"{moto_server}/moto-api/reset", data=b"", method="POST")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        assert response.status == 200
    return moto_server
