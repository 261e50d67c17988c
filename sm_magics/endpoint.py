"""The ``Endpoint`` handle, request payloads, and the ``%sm_endpoints`` table.

Like a ``Job``, an ``Endpoint`` is a name and a backend: every property asks the backend,
so handles never go stale and survive a kernel restart (``Session().endpoint(name)``).
"""

from __future__ import annotations

import functools
import io
import json
import re
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics import limits
from sm_magics.backends import base, statuses
from sm_magics.backends.results import AsyncInvokeResult, InvokeResult, LogBatch, LogCursor
from sm_magics.display import widget_bundle, widgets_available
from sm_magics.display.endpoints import EndpointRow
from sm_magics.durations import parse_duration
from sm_magics.errors import InvalidRequest, ModelError, NotFound, SmMagicsError, WaitTimeout

if TYPE_CHECKING:
    from sm_magics.api import Session
    from sm_magics.backends.descriptions import EndpointDescription, ServedVariantDescription
    from sm_magics.ledger_records import EndpointRecord

JSON = "application/json"
CSV = "text/csv"
NPY = "application/x-npy"
_EXTENSION_TYPES = {".json": JSON, ".csv": CSV, ".npy": NPY, ".jsonl": "application/jsonlines"}


def content_type_for_file(path: Path) -> str:
    """Guess a request's content type from a file's extension (JSON when unknown)."""
    return _EXTENSION_TYPES.get(path.suffix.lower(), JSON)


_HEADER_VALUE = re.compile(r"[\x21-\x7e][\x20-\x7e]*")


def _check_header(flag: str, value: str | None) -> None:
    """Refuse a media type an HTTP header cannot carry (non-ASCII, control characters).

    SageMaker's ``ContentType`` and ``Accept`` are header values; ``http.client`` would
    raise ``UnicodeEncodeError`` or refuse a line break deep inside the request.
    """
    if value is not None and (len(value) > 1024 or not _HEADER_VALUE.fullmatch(value)):
        raise InvalidRequest(
            f"{flag} {value[:60]!r} is not a media type an HTTP header can carry: printable "
            "ASCII only, such as text/csv or application/json."
        )


def encode_payload(data: object, content_type: str | None = None) -> tuple[bytes, str]:
    """Return ``(body, content type)`` for a Python value, as ``%sm_invoke`` sends it.

    Bytes and text go as they are (text that parses as JSON is sent as JSON, else as CSV);
    numpy arrays go as JSON lists, or as ``.npy`` when that type is asked for; anything
    else is JSON-encoded.
    """
    if isinstance(data, (bytes, bytearray)):
        return bytes(data), content_type or JSON
    if isinstance(data, str):
        if content_type is None:
            try:
                json.loads(data)
                content_type = JSON
            except ValueError:
                content_type = CSV
        return data.encode(), content_type
    if hasattr(data, "to_numpy"):  # a pandas DataFrame or Series
        data = data.to_numpy()
    if content_type == NPY:
        import numpy as np

        buffer = io.BytesIO()
        try:
            np.save(buffer, np.asarray(data), allow_pickle=False)
        except ValueError as exc:  # object arrays: dicts, mixed or ragged lists
            raise InvalidRequest(
                f"Cannot send a {type(data).__name__} as {NPY}: {exc}. Pass a numeric array."
            ) from None
        return buffer.getvalue(), NPY
    if content_type == CSV:
        rows = data.tolist() if hasattr(data, "tolist") else data
        if isinstance(rows, (int, float, str)):
            rows = [[rows]]
        if not isinstance(rows, (list, tuple)):
            raise InvalidRequest(
                f"Cannot send a {type(data).__name__} as {CSV}: pass rows (a list of lists "
                "or a 2-D array), or text."
            )
        if rows and not isinstance(rows[0], (list, tuple)):
            rows = [rows]
        text = "\n".join(",".join(str(v) for v in row) for row in rows) + "\n"
        return text.encode(), CSV
    if hasattr(data, "tolist"):
        data = data.tolist()
    try:
        # numpy scalars and arrays inside lists or dicts ([np.int64(1)], {"x": array})
        return json.dumps(data, default=_json_default).encode(), content_type or JSON
    except TypeError as exc:
        raise InvalidRequest(
            f"Cannot send a {type(data).__name__}: {exc}. Pass JSON-able data, a numpy "
            "array, bytes, or text."
        ) from None


def _json_default(value: object) -> object:
    if hasattr(value, "tolist"):
        return value.tolist()
    raise TypeError(f"Object of type {type(value).__name__} is not JSON serializable")


def decode_response(result: InvokeResult) -> Any:
    """Return a response as Python: JSON decoded, ``.npy`` as an array, text as ``str``."""
    kind = result.content_type.split(";", 1)[0].strip().lower()
    if kind == JSON:
        try:
            return json.loads(result.body)
        except ValueError:
            return result.body.decode(errors="replace")
    if kind == NPY:
        import numpy as np

        return np.load(io.BytesIO(result.body), allow_pickle=False)
    if kind.startswith("text/"):
        return result.body.decode(errors="replace")
    return result.body


class Endpoint:
    """A handle on one endpoint. Displayed in a notebook it is a live widget."""

    def __init__(
        self, session: Session, name: str, backend: str, *, region: str | None = None
    ) -> None:
        self.session = session
        self.name = name
        self.backend_name = backend
        #: The endpoint's region (``None``: the session's).
        self.region = region
        #: Remarks from the last deploy (autoscaling set up, options recorded, ...).
        self.notes: list[str] = []
        #: ``(asynchronous, serverless)`` as the ledger said at the first invocation: read
        #: once, not per request (an endpoint's kind never changes under its name while
        #: it lives); dropped whenever an invocation fails, so a re-created one is re-read.
        self._kind: tuple[bool, bool] | None = None

    @classmethod
    def from_record(cls, session: Session, record: EndpointRecord) -> Endpoint:
        """Return the handle of a ledger row: its backend and region."""
        return cls(session, record.name, record.backend, region=record.region)

    @property
    def backend(self) -> base.Backend:
        """The backend serving this endpoint (in the endpoint's region)."""
        return self.session.backend(self.backend_name, self.region)

    def describe(self) -> EndpointDescription:
        """Return the backend's ``DescribeEndpoint`` response."""
        return self.backend.describe_endpoint(self.name)

    @property
    def status(self) -> str:
        """``Creating``, ``InService``, ``Updating``, ``Deleting`` or ``Failed``."""
        return str(self.describe()["EndpointStatus"])

    @property
    def url(self) -> str | None:
        """Base URL: ``boto3.client("sagemaker-runtime", endpoint_url=url)`` reaches it."""
        url = self.describe().get("Url")
        return str(url) if url else None

    @property
    def variants(self) -> list[ServedVariantDescription]:
        """Production variants: name, weights, instance counts, invocations, latency."""
        return list(self.describe()["ProductionVariants"])

    @property
    def failure_reason(self) -> str | None:
        """Why the endpoint failed, if it did."""
        reason = self.describe().get("FailureReason")
        return str(reason) if reason else None

    def wait(self, timeout: str | float | None = "15m", *, poll: float | None = None) -> Endpoint:
        """Block until the endpoint is ``InService``; return ``self``.

        ``poll`` defaults to the backend's pace, as :meth:`Job.wait`'s does: a quarter
        second locally, a few seconds on SageMaker, where ``DescribeEndpoint`` is rate
        limited (at 0.25 s one deploy took about 2,400 calls).

        Raises
        ------
        InvalidRequest
            It went ``Failed`` (the message is the reason).
        WaitTimeout
            ``timeout`` passed first.
        """
        if poll is None:
            poll = max(0.25, self.backend.status_poll_interval / 2)
        deadline = time.monotonic() + parse_duration(timeout) if timeout is not None else None
        while True:
            description = self.describe()
            status = description["EndpointStatus"]
            if status == statuses.IN_SERVICE:
                return self
            if status == "Failed":
                raise InvalidRequest(
                    f"Endpoint {self.name} failed: {description.get('FailureReason')}"
                )
            if deadline is not None and time.monotonic() >= deadline:
                raise WaitTimeout(f"Endpoint {self.name} is still {status} after {timeout}.")
            time.sleep(poll)

    def invoke(
        self,
        data: object,
        content_type: str | None = None,
        accept: str | None = None,
        variant: str | None = None,
        *,
        raw: bool = False,
    ) -> Any:
        """Send ``data`` and return the decoded response (or the raw ``InvokeResult``).

        On an asynchronous endpoint (deployed with ``--async-output``) the request is
        queued instead and an :class:`AsyncInference` is returned at once.

        Raises
        ------
        PayloadTooLarge
            The body is over SageMaker's limit for this kind of endpoint (6 MB real-time,
            4 MB serverless): refused here, before anything is sent, as SageMaker would.
        """
        for flag, value in (("--content-type", content_type), ("--accept", accept)):
            _check_header(flag, value)
        body, kind = encode_payload(data, content_type)
        asynchronous, serverless = self._kind or self._read_kind()
        try:
            if asynchronous:
                queued = self.backend.invoke_endpoint_async(
                    self.name, body, content_type=kind, accept=accept
                )
                return AsyncInference(self.backend, queued)
            limits.check_payload(len(body), serverless=serverless)
            result = self.backend.invoke_endpoint(
                self.name, body, content_type=kind, accept=accept, target_variant=variant
            )
        except SmMagicsError:
            self._kind = None
            raise
        return result if raw else decode_response(result)

    def _read_kind(self) -> tuple[bool, bool]:
        """Read (and remember) whether the endpoint is asynchronous, and serverless."""
        record = self.session.ledger.get_endpoint(self.name)
        spec = (record.spec if record is not None else None) or {}
        variants = spec.get("variants") if isinstance(spec, dict) else None
        serverless = any(
            isinstance(v, dict) and v.get("serverless_memory_mb") for v in variants or []
        )
        self._kind = (bool(spec.get("async")), serverless)
        return self._kind

    @property
    def is_async(self) -> bool:
        """Whether the endpoint was deployed asynchronous (``--async-output``), per the ledger."""
        return self._read_kind()[0]

    def delete(self) -> None:
        """Delete the endpoint; when this returns, nothing of it runs or listens."""
        self.backend.delete_endpoint(self.name)

    def read_logs(self, cursor: LogCursor | None = None) -> LogBatch:
        """Return log lines after ``cursor`` (every variant and worker)."""
        return self.backend.read_endpoint_logs(self.name, cursor)

    def logs(self) -> str:
        """Return all log lines so far, each prefixed ``[<variant>-<worker>]``."""
        lines = []
        batch = self.read_logs()
        while batch.events:
            lines += [f"[{e.host}] {e.message}" for e in batch.events]
            batch = self.read_logs(batch.cursor)
        return "\n".join(lines)

    def row(self) -> EndpointRow:
        """Return this endpoint as a table row, from a fresh describe."""
        record = self.session.ledger.get_endpoint(self.name)
        return EndpointRow.from_description(self.describe(), self.backend_name, record)

    def __repr__(self) -> str:
        # The ledger row, never the backend: a variable inspector calls repr on every
        # refresh, which must cost no AWS call and write nothing.
        try:
            record = self.session.ledger.get_endpoint(self.name)
        except Exception:  # noqa: BLE001 - a repr must never raise
            record = None
        if record is None:
            return f"<Endpoint {self.name} ({self.backend_name})>"
        return f"<Endpoint {self.name} ({self.backend_name}) {record.status}>"

    def _repr_mimebundle_(
        self, include: object = None, exclude: object = None
    ) -> dict[str, object]:
        make_widget = None
        if widgets_available():
            from sm_magics.widgets import EndpointWidget

            make_widget = functools.partial(EndpointWidget, self)
        return widget_bundle(repr(self), make_widget, include, exclude, html=self._snapshot_html())

    def _snapshot_html(self) -> str | None:
        """Return the static HTML shown where the widget cannot be (no kernel, nbconvert)."""
        from sm_magics.display.endpoints import endpoint_header_html
        from sm_magics.display.jobs import snapshot_html

        try:
            header = endpoint_header_html(self.describe(), self.backend_name)
        except Exception:  # noqa: BLE001 - a display must never raise
            return None
        return snapshot_html(header, self.name)


class AsyncInference:
    """A request queued on an asynchronous endpoint: where its answer will be, and the wait.

    ``output_location`` is where SageMaker (or, emulated, the local backend) writes the
    answer; ``failure_location`` where it writes the error if the model fails.
    :meth:`result` polls both and returns the decoded answer.
    """

    def __init__(self, backend: base.Backend, queued: AsyncInvokeResult) -> None:
        self.backend = backend
        self.inference_id = queued.inference_id
        self.output_location = queued.output_location
        self.failure_location = queued.failure_location

    def _read(self, uri: str | None) -> bytes | None:
        import tempfile

        if not uri:
            return None
        with tempfile.TemporaryDirectory(prefix="sm-magics-async-") as tmp:
            target = Path(tmp) / "answer"
            try:
                self.backend.fetch(uri, target)
            except (NotFound, FileNotFoundError):
                return None
            return target.read_bytes()

    def done(self) -> bool:
        """Whether the answer (or the failure) has been written."""
        return self._read(self.output_location) is not None or (
            self._read(self.failure_location) is not None
        )

    def result(self, timeout: float = 600.0, poll: float = 2.0) -> Any:
        """Wait for the answer and return it decoded (JSON, CSV text or bytes).

        Raises
        ------
        ModelError
            The endpoint wrote the request's failure instead.
        TimeoutError
            No answer within ``timeout`` seconds.
        """
        deadline = time.monotonic() + timeout
        while True:
            body = self._read(self.output_location)
            if body is not None:
                try:  # an output file has no content type: JSON if it parses, else text
                    return json.loads(body)
                except ValueError:
                    try:
                        return body.decode()
                    except UnicodeDecodeError:
                        return body
            error = self._read(self.failure_location)
            if error is not None:
                raise ModelError(error.decode(errors="replace"))
            if time.monotonic() >= deadline:
                raise TimeoutError(f"No answer at {self.output_location} after {timeout:.0f} s.")
            time.sleep(poll)

    def __repr__(self) -> str:
        return (
            f"AsyncInference({self.inference_id}: output {self.output_location}"
            + (f", failure {self.failure_location}" if self.failure_location else "")
            + ")"
        )
