"""The ``Endpoint`` handle and its helpers: payload encoding, response decoding, waiting,
logs, and the ``%sm_endpoints`` rows' cost per hour.

The endpoints here serve a tiny ``model.tar.gz`` built once for the module, with handler
scripts given as ``entry_point``; each test has its own ``SM_MAGICS_HOME`` (conftest) and
deletes what it deployed. Waits have generous timeouts that only keep a broken endpoint
from hanging the suite.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import helpers
import numpy as np
import pytest

from sm_magics import config, pricing
from sm_magics.api import Session
from sm_magics.backends.results import InvokeResult
from sm_magics.display.endpoints import EndpointRow, EndpointTable
from sm_magics.endpoint import (
    CSV,
    JSON,
    NPY,
    Endpoint,
    content_type_for_file,
    decode_response,
    encode_payload,
)
from sm_magics.errors import InvalidRequest, NotFound, SmMagicsError

WAIT = 120.0  # only against hangs

MODEL_FN = helpers.MODEL_FN

FAILING_MODEL_FN = """\
def model_fn(model_dir):
    raise RuntimeError("the weights are corrupt (test)")
"""


# -- fixtures ----------------------------------------------------------------------------------


@pytest.fixture
def session(sm_home: Path) -> Iterator[Session]:
    """A session on the test's home; every endpoint it still has is deleted at the end."""
    yield from helpers.session_deleting_endpoints()


def script(folder: Path, text: str = MODEL_FN) -> Path:
    """Write a handler script and return its path."""
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "serve.py"
    path.write_text(text)
    return path


def unique() -> str:
    return f"ep-{uuid.uuid4().hex[:10]}"


def npy(array: Any) -> bytes:
    buffer = io.BytesIO()
    np.save(buffer, np.asarray(array), allow_pickle=False)
    return buffer.getvalue()


# -- encode_payload ----------------------------------------------------------------------------


def test_bytes_go_as_they_are() -> None:
    assert encode_payload(b"\x00\x01raw") == (b"\x00\x01raw", JSON)
    assert encode_payload(bytearray(b"1,2\n"), CSV) == (b"1,2\n", CSV)
    assert encode_payload(b"x", "application/octet-stream") == (b"x", "application/octet-stream")


def test_text_that_parses_as_json_goes_as_json_else_as_csv() -> None:
    assert encode_payload("[[1, 2], [3, 4]]") == (b"[[1, 2], [3, 4]]", JSON)
    assert encode_payload('{"a": 1}') == (b'{"a": 1}', JSON)
    assert encode_payload("1,2\n3,4\n") == (b"1,2\n3,4\n", CSV)
    assert encode_payload("héllo,wörld") == ("héllo,wörld".encode(), CSV)
    # An explicit type wins over the guess.
    assert encode_payload("[1, 2]", CSV) == (b"[1, 2]", CSV)
    assert encode_payload("a,b", JSON) == (b"a,b", JSON)


def test_lists_and_dicts_go_as_json() -> None:
    body, kind = encode_payload([[1, 2.5], [3, 4]])
    assert kind == JSON
    assert json.loads(body) == [[1, 2.5], [3, 4]]
    body, kind = encode_payload({"instances": [[1, 2]]})
    assert (json.loads(body), kind) == ({"instances": [[1, 2]]}, JSON)


def test_lists_as_csv() -> None:
    assert encode_payload([[1, 2], [3, 4]], CSV) == (b"1,2\n3,4\n", CSV)
    assert encode_payload([1, 2, 3], CSV) == (b"1,2,3\n", CSV)
    assert encode_payload(((1, 2),), CSV) == (b"1,2\n", CSV)


def test_numpy_scalars_inside_lists_and_dicts_go_as_json() -> None:
    row = list(np.array([1, 2], dtype=np.int64))  # what list(X[0]) gives
    body, kind = encode_payload(row)
    assert (json.loads(body), kind) == ([1, 2], JSON)
    body, _ = encode_payload({"rows": np.array([[1.5, 2]]), "k": np.int32(3)})
    assert json.loads(body) == {"rows": [[1.5, 2.0]], "k": 3}


def test_numpy_arrays_as_json_csv_and_npy() -> None:
    array = np.array([[1.5, 2.0], [3.0, 4.25]])
    body, kind = encode_payload(array)
    assert (json.loads(body), kind) == ([[1.5, 2.0], [3.0, 4.25]], JSON)

    body, kind = encode_payload(array, CSV)
    assert kind == CSV
    assert body == b"1.5,2.0\n3.0,4.25\n"
    assert np.genfromtxt(io.StringIO(body.decode()), delimiter=",").tolist() == array.tolist()
    assert encode_payload(np.array([1, 2, 3]), CSV) == (b"1,2,3\n", CSV)

    body, kind = encode_payload(array, NPY)
    assert kind == NPY
    loaded = np.load(io.BytesIO(body), allow_pickle=False)
    assert loaded.dtype == array.dtype
    assert loaded.tolist() == array.tolist()
    # A list is sent as .npy too when that is asked for.
    body, kind = encode_payload([[1, 2]], NPY)
    assert np.load(io.BytesIO(body), allow_pickle=False).tolist() == [[1, 2]]


def test_objects_with_to_numpy_are_converted_first() -> None:
    class Frame:
        def to_numpy(self) -> np.ndarray:
            return np.array([[1, 2], [3, 4]])

    assert json.loads(encode_payload(Frame())[0]) == [[1, 2], [3, 4]]
    assert encode_payload(Frame(), CSV) == (b"1,2\n3,4\n", CSV)
    body, _ = encode_payload(Frame(), NPY)
    assert np.load(io.BytesIO(body)).tolist() == [[1, 2], [3, 4]]


def test_pandas_dataframe() -> None:
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame({"a": [1, 3], "b": [2, 4]})
    body, kind = encode_payload(frame)
    assert (json.loads(body), kind) == ([[1, 2], [3, 4]], JSON)
    assert encode_payload(frame, CSV) == (b"1,2\n3,4\n", CSV)
    body, kind = encode_payload(frame["a"], NPY)
    assert np.load(io.BytesIO(body)).tolist() == [1, 3]


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        (object(), None),
        ({1, 2}, None),
        ([1, object()], None),
        ({"a": 1}, CSV),
        (object(), CSV),
        (5, CSV),
        ({"a": 1}, NPY),
        ([object()], NPY),
    ],
)
def test_what_cannot_be_sent_is_an_invalid_request(data: Any, content_type: str | None) -> None:
    try:
        encode_payload(data, content_type)
    except InvalidRequest as exc:
        assert type(data).__name__ in str(exc)
    else:
        # A scalar as one CSV field is fine; everything else must raise.
        assert (data, content_type) == (5, CSV)
        assert encode_payload(data, content_type) == (b"5\n", CSV)


def test_content_type_for_file() -> None:
    assert content_type_for_file(Path("x.csv")) == CSV
    assert content_type_for_file(Path("X.CSV")) == CSV
    assert content_type_for_file(Path("x.json")) == JSON
    assert content_type_for_file(Path("x.npy")) == NPY
    assert content_type_for_file(Path("x.jsonl")) == "application/jsonlines"
    assert content_type_for_file(Path("x.bin")) == JSON


# -- decode_response ---------------------------------------------------------------------------


def result(body: bytes, content_type: str) -> InvokeResult:
    return InvokeResult(body=body, content_type=content_type, variant="AllTraffic")


def test_decode_json() -> None:
    assert decode_response(result(b"[0, 1]", JSON)) == [0, 1]
    assert decode_response(result(b'{"a": 1}', "application/json; charset=utf-8")) == {"a": 1}
    assert decode_response(result(b"[0, 1]", "Application/JSON")) == [0, 1]
    # Not JSON after all: the text, never an exception.
    assert decode_response(result(b"oops", JSON)) == "oops"


def test_decode_npy() -> None:
    answer = decode_response(result(npy([[1.5, 2.0]]), NPY))
    assert isinstance(answer, np.ndarray)
    assert answer.tolist() == [[1.5, 2.0]]


def test_decode_text_and_bytes() -> None:
    assert decode_response(result(b"0\n1\n", CSV)) == "0\n1\n"
    assert decode_response(result(b"hello", "text/plain; charset=utf-8")) == "hello"
    assert decode_response(result(b"\xff\xfe", "text/plain")) == "\ufffd\ufffd"
    assert decode_response(result(b"\x00\x01", "application/octet-stream")) == b"\x00\x01"
    assert decode_response(result(b"\x00\x01", "")) == b"\x00\x01"


def test_encode_then_decode_round_trips() -> None:
    array = np.arange(6.0).reshape(2, 3)
    for kind in (JSON, NPY):
        body, sent = encode_payload(array, kind)
        assert np.asarray(decode_response(result(body, sent))).tolist() == array.tolist()
    body, sent = encode_payload(array, CSV)
    text = decode_response(result(body, sent))
    assert np.genfromtxt(io.StringIO(text), delimiter=",").tolist() == array.tolist()


# -- Endpoint handles on real endpoints --------------------------------------------------------


def test_endpoint_handle_serves_and_describes(
    session: Session, model_uri: str, tmp_path: Path
) -> None:
    name = unique()
    endpoint = session.deploy(model_uri, endpoint=name, entry_point=script(tmp_path))
    assert isinstance(endpoint, Endpoint)
    assert endpoint.wait(WAIT, poll=0.05) is endpoint
    assert endpoint.status == "InService"
    assert endpoint.failure_reason is None
    assert endpoint.url is not None and endpoint.url.startswith("http://127.0.0.1:")
    assert [v["VariantName"] for v in endpoint.variants] == ["AllTraffic"]
    assert repr(endpoint) == f"<Endpoint {name} (local) InService>"
    assert endpoint.invoke([[0, 0], [3, 3]]) == [0, 1]
    assert endpoint.invoke(np.array([[3, 3]]), NPY) == [1]
    assert endpoint.invoke("3,3", accept=CSV) == "1\n"
    raw = endpoint.invoke([[0, 0]], raw=True)
    assert isinstance(raw, InvokeResult)
    assert raw.variant == "AllTraffic"
    assert json.loads(raw.body) == [0]
    # A handle made later (after a kernel restart) is the same endpoint.
    again = Session().endpoint(name)
    assert again.url == endpoint.url
    again.session.ledger.close()


def test_wait_raises_with_the_reason_when_the_endpoint_failed(
    session: Session, model_uri: str, tmp_path: Path
) -> None:
    name = unique()
    endpoint = session.deploy(
        model_uri, endpoint=name, entry_point=script(tmp_path, FAILING_MODEL_FN)
    )
    with pytest.raises(InvalidRequest, match="the weights are corrupt") as caught:
        endpoint.wait(WAIT, poll=0.05)
    assert name in str(caught.value)
    assert "failed" in str(caught.value)
    assert endpoint.status == "Failed"
    reason = endpoint.failure_reason
    assert reason is not None and "the weights are corrupt (test)" in reason
    with pytest.raises(SmMagicsError):
        endpoint.invoke([[0, 0]])
    assert "[AllTraffic-1]" in endpoint.logs()


def test_logs_prefix_every_line_with_variant_and_worker(
    session: Session, model_uri: str, tmp_path: Path
) -> None:
    name = unique()
    endpoint = session.deploy(
        model_uri, endpoint=name, entry_point=script(tmp_path), instance_count=2
    )
    endpoint.wait(WAIT, poll=0.05)
    with pytest.raises(SmMagicsError, match="features"):
        endpoint.invoke([[1, 2, 3]])

    # The worker answers the error before its log pump has written the traceback's lines,
    # and the second worker's "Model loaded" may come after InService: read until both are
    # there (this was flaky under load).
    def complete() -> str | None:
        text = endpoint.logs()
        loaded = sum("Model loaded" in line for line in text.splitlines())
        return text if "features" in text and loaded >= 2 else None

    text = helpers.wait_until(complete, WAIT, what="the error and both workers' lines")
    lines = text.splitlines()
    assert lines
    assert all(line.startswith(("[AllTraffic-1] ", "[AllTraffic-2] ")) for line in lines), text
    loaded = [line for line in lines if "Model loaded" in line]
    assert sorted(line.split("]")[0] for line in loaded) == ["[AllTraffic-1", "[AllTraffic-2"]
    assert any("features" in line for line in lines)
    # read_logs with a cursor gives only what is new.
    batch = endpoint.read_logs()
    while batch.events:
        batch = endpoint.read_logs(batch.cursor)
    assert endpoint.read_logs(batch.cursor).events == []


def test_unknown_endpoint(session: Session) -> None:
    with pytest.raises(NotFound, match="no-such-endpoint"):
        session.endpoint("no-such-endpoint")


# -- rows and cost per hour ----------------------------------------------------------------------


def description(*variants: dict[str, Any]) -> dict[str, Any]:
    return {
        "EndpointName": "costly",
        "EndpointStatus": "InService",
        "ProductionVariants": list(variants),
        "Url": "http://127.0.0.1:1",
    }


def test_row_cost_is_the_sum_of_the_variants_hosting_prices() -> None:
    region = "us-east-1"
    row = EndpointRow.from_description(
        description(
            {
                "VariantName": "AllTraffic",
                "CurrentWeight": 0.8,
                "InstanceType": "ml.m5.large",
                "DesiredInstanceCount": 2,
                "CurrentInstanceCount": 2,
            },
            {
                "VariantName": "b",
                "CurrentWeight": 0.2,
                "InstanceType": "ml.c5.xlarge",
                "DesiredInstanceCount": 1,
                "CurrentInstanceCount": 0,
            },
        ),
        "local",
        None,
    )
    first = pricing.hourly_cost("ml.m5.large", 2, region, usage="hosting")
    second = pricing.hourly_cost("ml.c5.xlarge", 1, region, usage="hosting")
    assert first is not None and second is not None
    assert row.cost_per_hour == pytest.approx(first + second)
    assert row.variant_text == "AllTraffic=0.8, b=0.2"
    assert row.ttl_text == "-"
    table = EndpointTable([row])
    assert pricing.format_usd(first + second) in repr(table)


def test_row_cost_is_unknown_when_one_price_is() -> None:
    row = EndpointRow.from_description(
        description(
            {"VariantName": "a", "InstanceType": "ml.m5.large", "DesiredInstanceCount": 1},
            {"VariantName": "b", "InstanceType": "ml.nosuch.large", "DesiredInstanceCount": 1},
        ),
        "local",
        None,
    )
    assert row.cost_per_hour is None
    assert pricing.format_usd(None) in repr(EndpointTable([row])).splitlines()[1]


def test_row_of_a_live_endpoint(session: Session, model_uri: str, tmp_path: Path) -> None:
    name = unique()
    endpoint = session.deploy(
        model_uri,
        endpoint=name,
        entry_point=script(tmp_path),
        instance_type="ml.c5.xlarge",
        instance_count=2,
        ttl="1h",
    )
    endpoint.wait(WAIT, poll=0.05)
    row = endpoint.row()
    expected = pricing.hourly_cost("ml.c5.xlarge", 2, config.default_region(), usage="hosting")
    assert expected is not None
    assert row.cost_per_hour == pytest.approx(expected)
    assert row.status == "InService"
    assert row.url == endpoint.url
    assert row.ttl_at is not None
    table = session.endpoints()
    assert [r.name for r in table] == [name]
    assert table.rows[0].cost_per_hour == pytest.approx(expected)
    # Deleted: gone from the table, and the ledger says so.
    endpoint.delete()
    assert len(session.endpoints()) == 0
    record = session.ledger.get_endpoint(name)
    assert record is not None and record.status == "Deleted"
    with pytest.raises(NotFound):
        session.endpoint(name)


# -- updates -----------------------------------------------------------------------------------


def applied(endpoint: Endpoint) -> dict[str, Any] | None:
    """Return the description once the endpoint is InService with every variant as desired."""
    description = endpoint.describe()
    done = description["EndpointStatus"] == "InService" and all(
        v["CurrentWeight"] == v["DesiredWeight"]
        and v["CurrentInstanceCount"] == v["DesiredInstanceCount"]
        for v in description["ProductionVariants"]
    )
    return description if done else None


def test_a_failed_update_is_forgotten_by_the_next_one(
    session: Session, model_uri: str, tmp_path: Path
) -> None:
    """A variant whose start failed was rolled back; changing weights later leaves it out."""
    name = unique()
    endpoint = session.deploy(model_uri, endpoint=name, entry_point=script(tmp_path / "a"))
    endpoint.wait(WAIT, poll=0.05)
    # No handlers for b (no entry point, no job, no code/inference.py): its start fails.
    session.deploy(model_uri, endpoint=name, variants={"b": 0.5})
    description = helpers.wait_until(
        lambda: (d := endpoint.describe()).get("LastUpdateError") and d, WAIT, what="the failure"
    )
    assert "model_fn" in description["LastUpdateError"]
    assert [v["VariantName"] for v in description["ProductionVariants"]] == ["AllTraffic"]
    assert endpoint.invoke([[3, 3]]) == [1]

    session.deploy(endpoint=name, variants={"AllTraffic": 0.5})
    description = helpers.wait_until(lambda: applied(endpoint), WAIT, what="the new weight")
    assert [(v["VariantName"], v["CurrentWeight"]) for v in description["ProductionVariants"]] == [
        ("AllTraffic", 0.5)
    ]
    assert "LastUpdateError" not in description
    # And b can be added properly now.
    session.deploy(
        model_uri, endpoint=name, variants={"b": 0.5}, entry_point=script(tmp_path / "b")
    )
    description = helpers.wait_until(lambda: applied(endpoint), WAIT, what="variant b")
    assert sorted(v["VariantName"] for v in description["ProductionVariants"]) == [
        "AllTraffic",
        "b",
    ]
    assert endpoint.invoke([[3, 3]], variant="b") == [1]
