"""What every SageMaker job kind does the same way: describe, stop, times.

Training, transform, processing and tuning jobs are four APIs with one shape: a
``Describe*`` that answers ``ValidationException`` once the job is gone (the row is then
marked ``Deleted``, by the backend, once), and a ``Stop*`` that is refused for a job that
has just ended. Both are written here once, so the four services differ only in the
operation names and what they sync into their rows.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from sm_magics.backends import rows
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.ledger_records import TERMINAL_JOB_STATUSES, changed_columns

if TYPE_CHECKING:
    from mypy_boto3_sagemaker import SageMakerClient

    from sm_magics.backends.sagemaker.aws import AwsSession
    from sm_magics.ledger import Ledger
    from sm_magics.ledger_records import JobChanges

#: A ``Describe*`` answer, as the stubs type it.
Answer = TypeVar("Answer")

SAGEMAKER = "sagemaker"
BACKEND_NAME = "sagemaker"
STOPPING = "Stopping"
#: Statuses in which a stop has nothing left to do.
ENDED_OR_STOPPING = frozenset({*TERMINAL_JOB_STATUSES, STOPPING})


def epoch(value: object) -> float | None:
    """Return a boto3 timestamp (a ``datetime``, or seconds) as epoch seconds."""
    if isinstance(value, datetime):
        return value.timestamp()
    if isinstance(value, int | float):
        return float(value)
    return None


def describe(
    aws: AwsSession,
    ledger: Ledger,
    what: str,
    name: str,
    ask: Callable[[SageMakerClient], Answer],
) -> Answer:
    """Return the answer of ``ask`` (the ``Describe*`` of job ``name``), or mark its row Deleted.

    ``what`` names the job for the message (``"training job 'x'"``). A job SageMaker no
    longer has is marked ``Deleted`` in its ledger row (a row of this backend and region
    only) before :class:`NotFound` is raised, so every caller reads the same end. The
    answer is typed by the stubs (``DescribeTrainingJobResponseTypeDef``, ...), which mypy
    checks against the contract's :mod:`~sm_magics.backends.descriptions` types where the
    caller returns it.

    Raises
    ------
    NotFound
        SageMaker has no such job in the session's region.
    """
    try:
        return ask(aws.sagemaker)
    except NotFound:
        rows.mark_job_deleted(
            ledger,
            name,
            backend=BACKEND_NAME,
            region=aws.region,
            why=f"SageMaker no longer has it in {aws.region}.",
        )
        raise NotFound(f"No SageMaker {what} named {name!r} in {aws.region}.") from None


def stop(
    aws: AwsSession,
    ledger: Ledger,
    name: str,
    *,
    status: Callable[[], str],
    operation: str,
    params: dict[str, str],
    secondary: bool = True,
) -> None:
    """Stop a job unless it has ended or is stopping already: idempotent.

    ``status`` describes the job (syncing its row) and returns its status. A job that ends
    between that describe and the stop makes SageMaker answer ``ValidationException``; a
    second describe tells that race (nothing to do) from a real refusal. Once the stop is
    accepted the row reads ``Stopping`` (and its secondary status too, unless
    ``secondary`` is false: a tuning job's secondary status is its trial count).

    Raises
    ------
    NotFound
        No such job (its row was marked Deleted).
    InvalidRequest
        SageMaker refused the stop of a job that still runs.
    """
    if status() in ENDED_OR_STOPPING:
        return
    try:
        aws.call(SAGEMAKER, operation, **params)
    except InvalidRequest:
        if status() in ENDED_OR_STOPPING:
            return
        raise
    record = ledger.get_job(name)
    if record is not None and not record.is_terminal:
        changes: JobChanges = {"status": STOPPING}
        if secondary:
            changes["secondary_status"] = STOPPING
        ledger.update_job(name, **changes)


def sync_row(ledger: Ledger, name: str, wanted: JobChanges, *, keep_none: bool) -> bool:
    """Write ``wanted`` into a sagemaker job row where it differs; return whether it did.

    ``keep_none`` false skips ``None`` values (a time SageMaker has not reported yet must
    not erase one the row has).
    """
    record = ledger.get_job(name)
    if record is None or record.backend != BACKEND_NAME:
        return False
    changes = changed_columns(record, wanted, keep_none=keep_none)
    if changes:
        ledger.update_job(name, **changes)
    return bool(changes)


__all__ = ["ENDED_OR_STOPPING", "describe", "epoch", "stop", "sync_row"]
