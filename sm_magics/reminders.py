"""A reminder, when the kernel exits, of the endpoints its notebook leaves billing.

Endpoints outlive the kernel by design (on SageMaker, and as detached processes locally), so
closing a notebook is the moment an endpoint is most easily forgotten. When the process
exits, :func:`remind_at_exit` prints the endpoints this notebook started that are still in
service, with their cost per hour and the commands that delete them.

Why ``atexit``: on a clean shutdown (the notebook closed, "Shut Down Kernel", a restart)
ipykernel returns from its event loop and the interpreter runs its ``atexit`` handlers;
IPython itself has no shutdown event. Handlers run last-registered first, so this one runs
before ipykernel closes its sockets and before IPython clears the user namespace. A kernel
killed with SIGKILL runs nothing; nothing can be done about that.

Where it goes: ipykernel sends ``sys.stderr`` to the (by then closed) notebook and, by
default, not to the terminal. The reminder is written to the kernel process's *original*
standard error, which ipykernel keeps as ``sys.stderr._original_stdstream_copy``: that is
the Jupyter server's terminal and log. In a terminal IPython it is just stderr.

The hook is cheap (one ledger query, no backend call) and never raises: an exit must
not fail because a reminder could not be printed.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import sys
import time
from typing import TYPE_CHECKING, Protocol

from sm_magics import config

if TYPE_CHECKING:
    from sm_magics.api.session import Session
    from sm_magics.ledger import Ledger
    from sm_magics.ledger_records import EndpointRecord


class RemindedMagics(Protocol):
    """What the reminder reads of a ``SageMakerMagics``: its session, else its notebook."""

    _session: Session | None

    def _notebook_path(self) -> str | None:
        """Return the notebook the kernel runs, as the session would record it."""


# The ledger, costs and pricing are imported when the reminder is written, not here:
# `%load_ext sm_magics` installs this module, and it must stay light (about 20 ms of imports
# moved off the load path).


class _Installed:
    """The magics the exit handler reminds for (the last installed), and whether it is."""

    magics: RemindedMagics | None = None
    registered = False


def live_endpoints(
    ledger: Ledger, notebook: str | None, now: float | None = None
) -> list[EndpointRecord]:
    """Return the endpoints ``notebook`` started that the ledger has as in service.

    Endpoints whose TTL has passed are left out: they delete themselves.
    """
    from sm_magics.costs import BILLING_ENDPOINT_STATUSES

    moment = time.time() if now is None else now
    return [
        record
        for record in ledger.list_endpoints(live_only=True)
        if record.notebook == notebook
        and record.status in BILLING_ENDPOINT_STATUSES
        and (record.ttl_at is None or record.ttl_at > moment)
    ]


def reminder_text(
    records: list[EndpointRecord], notebook: str | None, now: float | None = None
) -> str | None:
    """Return the reminder for ``records``, or ``None`` when there is nothing to say."""
    if not records:
        return None
    from sm_magics import pricing
    from sm_magics.costs import endpoint_rate
    from sm_magics.durations import format_duration

    moment = time.time() if now is None else now
    total = 0.0
    lines = []
    for record in records:
        rate = endpoint_rate(record)
        total += rate.per_hour or 0.0
        cost = pricing.format_usd(rate.per_hour) + "/hour"
        if record.backend == "local":
            cost = f"processes on this machine, {cost} on SageMaker"
        ttl = (
            f", deletes itself in {format_duration(record.ttl_at - moment)}"
            if record.ttl_at
            else ""
        )
        lines.append(
            f"  {record.name} ({record.backend}, {rate.instance}, {cost}{ttl}): "
            f"%sm_delete {record.name} --yes"
        )
    where = f"notebook {notebook}" if notebook else "this kernel"
    noun = "endpoint" if len(records) == 1 else "endpoints"
    head = (
        f"sm-magics: {len(records)} {noun} started by {where} still in service, "
        f"{pricing.format_usd(total)}/hour in all:"
    )
    tail = (
        "Delete them all with %sm_cleanup --yes in that notebook "
        "(or %sm_cleanup --all --yes anywhere on this machine)."
    )
    return "\n".join([head, *lines, tail]) + "\n"


def _write_stderr(text: str) -> None:
    """Write to the process's original standard error (the server's log under Jupyter)."""
    original = getattr(sys.stderr, "_original_stdstream_copy", None)
    if isinstance(original, int):
        os.write(original, text.encode(errors="replace"))
        return
    stream = sys.__stderr__ or sys.stderr
    if stream is not None:
        stream.write(text)
        stream.flush()


def remind(magics: RemindedMagics) -> str | None:
    """Print the reminder for the notebook of ``magics`` (a ``SageMakerMagics``); return it.

    Uses the magics' session ledger when it has one, else the ledger file if it exists; it
    never creates a ledger (an exit must not leave a new file behind).
    """
    session: Session | None = getattr(magics, "_session", None)
    notebook = session.notebook if session is not None else magics._notebook_path()
    if session is not None:
        records = live_endpoints(session.ledger, notebook)
    else:
        path = config.home_dir() / "ledger.sqlite"
        if not path.is_file():
            return None
        from sm_magics.ledger import Ledger

        ledger = Ledger(path)
        try:
            records = live_endpoints(ledger, notebook)
        finally:
            ledger.close()
    text = reminder_text(records, notebook)
    if text:
        _write_stderr(text)
    return text


def remind_at_exit() -> None:
    """Remind for the magics installed last: the ``atexit`` handler, which never raises."""
    magics = _Installed.magics
    if magics is None:
        return
    with contextlib.suppress(Exception):  # a reminder must never break the exit
        remind(magics)


def install(magics: RemindedMagics) -> None:
    """Remind at exit for ``magics``; registers one handler however often this is called."""
    _Installed.magics = magics
    if not _Installed.registered:
        atexit.register(remind_at_exit)
        _Installed.registered = True
