"""Validation of what clients send: query parameters and request bodies.

Every value is checked before any backend or ledger is touched, so a typo in the panel or
a script is a clear ``400 InvalidRequest`` naming the parameter, not an empty list that
looks like "no jobs" or a 500 from deep inside a backend.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass

from sm_magics import ledger_records
from sm_magics.backends import registry, statuses
from sm_magics.errors import InvalidRequest

#: Statuses ``GET /jobs?status=`` accepts: SageMaker's training (and transform) statuses.
JOB_STATUSES = (
    statuses.IN_PROGRESS,
    statuses.COMPLETED,
    statuses.FAILED,
    statuses.STOPPING,
    statuses.STOPPED,
)
JOB_KINDS = ledger_records.JOB_KINDS
DEFAULT_JOB_LIMIT = 100
MAX_JOB_LIMIT = 1000
DEFAULT_LOG_LIMIT = 1000
MAX_LOG_LIMIT = 10_000
#: ``/changes`` holds a request at most this long (seconds), as docs/rest-api.md says.
MAX_CHANGES_TIMEOUT = 30.0

#: How a handler reads one query parameter: ``get(name)`` is its value or ``None``.
Getter = Callable[[str], str | None]

_TRUE = ("1", "true", "yes")
_FALSE = ("0", "false", "no", "")


def flag(get: Getter, name: str) -> bool:
    """Return a boolean parameter (``1``/``true``/``yes`` or ``0``/``false``/``no``)."""
    value = get(name)
    if value is None:
        return False
    if value.lower() in _TRUE:
        return True
    if value.lower() in _FALSE:
        return False
    raise InvalidRequest(f"Invalid {name}={value!r}: use 1 or 0.")


def integer(get: Getter, name: str, default: int, maximum: int) -> int:
    """Return a positive integer parameter of at most ``maximum``."""
    value = get(name)
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except ValueError:
        number = 0
    if not 1 <= number <= maximum:
        raise InvalidRequest(f"Invalid {name}={value!r}: a whole number from 1 to {maximum}.")
    return number


def choice(get: Getter, name: str, allowed: tuple[str, ...] | list[str]) -> str | None:
    """Return a parameter that must be one of ``allowed``, or ``None`` when absent."""
    value = get(name)
    if value is None or value == "":
        return None
    if value not in allowed:
        raise InvalidRequest(f"Invalid {name}={value!r}: one of {', '.join(allowed)}.")
    return value


def backend(get: Getter) -> str | None:
    """Return the ``backend`` filter, checked against the registered backends.

    Only when one is given: listing the backends reads every installed package's entry
    points (tens of milliseconds), which the panel's unfiltered polls must not pay.
    """
    if not get("backend"):
        return None
    return choice(get, "backend", registry.available_backends())


@dataclass(frozen=True)
class JobQuery:
    """The filters of ``GET /jobs``."""

    status: str | None = None
    backend: str | None = None
    kind: str | None = None
    active: bool = False
    limit: int = DEFAULT_JOB_LIMIT

    @classmethod
    def parse(cls, get: Getter) -> JobQuery:
        """Read and check every filter; see :mod:`sm_magics.server.params`."""
        return cls(
            status=choice(get, "status", JOB_STATUSES),
            backend=backend(get),
            kind=choice(get, "kind", JOB_KINDS),
            active=flag(get, "active"),
            limit=integer(get, "limit", DEFAULT_JOB_LIMIT, MAX_JOB_LIMIT),
        )


def changes_timeout(get: Getter) -> float:
    """Return ``/changes``' ``timeout`` in seconds: default and ceiling 30, never negative."""
    value = get("timeout")
    if value is None or value == "":
        return MAX_CHANGES_TIMEOUT
    try:
        seconds = float(value)
    except ValueError:
        seconds = math.nan
    if not math.isfinite(seconds) or seconds < 0:
        raise InvalidRequest(f"Invalid timeout={value!r}: seconds, 0 to 30.")
    return min(seconds, MAX_CHANGES_TIMEOUT)


@dataclass(frozen=True)
class InvokeRequest:
    """The body of ``POST /endpoints/<name>/invoke``."""

    body: str
    content_type: str = "application/json"
    accept: str | None = None
    variant: str | None = None

    @classmethod
    def parse(cls, raw: bytes) -> InvokeRequest:
        """Parse and check the JSON request body.

        Raises
        ------
        InvalidRequest
            Not a JSON object, no string ``body``, or a field of the wrong type.
        """
        try:
            data = json.loads(raw or b"null")
        except RecursionError:
            raise InvalidRequest("The request body nests too deeply to be read.") from None
        except ValueError as exc:
            raise InvalidRequest(f"The request body is not JSON: {exc}.") from None
        if not isinstance(data, dict):
            raise InvalidRequest(
                'The request body must be a JSON object like {"body": "[[1, 2]]", '
                '"content_type": "application/json"}.'
            )
        unknown = sorted(set(data) - {"body", "content_type", "accept", "variant"})
        if unknown:
            raise InvalidRequest(f"Unknown field(s) in the request body: {', '.join(unknown)}.")
        if not isinstance(data.get("body"), str):
            raise InvalidRequest('"body" is required: the payload to send, as text.')
        try:
            data["body"].encode("utf-8")
        except UnicodeEncodeError:
            # JSON may escape a lone surrogate ("\ud800"); no UTF-8 text holds one.
            raise InvalidRequest('"body" holds a lone surrogate: it is not valid text.') from None
        for key in ("content_type", "accept", "variant"):
            value = data.get(key)
            if value is not None and not isinstance(value, str):
                raise InvalidRequest(f'"{key}" must be a string or null.')
            # Sent as an HTTP header: printable ASCII only (no CR/LF, no header injection).
            if value and (len(value) > 1024 or not all(" " <= c <= "~" for c in value)):
                raise InvalidRequest(f'"{key}" must be printable ASCII of at most 1024 characters.')
        return cls(
            body=data["body"],
            content_type=data.get("content_type") or "application/json",
            accept=data.get("accept") or None,
            variant=data.get("variant") or None,
        )
