"""An endpoint's ``--ttl`` on SageMaker: a one-time EventBridge Scheduler schedule.

The promise of ``--ttl`` is that the endpoint stops billing at that time even if the
laptop is closed and no kernel or Jupyter server runs, so the deletion cannot be left to
this process: it is handed to AWS when the endpoint is created. EventBridge Scheduler's
universal target calls ``sagemaker:DeleteEndpoint`` once, at ``at(<UTC time>)``, and
deletes the schedule afterwards (``ActionAfterCompletion=DELETE``).

Design decisions
----------------
* One schedule per endpoint, for ``DeleteEndpoint`` only. A universal target calls one
  API; the endpoint config and the models do not bill, and they can only be deleted once
  the endpoint is gone, which a fixed time cannot know. They are swept by the next
  ``describe`` or ``delete`` of the endpoint from sm-magics, or by ``%sm_cleanup``.
* The schedule is made *before* ``CreateEndpoint``: if it cannot be made (no permission,
  a role Scheduler cannot assume), the deploy fails and rolls back the models and config
  it made, and no endpoint ever exists without its deadline. If ``CreateEndpoint`` then
  fails, the schedule is deleted with the rest. A schedule that fires for an endpoint that
  no longer exists does nothing.
* The schedule's name is derived from the endpoint's, so deleting the endpoint earlier
  deletes the schedule without remembering anything (``delete_schedule``; already gone
  is fine). A leftover schedule of an earlier endpoint of the same name is replaced.
* The role Scheduler assumes is the ``scheduler_role`` option (``SM_MAGICS_SCHEDULER_ROLE``),
  by default the SageMaker execution role. It must trust ``scheduler.amazonaws.com`` and
  allow ``sagemaker:DeleteEndpoint``; the caller needs ``scheduler:CreateSchedule``,
  ``scheduler:DeleteSchedule`` and ``iam:PassRole`` on it (``docs/iam-policy.json``).
* The time is in UTC, rounded up to the whole second. SageMaker cannot delete an
  endpoint that is still ``Creating``: a TTL shorter than the endpoint's start-up (a few
  minutes) may fire too early, and Scheduler then retries with its default policy.
"""

from __future__ import annotations

import hashlib
import json
import math
from datetime import datetime, timezone

from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.backends.sagemaker.errors import error_code, translate
from sm_magics.errors import NotFound, SmMagicsError

SCHEDULER = "scheduler"
#: Every schedule sm-magics makes starts with this (and lives in the default group).
NAME_PREFIX = "sm-magics-ttl-"
#: Scheduler's limit on schedule names.
NAME_MAX = 64
#: EventBridge Scheduler's universal target for SageMaker's DeleteEndpoint.
TARGET_ACTION = "aws-sdk:sagemaker:deleteEndpoint"
ROLE_HINT = (
    "The role EventBridge Scheduler assumes ({role}) must trust scheduler.amazonaws.com and "
    "allow sagemaker:DeleteEndpoint, and you need scheduler:CreateSchedule and iam:PassRole "
    "on it (docs/iam-policy.json); or set another one with the scheduler_role option "
    "(SM_MAGICS_SCHEDULER_ROLE)."
)


def schedule_name(endpoint: str) -> str:
    """Return the schedule name of ``endpoint``'s TTL: the same for the same endpoint.

    ``sm-magics-ttl-<endpoint>`` when it fits Scheduler's 64 characters; a longer endpoint
    name keeps its start and gets 8 hex of its hash, so two long names never share one.
    """
    name = f"{NAME_PREFIX}{endpoint}"
    if len(name) <= NAME_MAX:
        return name
    digest = hashlib.sha256(endpoint.encode()).hexdigest()[:8]
    return f"{name[: NAME_MAX - 9]}-{digest}"


def at_expression(when: float) -> str:
    """Return ``at(yyyy-mm-ddThh:mm:ss)`` for epoch seconds ``when``, in UTC, rounded up.

    Rounding up keeps the promise "not before the TTL"; Scheduler takes no fractions.
    """
    moment = datetime.fromtimestamp(math.ceil(when), tz=timezone.utc)
    return f"at({moment.strftime('%Y-%m-%dT%H:%M:%S')})"


def _partition(role_arn: str) -> str:
    """Return the partition of an ARN (``aws``, ``aws-cn``, ``aws-us-gov``)."""
    parts = role_arn.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else "aws"


def create_ttl_schedule(aws: AwsSession, endpoint: str, ttl_at: float) -> str:
    """Schedule ``DeleteEndpoint`` of ``endpoint`` at ``ttl_at``; return the schedule's name.

    A schedule of that name left by an earlier endpoint of the same name (deleted outside
    sm-magics before its TTL) is replaced: the endpoint about to be created is new.

    Raises
    ------
    SmMagicsError
        Scheduler refused (``AccessDenied`` naming the permission, ``InvalidRequest`` for
        a role it cannot assume, ...); the message says which role must allow what.
    """
    role = aws.scheduler_role
    name = schedule_name(endpoint)
    params = {
        "Name": name,
        "ScheduleExpression": at_expression(ttl_at),
        "ScheduleExpressionTimezone": "UTC",
        "FlexibleTimeWindow": {"Mode": "OFF"},
        "Target": {
            "Arn": f"arn:{_partition(role)}:scheduler:::{TARGET_ACTION}",
            "RoleArn": role,
            "Input": json.dumps({"EndpointName": endpoint}),
        },
        "ActionAfterCompletion": "DELETE",
        "Description": f"sm-magics: delete SageMaker endpoint {endpoint} (--ttl)",
    }
    client = aws.client(SCHEDULER)
    for attempt in (1, 2):
        try:
            client.create_schedule(**params)
            return name
        except Exception as exc:
            if attempt == 1 and error_code(exc) == "ConflictException":
                problem = delete_ttl_schedule(aws, endpoint)
                if problem is None:
                    continue
            error = translate(exc, SCHEDULER, "create_schedule")
            if not isinstance(error, SmMagicsError):
                raise
            try:
                better: SmMagicsError = type(error)(f"{error} {ROLE_HINT.format(role=role)}")
            except TypeError:  # an error class with another signature: keep it as it is
                better = error
            raise better from exc
    raise AssertionError("unreachable")  # pragma: no cover


def delete_ttl_schedule(aws: AwsSession, endpoint: str) -> str | None:
    """Delete ``endpoint``'s TTL schedule; ``None`` if gone (or never made), else the problem.

    Deleting an endpoint before its TTL must not leave a schedule behind; one that already
    ran deleted itself, which is fine. A failure is returned as text, not raised, so that
    the endpoint's deletion goes on and reports everything at the end.
    """
    name = schedule_name(endpoint)
    try:
        aws.call(SCHEDULER, "delete_schedule", Name=name)
    except NotFound:
        return None
    except SmMagicsError as exc:
        return f"TTL schedule {name} ({exc})"
    return None
