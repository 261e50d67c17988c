"""How any exception becomes the REST API's error answer: an HTTP status and a JSON body.

The side panel and scripts branch on ``code`` (the class name in :mod:`sm_magics.errors`),
never on the message, so the mapping below is the contract of ``docs/rest-api.md``. The
body never carries a traceback: a user reads the message, the server log keeps the rest.
"""

from __future__ import annotations

from http.client import responses
from typing import TypedDict

from tornado.web import HTTPError

from sm_magics import errors

INTERNAL_ERROR = "InternalError"

#: The status of each error class; a subclass takes its nearest listed ancestor's.
STATUS: dict[type[errors.SmMagicsError], int] = {
    errors.PayloadTooLarge: 413,  # SageMaker's answer to a body over its limit
    errors.InvocationTimeout: 504,  # the model did not answer in 60 s
    errors.InvalidRequest: 400,
    errors.AccessDenied: 403,
    errors.NotFound: 404,
    errors.AlreadyExists: 409,
    errors.ResourceLimitExceeded: 429,
    errors.ModelError: 424,
    errors.BackendUnavailable: 503,
    errors.StorageError: 503,
}

#: Codes of the HTTP errors Jupyter or tornado raise themselves (authentication, routing).
_HTTP_CODES = {400: "InvalidRequest", 404: "NotFound"}


class ErrorBody(TypedDict):
    """The one shape of every error answer."""

    code: str
    message: str


def describe(exc: BaseException | None, status: int = 500) -> tuple[int, ErrorBody]:
    """Return ``(HTTP status, body)`` for an exception raised while answering a request.

    Parameters
    ----------
    exc
        The exception, or ``None`` when tornado reports an error without one.
    status
        The status tornado chose; used for errors that are neither ours nor ``HTTPError``.
    """
    if isinstance(exc, errors.SmMagicsError):
        for cls in type(exc).__mro__:
            if cls in STATUS:
                return STATUS[cls], {"code": cls.__name__, "message": str(exc)}
        return 500, {"code": INTERNAL_ERROR, "message": str(exc) or type(exc).__name__}
    if isinstance(exc, HTTPError):
        reason = exc.reason or responses.get(exc.status_code, "Error")
        code = _HTTP_CODES.get(exc.status_code, reason.replace(" ", "").replace("-", ""))
        return exc.status_code, {"code": code, "message": exc.log_message or reason}
    if exc is None:
        reason = responses.get(status, "Error")
        return status, {"code": _HTTP_CODES.get(status, INTERNAL_ERROR), "message": reason}
    # A bug or an unexpected library error: say what it was, in one line.
    return 500, {"code": INTERNAL_ERROR, "message": f"{type(exc).__name__}: {exc}"}
