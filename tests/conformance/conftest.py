"""Fixtures of the conformance suite that are not a backend's: moto, a hermetic AWS setup.

Nothing here talks to AWS. The moto server (``ThreadedMotoServer`` on 127.0.0.1, port
chosen by the OS) is started once for the session, only if a sagemaker scenario asks for
it, and emptied before each test that uses it. ``fake_aws_env`` pins fake credentials and
a region and hides the machine's AWS configuration, so a developer's profile can never be
used by accident.
"""

from __future__ import annotations

import logging
import os
import sys
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

# ``tests/sagemaker/sm_fakes.py`` (its ``ScriptedSageMaker``), importable as the sagemaker
# tests import it, whether or not those tests are collected in the same run.
sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "sagemaker"))

REGION = "us-east-1"


@pytest.fixture(scope="session")
def conformance_moto_server() -> Iterator[str]:
    """One moto server on 127.0.0.1 for the session; its base URL.

    Plain moto, nothing scripted: where it stops for SageMaker, the sagemaker backend's
    fixture (``test_sagemaker.py``) takes over, and its docstring says where.
    """
    from moto.server import ThreadedMotoServer

    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # one line per request otherwise
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture
def moto_url(conformance_moto_server: str) -> str:
    """The moto server, emptied of what earlier tests created."""
    request = urllib.request.Request(
        f"{conformance_moto_server}/moto-api/reset", data=b"", method="POST"
    )
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(request, timeout=30) as response:
        assert response.status == 200
    return conformance_moto_server


@pytest.fixture
def fake_aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Fake credentials and region; no config file, profile, endpoint or IMDS of this machine."""
    from sm_magics.backends.sagemaker import aws as aws_module

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
