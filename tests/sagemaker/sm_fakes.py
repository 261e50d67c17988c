"""Shared constants, Stubber sets, and small fakes for what neither Stubber nor moto plays.

* :class:`Stubs`: an activated ``Stubber`` per service on an :class:`AwsSession`'s clients.

* :class:`FakeLogs`: CloudWatch Logs in memory, for the log reader's tests. It pages as
  AWS does (``nextForwardToken``, the same token handed back at the end, 10,000 events or
  1 MB a page, ``DescribeLogStreams`` by 50 with ``nextToken``), counts calls, and can be
  told to throttle, to return an empty page with a new token ("empty results while more
  events are available", as AWS documents), or to reject an expired token. Every request
  is first validated against botocore's real ``logs`` service model, as Stubber would.
* :class:`FakeClock`: wall time that tests move by hand.
* :class:`ScriptedSageMaker`: a moto ``sagemaker`` client whose training jobs go through
  the statuses a test scripts, and which can stop them. moto marks every job
  ``Completed`` the moment it is created and has no ``StopTrainingJob`` (HTTP 500).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Callable
from typing import Any

import botocore.session
from botocore.exceptions import ClientError
from botocore.stub import Stubber
from botocore.validate import validate_parameters

from sm_magics.backends.sagemaker.aws import AwsSession

REGION = "us-east-1"
ACCOUNT = "123456789012"
ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/SageMakerExecution"
BUCKET = "sm-magics-test-bucket"

_LOGS_MODEL = botocore.session.get_session().get_service_model("logs")
_SM_MODEL = botocore.session.get_session().get_service_model("sagemaker")


def client_error(code: str, message: str, operation: str) -> ClientError:
    """Return the ``ClientError`` botocore raises for an AWS error response."""
    return ClientError(
        {"Error": {"Code": code, "Message": message}, "ResponseMetadata": {"HTTPStatusCode": 400}},
        operation,
    )


class Stubs:
    """One activated ``Stubber`` per service of an :class:`AwsSession`, made on first use."""

    def __init__(self, aws: AwsSession) -> None:
        self.aws = aws
        self._stubbers: dict[str, Stubber] = {}

    def __getitem__(self, service: str) -> Stubber:
        if service not in self._stubbers:
            stubber = Stubber(self.aws.client(service))
            stubber.activate()
            self._stubbers[service] = stubber
        return self._stubbers[service]

    def assert_done(self) -> None:
        for stubber in self._stubbers.values():
            stubber.assert_no_pending_responses()

    def deactivate(self) -> None:
        for stubber in self._stubbers.values():
            stubber.deactivate()


class FakeClock:
    """Seconds since the epoch, moved only by :meth:`advance` (and by ``sleep``)."""

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self.now = start
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds

    @property
    def ms(self) -> int:
        return int(self.now * 1000)


class FakeLogs:
    """CloudWatch Logs in memory: one log group's worth of streams, paged like AWS."""

    def __init__(self, *, list_page_size: int = 50) -> None:
        self.streams: dict[str, dict[str, list[dict[str, Any]]]] = {}
        self.calls: Counter[str] = Counter()
        self.requests: list[tuple[str, dict[str, Any]]] = []
        self.list_page_size = list_page_size
        #: operation -> error codes to raise on its next calls, one per call ("" = none).
        self.fail_next: dict[str, list[str]] = {}
        #: get_log_events calls (by stream) that answer an empty page with a moved token.
        self.empty_page_next: Counter[str] = Counter()
        #: filter_log_events calls that answer an empty page with a nextToken (AWS searches
        #: in slices and may hand back "nothing yet, go on" pages).
        self.filter_empty_next = 0
        self._lock = threading.Lock()

    # -- writing ------------------------------------------------------------------------------

    def create_stream(self, group: str, stream: str) -> None:
        with self._lock:
            self.streams.setdefault(group, {}).setdefault(stream, [])

    def put(self, group: str, stream: str, timestamp: int, message: str) -> None:
        with self._lock:
            self.streams.setdefault(group, {}).setdefault(stream, []).append(
                {"timestamp": timestamp, "message": message, "ingestionTime": timestamp}
            )

    # -- the API ------------------------------------------------------------------------------

    def _enter(self, operation: str, api: str, params: dict[str, Any]) -> None:
        validate_parameters(params, _LOGS_MODEL.operation_model(api).input_shape)
        self.calls[operation] += 1
        self.requests.append((operation, dict(params)))
        queue = self.fail_next.get(operation)
        if queue:
            code = queue.pop(0)  # "" lets this call through
            if code:
                raise client_error(code, f"fake {code}", api)

    def describe_log_streams(self, **params: Any) -> dict[str, Any]:
        self._enter("describe_log_streams", "DescribeLogStreams", params)
        with self._lock:
            group = self.streams.get(params["logGroupName"])
            if group is None:
                raise client_error(
                    "ResourceNotFoundException",
                    "The specified log group does not exist.",
                    "DescribeLogStreams",
                )
            prefix = params.get("logStreamNamePrefix", "")
            names = sorted(n for n in group if n.startswith(prefix))
        start = int(params["nextToken"]) if "nextToken" in params else 0
        limit = min(params.get("limit", 50), self.list_page_size)
        page = names[start : start + limit]
        result: dict[str, Any] = {
            "logStreams": [{"logStreamName": n, "storedBytes": 0} for n in page]
        }
        if start + limit < len(names):
            result["nextToken"] = str(start + limit)
        return result

    def get_log_events(self, **params: Any) -> dict[str, Any]:
        self._enter("get_log_events", "GetLogEvents", params)
        assert params.get("startFromHead") is True, "the reader reads forward"
        with self._lock:
            group = self.streams.get(params["logGroupName"], {})
            name = params["logStreamName"]
            if name not in group:
                raise client_error(
                    "ResourceNotFoundException",
                    "The specified log stream does not exist.",
                    "GetLogEvents",
                )
            events = list(group[name])
        token = params.get("nextToken")
        if token is not None:
            if token.startswith("expired/"):
                raise client_error(
                    "InvalidParameterException",
                    "The specified nextToken has expired.",
                    "GetLogEvents",
                )
            position = int(token.split("/", 1)[1])
        elif "startTime" in params:
            position = next(
                (i for i, e in enumerate(events) if e["timestamp"] >= params["startTime"]),
                len(events),
            )
        else:
            position = 0
        if self.empty_page_next[name] > 0 and position < len(events):
            self.empty_page_next[name] -= 1
            return {  # a new token, no events, and the events still ahead
                "events": [],
                "nextForwardToken": f"e{self.calls['get_log_events']}/{position:056d}",
                "nextBackwardToken": f"b/{position:056d}",
            }
        limit = params.get("limit", 10_000)
        page: list[dict[str, Any]] = []
        size = 0
        for event in events[position:]:
            event_size = len(event["message"].encode()) + 26
            if len(page) >= limit or size + event_size > 1_048_576:
                break
            page.append(event)
            size += event_size
        end = position + len(page)
        return {
            "events": [dict(e) for e in page],
            "nextForwardToken": f"f/{end:056d}",
            "nextBackwardToken": f"b/{position:056d}",
        }

    def filter_log_events(self, **params: Any) -> dict[str, Any]:
        """Every matching stream's events from ``startTime`` on, interleaved by timestamp.

        Tokens name the last event returned (its timestamp, stream and index in the
        stream), so a page goes on after it even if lines were added meanwhile.
        """
        self._enter("filter_log_events", "FilterLogEvents", params)
        assert "filterPattern" not in params, "the reader wants every line"
        with self._lock:
            group = self.streams.get(params["logGroupName"])
            if group is None:
                raise client_error(
                    "ResourceNotFoundException",
                    "The specified log group does not exist.",
                    "FilterLogEvents",
                )
            prefix = params.get("logStreamNamePrefix", "")
            start = params.get("startTime", 0)
            matching = [
                (event["timestamp"], name, index, event)
                for name in sorted(group)
                if name.startswith(prefix)
                for index, event in enumerate(group[name])
                if event["timestamp"] >= start
            ]
        matching.sort(key=lambda item: item[:3])
        token = params.get("nextToken")
        if token is not None:
            if token.startswith("expired/"):
                raise client_error(
                    "InvalidParameterException",
                    "The specified nextToken has expired.",
                    "FilterLogEvents",
                )
            ts, name, index = token.split("#")[0].split("|")
            after = (int(ts), name, int(index))
            matching = [item for item in matching if item[:3] > after]
        if self.filter_empty_next > 0 and matching:
            self.filter_empty_next -= 1
            first = matching[0]
            before = (first[0], first[1], first[2] - 1)
            moved = f"#e{self.calls['filter_log_events']}"  # a new token, same position
            return {
                "events": [],
                "nextToken": f"{before[0]}|{before[1]}|{before[2]}{moved}",
                "searchedLogStreams": [],
            }
        limit = params.get("limit", 10_000)
        page: list[tuple[int, str, int, dict[str, Any]]] = []
        size = 0
        for item in matching:
            event_size = len(item[3]["message"].encode()) + 26
            if len(page) >= limit or size + event_size > 1_048_576:
                break
            page.append(item)
            size += event_size
        result: dict[str, Any] = {
            "events": [
                {
                    **event,
                    "logStreamName": name,
                    "eventId": f"{ts:020d}{index:036d}",
                }
                for ts, name, index, event in page
            ],
            "searchedLogStreams": [],
        }
        if page and len(page) < len(matching):
            ts, name, index, _ = page[-1]
            result["nextToken"] = f"{ts}|{name}|{index}"
        return result


class ScriptedSageMaker:
    """A moto ``sagemaker`` client whose jobs follow a script of statuses.

    Everything is forwarded to moto except ``describe_training_job``, whose status fields
    come from :attr:`status` (set by the test, or advanced by :meth:`step`), and
    ``stop_training_job``, which moto lacks: it moves an ``InProgress`` job to
    ``Stopping`` (and the next describe to ``Stopped``), and answers a job that ended the
    way SageMaker does, with a ``ValidationException``. Responses are validated against
    the real service model.
    """

    def __init__(self, real: Any) -> None:
        self.real = real
        self.status: dict[str, tuple[str, str]] = {}
        self.calls: Counter[str] = Counter()
        self.on_describe: Callable[[str], None] | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def set(self, job: str, status: str, secondary: str) -> None:
        self.status[job] = (status, secondary)

    def describe_training_job(self, **params: Any) -> dict[str, Any]:
        self.calls["describe_training_job"] += 1
        response: dict[str, Any] = self.real.describe_training_job(**params)
        job = params["TrainingJobName"]
        if self.on_describe is not None:
            self.on_describe(job)
        status, secondary = self.status.get(job, ("InProgress", "Starting"))
        if status == "Stopping":  # seen once as Stopping, then the hosts are gone
            self.status[job] = ("Stopped", "Stopped")
        response["TrainingJobStatus"] = status
        response["SecondaryStatus"] = secondary
        if status not in ("Completed", "Failed", "Stopped"):
            response.pop("TrainingEndTime", None)
        if status == "Failed":
            response["FailureReason"] = "AlgorithmError: scripted failure"
        shape = _SM_MODEL.operation_model("DescribeTrainingJob").output_shape
        validate_parameters({k: v for k, v in response.items() if k != "ResponseMetadata"}, shape)
        return response

    def stop_training_job(self, **params: Any) -> dict[str, Any]:
        self.calls["stop_training_job"] += 1
        validate_parameters(params, _SM_MODEL.operation_model("StopTrainingJob").input_shape)
        job = params["TrainingJobName"]
        status, _ = self.status.get(job, ("InProgress", "Starting"))
        if status != "InProgress":
            raise client_error(
                "ValidationException",
                f"The request was rejected because the training job is in status {status}.",
                "StopTrainingJob",
            )
        self.status[job] = ("Stopping", "Stopping")
        return {}
