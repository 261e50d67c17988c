"""How a local job ended, and what its supervisor says about it afterwards.

Kept apart from :mod:`.supervisor` because none of it is needed until the hosts end:
the failure reason (the script's ``failure`` file, else the telling lines of its
output, as SageMaker's ``AlgorithmError``) and the final metrics read back from the logs.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sm_magics.backends.local import logstore

if TYPE_CHECKING:
    from collections.abc import Iterable

    from sm_magics.metrics import MetricPoint

FAILURE_REASON_LIMIT = 1024  # SageMaker's FailureReason maximum length


@dataclass
class Outcome:
    """How training ended."""

    status: str
    secondary: str
    message: str
    failure_reason: str | None = None


def failure_reason(host_root: Path, tail: Iterable[str], code: int, command: list[str]) -> str:
    """Return the ``FailureReason`` of a host that exited with ``code``.

    The script's own ``output/failure`` file wins (the container contract); otherwise the
    exception at the end of its output, with a word on libraries that exist only in AWS's
    images (:mod:`.container_only`).
    """
    failure_file = host_root / "output" / "failure"
    if failure_file.is_file() and failure_file.read_text().strip():
        text = failure_file.read_text().strip()
        return f"AlgorithmError: {text}"[:FAILURE_REASON_LIMIT]
    from sm_magics.backends.local.container_only import explain

    message = explain(error_summary([line for line in tail if line.strip()]))
    reason = (
        f"AlgorithmError: ExecuteUserScriptError:\nExitCode {code}\n"
        f'ErrorMessage "{message}"\nCommand "{" ".join(command)}", exit code: {code}'
    )
    return reason[:FAILURE_REASON_LIMIT]


def error_summary(tail: list[str]) -> str:
    """Return the telling output lines: a traceback's exception line(s), else the last ones.

    In a Python traceback the frames are indented and the exception itself is not, so the
    lines after the last indented one are the exception and its message.
    """
    if not tail:
        return "the script exited with no error output"
    for index in range(len(tail) - 1, -1, -1):
        if tail[index].startswith("Traceback"):
            block = tail[index + 1 :]
            indented = [i for i, line in enumerate(block) if line.startswith((" ", "\t"))]
            tail = block[indented[-1] + 1 :] if indented else block
            return "\n".join(tail[-3:]) if tail else "\n".join(block[-1:])
    return "\n".join(tail[-3:])


def final_metrics(logs: Path, definitions: dict[str, str] | None) -> list[dict[str, Any]]:
    """Return each defined metric's last value in the logs (``FinalMetricDataList``)."""
    if not definitions:
        return []
    from sm_magics.metrics import MetricParser

    parser = MetricParser(definitions)
    last: dict[str, MetricPoint] = {}
    batch = logstore.read_new(logs, None)
    while batch.events:  # batch by batch: a long log is never held whole
        last.update(parser.last_values((e.timestamp, e.message) for e in batch.events))
        batch = logstore.read_new(logs, batch.cursor)
    return [
        {"MetricName": p.name, "Value": p.value, "Timestamp": p.timestamp / 1000}
        for p in last.values()
    ]
