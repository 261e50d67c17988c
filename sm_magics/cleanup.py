"""``%sm_cleanup``: stop and delete what a notebook (or this machine) left running or billing.

Two steps, so the magic can ask in between: :func:`find_leftovers` lists the training
jobs, transform jobs and endpoints the ledger has as running, each refreshed from its
backend (a row that ended meanwhile is dropped, one the backend no longer knows is marked
so in the ledger); :func:`clean` stops the jobs and deletes the endpoints. The backends'
``delete_endpoint`` already removes what an endpoint is made of (the endpoint configs and
models on SageMaker, the router, workers and folder locally), so an endpoint is one call.

Cleanup never stops half-way: every item is tried, a failure is recorded with its reason,
and the :class:`CleanupReport` says what is left. Running it again is always safe; when
nothing is left it says "Nothing running or billing".
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from html import escape
from typing import TYPE_CHECKING

from sm_magics import pricing
from sm_magics.backends import base, kinds, statuses
from sm_magics.costs import endpoint_rate, job_rate
from sm_magics.display import StatusTable, no_math
from sm_magics.errors import NotFound

if TYPE_CHECKING:
    from sm_magics.api import Session
    from sm_magics.backends.descriptions import JobDescription

#: How long :func:`clean` waits for local jobs to reach ``Stopped`` (their grace period is
#: seconds); SageMaker jobs take minutes to stop and are reported as ``Stopping``.
LOCAL_STOP_WAIT = 60.0

#: What an item is waiting for, and what became of it.
PENDING, KEPT = "pending", "kept"
STOPPED, STOPPING, DELETED, GONE, FAILED = "stopped", "stopping", "deleted", "gone", "failed"


@dataclass
class CleanupItem:
    """One job or endpoint that :func:`find_leftovers` found running or billing."""

    kind: str  # "training", "transform" or "endpoint"
    name: str
    backend: str
    status: str
    instance: str
    cost_per_hour: float | None
    notebook: str | None
    region: str | None = None
    outcome: str = PENDING
    error: str | None = None

    @property
    def action(self) -> str:
        """``stop`` for a job, ``delete`` for an endpoint."""
        return "delete" if self.kind == "endpoint" else "stop"

    @property
    def left(self) -> bool:
        """Whether it may still run or bill after the cleanup (not done, or failed)."""
        return self.outcome in (PENDING, KEPT, FAILED)

    @property
    def label(self) -> str:
        """``training job x``, ``endpoint y``: how messages name it."""
        noun = "endpoint" if self.kind == "endpoint" else f"{self.kind} job"
        return f"{noun} {self.name}"


class CleanupReport(StatusTable[CleanupItem]):
    """What ``%sm_cleanup`` found and did: a table and a headline, as HTML or text.

    Parameters
    ----------
    rows
        The items, with their outcomes.
    scope
        ``"this notebook"`` or ``"this machine"``, for the headline.
    done
        ``False`` for the list shown before asking (or after a refusal).
    """

    columns = ("kind", "name", "backend", "status", "instance", "cost/hour", "outcome")
    empty_text = "Nothing running or billing."
    css_class = "sm-magics-cleanup"

    def __init__(self, rows: list[CleanupItem], *, scope: str, done: bool = True) -> None:
        super().__init__(rows)
        self.scope = scope
        self.done = done

    @property
    def left(self) -> list[CleanupItem]:
        """Items that may still run or bill: failures, or all of them when not confirmed."""
        return [item for item in self.rows if item.left]

    @property
    def stopping(self) -> list[CleanupItem]:
        """Jobs asked to stop that had not stopped yet (they bill until ``Stopped``)."""
        return [item for item in self.rows if item.outcome == STOPPING]

    @property
    def ok(self) -> bool:
        """Whether everything found was stopped (or is stopping) or deleted."""
        return self.done and not self.left

    def cells(self, row: CleanupItem) -> list[str]:
        """Return one item's cells; the outcome carries the reason of a failure."""
        if row.outcome == PENDING:
            outcome = f"to {row.action}"
        elif row.outcome == FAILED:
            outcome = f"FAILED: {row.error}"
        elif row.outcome == GONE:
            outcome = "already gone"
        else:
            outcome = row.outcome
        would = " (would be)" if row.backend == "local" and row.cost_per_hour else ""
        return [
            row.kind,
            row.name,
            row.backend,
            row.status,
            row.instance,
            pricing.format_usd(row.cost_per_hour) + would,
            outcome,
        ]

    def headline(self) -> str:
        """One paragraph: what was done, and what is left and why."""
        if not self.rows:
            return f"Nothing running or billing ({self.scope})."
        per_hour = sum(item.cost_per_hour or 0.0 for item in self.rows)
        if not self.done:
            if all(item.outcome == PENDING for item in self.rows):
                return (
                    f"Running or billing ({self.scope}): {_count(self.rows)}, "
                    f"{pricing.format_usd(per_hour)}/hour."
                )
            return "Nothing stopped or deleted."
        parts = []
        stopped = [i for i in self.rows if i.outcome in (STOPPED, STOPPING)]
        deleted = [i for i in self.rows if i.outcome in (DELETED, GONE)]
        if stopped:
            parts.append(f"stopped {_count(stopped)}")
        if deleted:
            parts.append(f"deleted {_count(deleted)}")
        text = (" and ".join(parts) or "nothing done").capitalize() + "."
        if self.stopping:
            names = ", ".join(i.name for i in self.stopping)
            text += f" Still stopping (billing ends when Stopped): {names}."
        if self.left:
            reasons = "; ".join(f"{i.label}: {i.error}" for i in self.left)
            text += (
                f" LEFT running or billing: {reasons}. Run %sm_cleanup again, or delete or "
                "stop it by hand (%sm_delete NAME --yes, %sm_stop NAME)."
            )
        elif not self.stopping:
            text += " Nothing of it runs or bills any more."
        return text

    def __repr__(self) -> str:
        if not self.rows:
            return self.headline()
        return f"{self.headline()}\n{super().__repr__()}"

    def _repr_html_(self) -> str:
        colour = (
            "" if self.ok or not self.done else " style='color:var(--jp-error-color1, #d32f2f)'"
        )
        head = f"<p{colour}><b>{escape(self.headline())}</b></p>"
        if not self.rows:
            return no_math(head)
        return no_math(head + self._html_body())


def _count(items: list[CleanupItem]) -> str:
    """``1 training job, 2 endpoints``."""
    kinds: dict[str, int] = {}
    for item in items:
        noun = "endpoint" if item.kind == "endpoint" else f"{item.kind} job"
        kinds[noun] = kinds.get(noun, 0) + 1
    return ", ".join(f"{n} {noun}{'s' if n > 1 else ''}" for noun, n in kinds.items())


def scope_name(all: bool) -> str:
    """Return how headlines name the scope: the machine with ``--all``, else the notebook."""
    return "this machine" if all else "this notebook"


def backend_for(session: Session, backend: str, region: str | None) -> base.Backend:
    """Return ``backend`` in ``region`` (the ledger row's), as :meth:`Session.backend` does."""
    return session.backend(backend, region)


def _describe_job(
    session: Session, kind: str, backend: str, region: str | None, name: str
) -> JobDescription:
    return kinds.describe(session.backend(backend, region), kind, name)


def find_leftovers(session: Session, *, all: bool = False) -> list[CleanupItem]:
    """Return the jobs and endpoints that run or bill, started by this notebook or machine.

    The ledger says what may run; each candidate is then described by its backend, since
    the ledger can lag: a job that ended is dropped, and a job or endpoint the backend no
    longer knows is marked ended in the ledger and dropped. When a backend cannot answer
    (no credentials, say), the ledger's word is kept and the item stays in the list.
    """
    ledger = session.ledger

    def in_scope(notebook: str | None) -> bool:
        return all or notebook == session.notebook

    items: list[CleanupItem] = []
    jobs = [j for j in ledger.list_jobs(active_only=True) if in_scope(j.notebook)]
    for job in session.refresh(jobs):
        if job.is_terminal:
            continue
        rate = job_rate(job)
        items.append(
            CleanupItem(
                job.kind,
                job.name,
                job.backend,
                job.status,
                rate.instance,
                rate.per_hour,
                job.notebook,
                region=job.region,
            )
        )
    endpoints = [e for e in ledger.list_endpoints(live_only=True) if in_scope(e.notebook)]
    for endpoint in session.refresh(endpoints):
        if not endpoint.is_live:
            continue
        rate = endpoint_rate(endpoint)
        items.append(
            CleanupItem(
                "endpoint",
                endpoint.name,
                endpoint.backend,
                endpoint.status,
                rate.instance,
                # A failed endpoint runs nothing; it is deleted to free its name and parts.
                rate.per_hour if endpoint.status != "Failed" else 0.0,
                endpoint.notebook,
                region=endpoint.region,
            )
        )
    return items


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 300 else text[:297] + "..."


def clean(
    session: Session,
    items: list[CleanupItem],
    *,
    all: bool = False,
    local_stop_wait: float = LOCAL_STOP_WAIT,
) -> CleanupReport:
    """Stop every job and delete every endpoint of ``items``; return what became of each.

    Jobs are asked to stop first (it takes a while, and they keep billing meanwhile), then
    endpoints are deleted, then local jobs are waited for (seconds: their grace period).
    Any error on one item is recorded on it and the rest go on.
    """
    for item in items:
        if item.kind == "endpoint":
            continue
        try:
            kinds.stop(backend_for(session, item.backend, item.region), item.kind, item.name)
            item.outcome = STOPPING
        except Exception as exc:  # noqa: BLE001 - recorded; the others go on
            item.outcome, item.error = FAILED, f"stop failed: {_reason(exc)}"
    for item in items:
        if item.kind != "endpoint":
            continue
        try:
            backend_for(session, item.backend, item.region).delete_endpoint(item.name)
            item.outcome, item.status = DELETED, statuses.DELETED
        except NotFound:
            # Gone already; a describe has its backend mark the row (not written here).
            record = session.ledger.get_endpoint(item.name)
            session.refresh([record] if record is not None else [])
            item.outcome, item.status = GONE, statuses.DELETED
        except Exception as exc:  # noqa: BLE001 - recorded; the others go on
            item.outcome, item.error = FAILED, f"delete failed: {_reason(exc)}"
    _wait_for_local_stops([i for i in items if i.outcome == STOPPING], session, local_stop_wait)
    return CleanupReport(items, scope=scope_name(all))


def _wait_for_local_stops(items: list[CleanupItem], session: Session, timeout: float) -> None:
    """Wait (bounded) until the local jobs asked to stop are ``Stopped``; refresh all statuses."""
    deadline = time.monotonic() + timeout
    waiting = list(items)
    while waiting:
        still = []
        for item in waiting:
            try:
                status = kinds.status_of(
                    _describe_job(session, item.kind, item.backend, item.region, item.name)
                )
            except Exception:  # noqa: BLE001, S112 - a status read that fails: keep "stopping"
                continue
            item.status = status
            if status in statuses.TERMINAL_STATUSES:
                item.outcome = STOPPED
            elif item.backend == "local":
                still.append(item)
        waiting = still
        if not waiting or time.monotonic() >= deadline:
            return
        time.sleep(0.2)
