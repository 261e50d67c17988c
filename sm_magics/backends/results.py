"""What backend calls return besides descriptions: log lines and invocation answers.

Small frozen records, apart from the contract (:mod:`sm_magics.backends.base`) so that the
log readers and views that handle them (the local log store, the CloudWatch reader, the
display) import them without the contract and the ledger.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Protocol, TypeAlias

#: Where a reader is in a resource's logs: a JSON object the backend made, which callers
#: hand back unchanged (the REST API sends it as a string). Each reader has its own shape
#: inside (byte offsets per file locally, CloudWatch tokens, a sub-cursor per trial or
#: variant) and checks it when it gets it back, so callers see no more than this.
LogCursor: TypeAlias = Mapping[str, object]


@dataclass(frozen=True)
class InvokeResult:
    """What ``InvokeEndpoint`` returned."""

    body: bytes
    content_type: str
    variant: str


@dataclass(frozen=True)
class AsyncInvokeResult:
    """What ``InvokeEndpointAsync`` returned: where the answer will be, not the answer."""

    inference_id: str
    output_location: str
    failure_location: str | None = None


@dataclass(frozen=True, slots=True)  # slots: a follower may hold a batch of 10^4
class LogEvent:
    """One log line of one host, as CloudWatch Logs has it."""

    timestamp: int  # milliseconds since the epoch, when the line was written
    host: str  # "algo-1"
    message: str  # the line, without its newline


@dataclass
class LogBatch:
    """What one :meth:`Backend.read_training_logs` call returned.

    ``cursor`` is opaque: pass it back to the next call to get only newer lines.
    """

    events: list[LogEvent]
    cursor: LogCursor


class ChangeWatch(Protocol):
    """Wakes a follower when a job's logs or status change (see ``Backend.change_watch``)."""

    def wait(self, timeout: float) -> bool:
        """Block until a change or ``timeout`` seconds; return whether something changed."""
        ...

    def close(self) -> None:
        """Release what the watch holds."""
        ...
