"""SageMaker's limits on one invocation, enforced alike by every local path that sends one.

A request that works locally must work on SageMaker: the local router, the kernel's
``Endpoint.invoke`` (hence ``%sm_invoke``) and the side panel's REST route refuse what
SageMaker refuses, with the same answer (HTTP 413 and a ``ValidationError``), and give up
on a model after SageMaker's 60 seconds. This module only holds the numbers and the one
check, so the kernel can import it without anything heavy.
"""

from __future__ import annotations

import os

from sm_magics.errors import InvalidRequest, PayloadTooLarge

#: The most instances one job, transform or endpoint variant may ask for. SageMaker's
#: API states 100 for processing and batch transform (botocore's ``max: 100``,
#: "the maximum is 100") and leaves training and hosting to the account's quotas, which
#: start far lower; one number for all keeps a request that works here from failing
#: there, and keeps ``-n 1000`` from starting a thousand local processes.
MAX_INSTANCE_COUNT = 100

#: ``InvokeEndpoint``'s ``Body``: 6 MB (botocore's service model says ``max: 6291456``).
REALTIME_MAX_BYTES = 6_291_456
#: A serverless endpoint's request: 4 MB.
SERVERLESS_MAX_BYTES = 4 * 1024 * 1024
#: ``InvokeEndpointAsync`` with the payload inline (``Body``); larger ones go through S3.
ASYNC_INLINE_MAX_BYTES = 128_000
#: How long a model may take to answer one request before SageMaker gives up on it.
INVOCATION_TIMEOUT_SECONDS = 60.0
#: The environment variable that shortens the timeout (tests; SageMaker's is fixed).
ENV_TIMEOUT = "SM_MAGICS_INVOCATION_TIMEOUT"


def invocation_timeout() -> float:
    """Return the invocation timeout in seconds: 60, or ``$SM_MAGICS_INVOCATION_TIMEOUT``.

    The override exists so tests can watch a timeout happen without waiting a minute; a
    value that is not a positive number is ignored rather than turned into "no timeout".
    """
    try:
        seconds = float(os.environ.get(ENV_TIMEOUT, ""))
    except ValueError:
        return INVOCATION_TIMEOUT_SECONDS
    return seconds if 0 < seconds < float("inf") else INVOCATION_TIMEOUT_SECONDS


def payload_limit(*, serverless: bool = False, asynchronous: bool = False) -> tuple[int, str]:
    """Return ``(bytes, what)``: the largest body an endpoint of that kind takes inline."""
    if asynchronous:
        return ASYNC_INLINE_MAX_BYTES, "an asynchronous endpoint's inline payload"
    if serverless:
        return SERVERLESS_MAX_BYTES, "a serverless endpoint's request"
    return REALTIME_MAX_BYTES, "a real-time endpoint's request"


def check_payload(size: int, *, serverless: bool = False, asynchronous: bool = False) -> None:
    """Raise :class:`PayloadTooLarge` when ``size`` bytes exceed the endpoint kind's limit."""
    limit, what = payload_limit(serverless=serverless, asynchronous=asynchronous)
    if size > limit:
        raise PayloadTooLarge(too_large_message(size, limit, what))


def too_large_message(size: int | None, limit: int, what: str) -> str:
    """Return the message of a refused body (the router and the kernel say the same)."""
    got = f"{size:,} bytes" if size is not None else "The body"
    return (
        f"{got} is over the {limit:,}-byte limit of {what}, as on SageMaker (which answers "
        "413 too); send less per request, or use batch transform or an asynchronous "
        "endpoint for large payloads."
    )


def check_instance_count(count: object, flag: str = "--instance-count") -> int:
    """Return ``count`` as an int from 1 to :data:`MAX_INSTANCE_COUNT`, else refuse it."""
    try:
        number: int = int(count)  # type: ignore[call-overload]
    except (TypeError, ValueError, OverflowError):
        number = 0
    if not 1 <= number <= MAX_INSTANCE_COUNT:
        raise InvalidRequest(
            f"{flag} must be a whole number from 1 to {MAX_INSTANCE_COUNT} (SageMaker's "
            f"limit), got {str(count)[:40]}."
        )
    return number
