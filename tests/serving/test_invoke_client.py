"""The kernel's side of an invocation: SageMaker's limits before sending, kept-alive connections.

``Endpoint.invoke`` (hence ``%sm_invoke`` and the REST route) refuses a body over the
endpoint's limit before anything is sent, reuses one connection per router instead of a
new one per call, and finds a router again when the one it knew went away.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import psutil
import pytest

from sm_magics.api import Session
from sm_magics.backends.specs import AsyncInferenceSpec, EndpointSpec
from sm_magics.errors import InvalidRequest, PayloadTooLarge

from .conftest import ROW, ROW_CLASS, Endpoints


def _connections_to(port: int) -> int:
    """How many established TCP connections this process has to ``port``."""
    return sum(
        1
        for c in psutil.Process(os.getpid()).net_connections(kind="tcp")
        if c.raddr and c.raddr.port == port and c.status == psutil.CONN_ESTABLISHED
    )


def test_invocations_reuse_one_connection(endpoints: Endpoints) -> None:
    name = endpoints.deploy()
    port = int(endpoints.url(name).rsplit(":", 1)[1])
    endpoint = Session().endpoint(name)
    for _ in range(20):
        assert endpoint.invoke([ROW]) == [ROW_CLASS]
    # One kept-alive connection, not twenty opened and closed.
    assert _connections_to(port) == 1


def test_a_body_over_the_limit_is_refused_before_it_is_sent(endpoints: Endpoints) -> None:
    name = endpoints.deploy()
    endpoint = Session().endpoint(name)
    with pytest.raises(PayloadTooLarge, match="6,291,456"):
        endpoint.invoke(b"1" * 6_291_457, content_type="text/csv")
    assert isinstance(PayloadTooLarge("x"), InvalidRequest)  # %sm_invoke shows one line
    endpoints.wait(name, lambda d: d["ProductionVariants"][0]["Invocations"] == 0, "stats")
    assert endpoint.invoke([ROW]) == [ROW_CLASS]


def test_an_async_payload_inline_is_at_most_128000_bytes(
    endpoints: Endpoints, tmp_path: Path
) -> None:
    name = "ep-async-limit"
    endpoints.backend.create_endpoint(
        EndpointSpec(
            name=name,
            variants=[endpoints.variant()],
            async_inference=AsyncInferenceSpec(output_uri=(tmp_path / "out").as_uri()),
        )
    )
    endpoints.names.append(name)
    endpoints.wait_status(name)
    endpoint = Session().endpoint(name)
    with pytest.raises(PayloadTooLarge, match="128,000"):
        endpoint.invoke(b" " * 128_001, content_type="application/json")
    queued = endpoint.invoke([ROW])
    assert queued.result(timeout=60, poll=0.1) == [ROW_CLASS]


def test_a_recreated_endpoint_is_found_again(endpoints: Endpoints) -> None:
    name = endpoints.deploy()
    endpoint = Session().endpoint(name)
    assert endpoint.invoke([ROW]) == [ROW_CLASS]
    old_url = endpoints.url(name)
    endpoints.backend.delete_endpoint(name)
    with pytest.raises(Exception, match=name):  # gone: NotFound, not a hang or a reset
        endpoint.invoke([ROW])
    # Keep the old port busy so the new router cannot get it: the URL must be re-read.
    with socket.socket() as squatter:
        squatter.bind(("127.0.0.1", int(old_url.rsplit(":", 1)[1])))
        endpoints.deploy(name=name)
        assert endpoints.url(name) != old_url
        assert endpoint.invoke([ROW]) == [ROW_CLASS]
