"""One CloudWatch Logs call, its failure sorted: transient, an expired token, or the user's.

The log reader's polls go on through throttling and unavailability (they back off and
keep their cursor), restart a stream whose token expired, and turn everything else into
one of :mod:`sm_magics.errors`; this module makes that distinction once for every call.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, ParamSpec, TypeVar

from sm_magics.backends.sagemaker.errors import THROTTLING_CODES, error_code, translate

if TYPE_CHECKING:
    from mypy_boto3_logs.type_defs import FilteredLogEventTypeDef, OutputLogEventTypeDef

_P = ParamSpec("_P")
_R = TypeVar("_R")

# Transient failures: back off and keep the cursor, never fail a follower for them.
TRANSIENT_CODES = THROTTLING_CODES | {
    "ServiceUnavailableException",
    "ServiceUnavailable",
    "InternalFailure",
    "InternalServerError",
}


class Transient(Exception):
    """A throttled or unavailable service: this poll ends, the next ones wait."""


class ExpiredToken(Exception):
    """``GetLogEvents`` refused a stream's token (they expire after 24 hours)."""


def call_logs(call: Callable[_P, _R], *args: _P.args, **params: _P.kwargs) -> _R | None:
    """Call one logs API method (a bound client method) with ``params``.

    Returns its answer, or ``None`` when the group or stream does not exist (yet).
    """
    operation = getattr(call, "__name__", "call")
    try:
        result = call(*args, **params)
    except Exception as exc:
        code = error_code(exc)
        if code == "ResourceNotFoundException":
            return None
        if code in TRANSIENT_CODES or is_connection_error(exc):
            raise Transient(code or type(exc).__name__) from exc
        if (
            code == "InvalidParameterException"
            and "nextToken" in params
            and "token" in str(exc).lower()
        ):
            raise ExpiredToken(str(exc)) from exc
        raise translate(exc, "logs", operation) from exc
    return result


def is_connection_error(exc: BaseException) -> bool:
    """Return whether botocore failed to reach the service (transient, like throttling)."""
    from botocore import exceptions as bx

    return isinstance(
        exc,
        bx.EndpointConnectionError
        | bx.ConnectTimeoutError
        | bx.ReadTimeoutError
        | bx.ConnectionClosedError,
    )


def message_of(event: OutputLogEventTypeDef | FilteredLogEventTypeDef) -> str:
    r"""Return an event's text without its line ending, and nothing else taken away.

    Only a final ``\n`` (or ``\r\n``) is a line ending: a ``\r`` of a progress bar, a form
    feed or a Unicode separator is part of what the script printed, and the display layer
    decides how to show it.
    """
    text = str(event.get("message", ""))
    if text.endswith("\r\n"):
        return text[:-2]
    return text[:-1] if text.endswith("\n") else text
