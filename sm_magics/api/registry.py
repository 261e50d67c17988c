"""The model registry from a notebook: register, list, approve, reject, deploy from it.

``Session.register`` turns a training job (or a model URI) into a new version of a model
package group on the job's backend; ``Session.models`` lists groups and versions with
their approval and metrics; ``approve``/``reject`` change a version's status, recording
who and when. :func:`resolve_package` is what ``%sm_deploy GROUP``, ``GROUP/VERSION`` or a
package ARN use: the latest approved version, and never an unapproved one unless forced.
"""

from __future__ import annotations

import getpass
import socket
from typing import TYPE_CHECKING

from sm_magics import model_registry
from sm_magics.backends.packages import PackageSpec
from sm_magics.display.registry import ModelsTable
from sm_magics.display.runs import inputs_of
from sm_magics.errors import InvalidRequest, NotFound
from sm_magics.model_registry import APPROVED, PENDING, REJECTED, PackageRecord

if TYPE_CHECKING:
    from sm_magics.api.session import Session

#: The endpoint tag naming the model package version it serves (set by ``%sm_deploy GROUP``).
PACKAGE_TAG = "sm-magics:model-package"
_APPROVALS = {"approve": APPROVED, "pending": PENDING, "reject": REJECTED}


def who() -> str:
    """Return ``user@host``: who registered or approved (the history's ``by``)."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"{user}@{socket.gethostname()}"


def is_package_arn(text: str) -> bool:
    """Whether ``text`` is a model package ARN."""
    return text.startswith("arn:aws") and ":model-package/" in text


def register(
    self: Session,
    model: str,
    *,
    group: str,
    approval: str = "pending",
    description: str | None = None,
    metrics_from: str | None = None,
    backend: str | None = None,
) -> PackageRecord:
    """Register ``model`` (a training job name or a ``model.tar.gz`` URI) in ``group``.

    The version's metrics are the final metrics of ``metrics_from`` (default: the job
    itself); its lineage (source job, code hash, inputs) comes from the job's ledger row.

    Raises
    ------
    InvalidRequest
        A job with no model yet, an unknown approval, a bad group name.
    """
    if approval not in _APPROVALS:
        raise InvalidRequest("Approval must be approve, pending or reject.")
    record = self.ledger.get_job(model)
    source_job: str | None = None
    if record is not None:
        if record.kind == "tuning":
            from sm_magics.api.tuning import best_trial_of

            model = best_trial_of(self, record.name, record.backend)
            record = self.ledger.get_job(model)
            assert record is not None
        if record.kind != "training":
            raise InvalidRequest(f"{model} is a {record.kind} job; register a training job.")
        job = self.job(model)
        uri = job.model_data
        if not uri:
            raise InvalidRequest(f"Training job {model} is {job.status} with no model to register.")
        source_job = model
        backend_name = backend or record.backend
    else:
        uri = model
        backend_name = backend or self.backend_name
    metrics: dict[str, float] = {}
    metric_job = metrics_from or source_job
    if metric_job:
        metric_record = self.ledger.get_job(metric_job)
        if metric_record is None:
            raise NotFound(f"--metrics-from {metric_job}: no such job in the ledger.")
        self.job(metric_job).describe()  # the backend brings the row's final metrics up
        metric_record = self.ledger.get_job(metric_job)
        assert metric_record is not None
        metrics = dict(metric_record.metrics)
    spec = PackageSpec(
        group=group,
        model_data=uri,
        source_job=source_job,
        description=description,
        approval=_APPROVALS[approval],
        metrics=metrics,
        source_hash=record.source_hash if record is not None else None,
        inputs=inputs_of(record.spec or {}) if record is not None else {},
        notebook=self.notebook,
        region=self.region,
    )
    return self.backend(backend_name).register_model(spec, by=who())


def models(self: Session, group: str | None = None, *, backend: str | None = None) -> ModelsTable:
    """Return the registry's versions (of ``group``, or every group), newest first."""
    records = self.backend(backend).list_model_packages(group)
    if group is not None and not records:
        raise NotFound(f"No model group {group!r}; %sm_models lists the groups.")
    return ModelsTable(records)


def resolve_package(
    session: Session, reference: str, *, approved_only: bool = True
) -> PackageRecord | None:
    """Return the version ``reference`` names (GROUP, GROUP/VERSION or an ARN), or None.

    ``None`` means the text names no registered group (it may be a job or a URI).
    ``GROUP`` alone is its latest approved version.

    Raises
    ------
    InvalidRequest
        The version is not approved (and ``approved_only``), or the group has none approved.
    """
    if is_package_arn(reference):
        record = model_registry.get(session.ledger, reference)
        if record is None:
            raise NotFound(f"No model package {reference} in the ledger.")
    else:
        try:
            group, version = model_registry.parse_reference(reference)
        except InvalidRequest:
            return None
        if model_registry.find(session.ledger, group) is None:
            return None
        if version is None:
            record = model_registry.find(session.ledger, group, approved_only=True)
            if record is None:
                if approved_only:
                    raise InvalidRequest(
                        f"Model group {group} has no approved version: %sm_approve "
                        f"{group}/VERSION first, or deploy GROUP/VERSION with --force."
                    )
                record = model_registry.find(session.ledger, group)
        else:
            record = model_registry.find(session.ledger, group, version)
            if record is None:
                raise NotFound(f"Model group {group} has no version {version}.")
    assert record is not None
    if approved_only and record.status != APPROVED:
        raise InvalidRequest(
            f"{record.label} is {record.status}, not Approved: approve it first "
            f"(%sm_approve {record.label}) or deploy with --force."
        )
    return record


def set_approval(
    self: Session, reference: str, status: str, *, note: str | None = None
) -> PackageRecord:
    """Set the approval of ``GROUP/VERSION`` (or an ARN), recording who and when."""
    if not is_package_arn(reference) and "/" not in reference:
        raise InvalidRequest(f"{reference!r}: name a version, GROUP/VERSION.")
    record = resolve_package(self, reference, approved_only=False)
    if record is None:
        raise NotFound(f"No model package {reference}; %sm_models lists them.")
    return self.backend(record.backend).set_model_approval(record.arn, status, by=who(), note=note)


def approve(self: Session, reference: str, *, note: str | None = None) -> PackageRecord:
    """Approve ``GROUP/VERSION`` for deployment."""
    return set_approval(self, reference, APPROVED, note=note)


def reject(self: Session, reference: str, *, note: str | None = None) -> PackageRecord:
    """Reject ``GROUP/VERSION`` (it can no longer be deployed without ``--force``)."""
    return set_approval(self, reference, REJECTED, note=note)


__all__ = [
    "PACKAGE_TAG",
    "approve",
    "is_package_arn",
    "models",
    "register",
    "reject",
    "resolve_package",
]
