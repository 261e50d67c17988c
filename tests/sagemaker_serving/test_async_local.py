"""Asynchronous inference on the local backend: emulated, the answer file written at once.

The request runs on the endpoint as a real-time one; its answer is written where
SageMaker would write it (``<--async-output>/<inference id>.out``), so a notebook that
waits on the output location reads it the same way on both backends.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from sm_magics.backends import base
from sm_magics.backends.local.endpoints import LocalEndpoints
from sm_magics.backends.results import InvokeResult
from sm_magics.backends.specs import AsyncInferenceSpec
from sm_magics.endpoint import AsyncInference
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord


class _Answering(LocalEndpoints):
    """The local endpoints mixin with the HTTP call replaced: no router process needed."""

    name = "local"

    def __init__(self, ledger: Ledger, answer: bytes | Exception) -> None:
        self.ledger = ledger
        self.answer = answer

    def invoke_endpoint(self, name: str, body: bytes, **_: object) -> InvokeResult:
        if isinstance(self.answer, Exception):
            raise self.answer
        return InvokeResult(self.answer, "application/json", "AllTraffic")

    def fetch(self, uri: str, dest: Path) -> None:
        base.Backend.fetch(self, uri, dest)  # type: ignore[arg-type]


def _record(ledger: Ledger, name: str, spec: dict[str, object]) -> None:
    ledger.insert_endpoint(
        EndpointRecord(name=name, backend="local", status="InService", created_at=0.0, spec=spec)
    )


def test_async_invoke_writes_the_answer_where_sagemaker_would(tmp_path: Path) -> None:
    from sm_magics.errors import ModelError

    ledger = Ledger()
    out, failed = tmp_path / "out", tmp_path / "failed"
    _record(
        ledger,
        "aep",
        {"variants": [], "async": AsyncInferenceSpec(str(out), str(failed)).to_json()},
    )
    backend = _Answering(ledger, b'{"predictions": [1]}')
    queued = backend.invoke_endpoint_async("aep", b"[[1]]", content_type="application/json")
    assert queued.output_location == (out / f"{queued.inference_id}.out").as_uri()
    handle = AsyncInference(backend, queued)  # type: ignore[arg-type]
    assert handle.done()
    assert handle.result(timeout=0) == {"predictions": [1]}

    backend.answer = ModelError("model_fn raised KeyError", status=500, variant=None)
    queued = backend.invoke_endpoint_async("aep", b"[[1]]", content_type="application/json")
    assert Path(queued.failure_location.removeprefix("file://")).parent == failed
    with pytest.raises(ModelError, match="KeyError"):
        AsyncInference(backend, queued).result(timeout=0)  # type: ignore[arg-type]


def test_async_invoke_of_a_real_time_or_unknown_endpoint_is_refused(tmp_path: Path) -> None:
    ledger = Ledger()
    _record(ledger, "rt", {"variants": []})
    backend = _Answering(ledger, b"{}")
    with pytest.raises(InvalidRequest, match="--async-output"):
        backend.invoke_endpoint_async("rt", b"[[1]]", content_type="application/json")
    with pytest.raises(NotFound):
        backend.invoke_endpoint_async("ghost", b"[[1]]", content_type="application/json")


def test_a_backend_without_async_says_so() -> None:
    class Plain:
        name = "plain"

    with pytest.raises(InvalidRequest, match="no asynchronous endpoints"):
        base.Backend.invoke_endpoint_async(Plain(), "x", b"", content_type="a")  # type: ignore[arg-type]
