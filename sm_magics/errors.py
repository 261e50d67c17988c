"""The one error hierarchy of sm-magics.

Every failure a user can cause or meet (a bad flag, an unknown job, a job that failed, a
service that refused) is a subclass of :class:`SmMagicsError`, so the magics can turn any
of them into one short message instead of a traceback from inside the package. The names
follow SageMaker's own error codes where one exists, so the SageMaker backend maps
``botocore`` ``ClientError`` codes onto them one to one.

What is not an error but the user should know (a default chosen for them, parts of a
deleted endpoint left behind) is a :class:`SmMagicsNotice` warning, issued with
:func:`notice`: library code reports through :mod:`warnings`, so a script can filter or
record it, and the kernel shows it as one plain ``sm-magics: ...`` line
(:func:`show_notices_plainly`).
"""

from __future__ import annotations

import sys
import warnings
from collections.abc import Callable
from typing import TextIO


class SmMagicsError(Exception):
    """Base class: an error whose message is meant for the user, as it is."""


class InvalidRequest(SmMagicsError):
    """The request was malformed: a bad name, value or combination of options.

    SageMaker says ``ValidationException``. Nothing was created.
    """


class BudgetExceeded(InvalidRequest):
    """A new job or endpoint would take billing over ``SageMakerMagics.max_hourly_cost``.

    A subclass of :class:`InvalidRequest` because it is refused the same way: before
    anything is created or uploaded. The message has the numbers and says how to go ahead
    anyway (``--force``).
    """

    def __init__(self, message: str, *, request: float, running: float, limit: float) -> None:
        self.request = request
        self.running = running
        self.limit = limit
        super().__init__(message)


class NotFound(SmMagicsError):
    """No job, endpoint or model of that name is known to the backend or the ledger."""


class AlreadyExists(InvalidRequest):
    """A resource of that name exists already (SageMaker's ``ResourceInUse``)."""


class ResourceLimitExceeded(SmMagicsError):
    """A quota was hit: too many running jobs, instances or endpoints."""


class AccessDenied(SmMagicsError):
    """The caller lacks a permission; the message names it."""


class BackendUnavailable(SmMagicsError):
    """The backend cannot be used here: a missing extra, no credentials, no region."""


class StorageError(BackendUnavailable):
    """A file sm-magics keeps cannot be used: damaged, unreadable, or the disk is full.

    The message names the file and says what to do (free space, move the file aside,
    ``python -m sm_magics.ledger rebuild``), so no ``sqlite3`` or ``OSError`` traceback
    reaches a notebook or a REST client.
    """

    def __init__(self, message: str, path: object = None) -> None:
        self.path = path
        super().__init__(message)


class ModelError(SmMagicsError):
    """The model's handlers failed on a request (SageMaker Runtime's ``ModelError``)."""

    def __init__(self, message: str, status: int = 500, variant: str | None = None) -> None:
        self.status = status
        self.variant = variant
        super().__init__(message)


class WaitTimeout(SmMagicsError):
    """``wait(timeout)`` returned before the resource reached a final state."""


class JobFailed(SmMagicsError):
    """A job that was waited on ended ``Failed`` (or ``Stopped`` when that was not asked)."""

    def __init__(self, name: str, status: str, reason: str | None, label: str = "Training") -> None:
        self.name = name
        self.status = status
        self.reason = reason
        detail = f": {reason}" if reason else ""
        super().__init__(f"{label} job {name!r} ended {status}{detail}")


class PayloadTooLarge(InvalidRequest):
    """A request body over SageMaker's limit for the endpoint (HTTP 413, ``ValidationError``)."""


class InvocationTimeout(ModelError):
    """The model did not answer within SageMaker's 60 seconds (the REST API answers 504)."""

    def __init__(self, message: str, variant: str | None = None) -> None:
        super().__init__(message, status=0, variant=variant)


class SmMagicsNotice(UserWarning):
    """Something the user should know that is not an error.

    A default chosen for them (the container, the bucket), or what a delete could not
    clean up. A warning, not a print, so callers outside a notebook can filter, record or
    escalate it (``warnings.simplefilter("error", SmMagicsNotice)``).
    """


def notice(message: str, *, stacklevel: int = 2) -> None:
    """Issue ``message`` as a :class:`SmMagicsNotice`.

    ``stacklevel`` counts as for :func:`warnings.warn`, from the caller of this function:
    the notice is attributed to the code that made the choice, not to this helper.
    """
    warnings.warn(message, SmMagicsNotice, stacklevel=stacklevel + 1)


class _PlainNotices:
    """``warnings.showwarning`` that prints a notice as one line, others as before.

    Marked (``_sm_magics_notices``) so that loading the extension again does not wrap it
    twice, even after this module was reloaded.
    """

    _sm_magics_notices = True

    def __init__(
        self,
        original: Callable[
            [Warning | str, type[Warning], str, int, TextIO | None, str | None], None
        ],
    ) -> None:
        self.original = original

    def __call__(
        self,
        message: Warning | str,
        category: type[Warning],
        filename: str,
        lineno: int,
        file: TextIO | None = None,
        line: str | None = None,
    ) -> None:
        """Show one warning."""
        if issubclass(category, SmMagicsNotice):
            print(f"sm-magics: {message}", file=file or sys.stderr)
        else:
            self.original(message, category, filename, lineno, file, line)


def show_notices_plainly() -> None:
    """Show every :class:`SmMagicsNotice` as one ``sm-magics: ...`` line on stderr.

    Called when the extension is loaded into a kernel: a notice is text for the person at
    the notebook, so it is shown each time (not once per source line, the warnings
    default) and without the file, line and source a warning normally prints. Other
    warnings are shown as before; filters the user set first still win (``append``).
    """
    original = warnings.showwarning
    if getattr(original, "_sm_magics_notices", False):
        return
    warnings.showwarning = _PlainNotices(original)
    warnings.filterwarnings("always", category=SmMagicsNotice, append=True)
