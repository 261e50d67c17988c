"""Runs: every training, processing and tuning job as a comparable record.

A run is a job's ledger row seen as an experiment record: its parameters (hyper-
parameters), final metrics, inputs, code hash, instance, duration and cost, grouped by
notebook and by an optional experiment (``--experiment NAME``, kept as the job's
``sm-magics:experiment`` tag). ``Session.runs()`` is a DataFrame when pandas is there;
``%sm_runs`` is a table; ``%sm_compare`` puts runs side by side with their metric curves
overlaid.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from sm_magics.display.runs import EXPERIMENT_TAG, CompareView, RunRow, RunsTable
from sm_magics.errors import InvalidRequest

if TYPE_CHECKING:
    from sm_magics.api.session import Session
    from sm_magics.ledger_records import JobRecord

__all__ = ["EXPERIMENT_TAG", "compare", "parse_filter", "run_rows", "runs", "runs_table"]

RUN_KINDS = ("training", "processing", "tuning")
_FILTER = re.compile(r"^\s*([A-Za-z_][\w.:-]*)\s*(>=|<=|!=|==|=|>|<)\s*(.+?)\s*$")
_OPS: dict[str, Callable[[Any, Any], bool]] = {
    "=": operator.eq,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
}


def _value(text: str) -> Any:
    try:
        return float(text)
    except ValueError:
        return text.strip("'\"")


def parse_filter(text: str) -> Callable[[RunRow], bool]:
    """Return a predicate for ``NAME OP VALUE`` (a metric, a parameter or a column).

    Raises
    ------
    InvalidRequest
        Not of that form.
    """
    match = _FILTER.match(text)
    if match is None:
        raise InvalidRequest(
            f"--filter {text!r}: write NAME OP VALUE, e.g. 'accuracy>0.9', 'status=Completed', "
            "'max_depth<=5'."
        )
    name, op, raw = match.groups()
    wanted = _value(raw)
    compare = _OPS[op]

    def keep(row: RunRow) -> bool:
        have = row.lookup(name)
        if have is None:
            return False
        if isinstance(wanted, float):
            try:
                return compare(float(have), wanted)
            except (TypeError, ValueError):
                return False
        return compare(str(have), wanted)

    return keep


def run_rows(
    self: Session,
    *,
    experiment: str | None = None,
    filters: list[str] | None = None,
    sort: str | None = None,
    limit: int = 500,
) -> list[RunRow]:
    """Return runs of every kind, newest first (or by ``sort``: ``NAME`` or ``NAME:asc``)."""
    records: list[JobRecord] = [
        r for r in self.ledger.list_jobs(limit=limit) if r.kind in RUN_KINDS
    ]
    for record in records:
        if not record.is_terminal:
            try:  # the backend brings the row (status, final metrics) up to date
                self.job(record.name).describe()
            except Exception:  # noqa: BLE001, S112 - a table must show even if one can't refresh
                continue
    fresh = {r.name: r for r in self.ledger.list_jobs(limit=limit)}
    rows = [RunRow.from_record(fresh.get(r.name, r)) for r in records]
    if experiment is not None:
        rows = [row for row in rows if row.experiment == experiment]
    for predicate in [parse_filter(text) for text in filters or []]:
        rows = [row for row in rows if predicate(row)]
    if sort:
        name, _, order = sort.partition(":")
        if order not in ("", "asc", "desc"):
            raise InvalidRequest(f"--sort {sort!r}: NAME, NAME:asc or NAME:desc.")
        present = [row for row in rows if isinstance(row.lookup(name), int | float)]
        missing = [row for row in rows if row not in present]
        present.sort(key=lambda row: float(row.lookup(name)), reverse=order != "asc")
        rows = present + missing
    return rows


def runs(
    self: Session,
    *,
    experiment: str | None = None,
    filters: list[str] | None = None,
    sort: str | None = None,
    limit: int = 500,
) -> Any:
    """Return the runs as a pandas DataFrame (a list of dicts without pandas).

    One row per job: ``name``, ``kind``, ``experiment``, ``notebook``, ``status``, each
    parameter as ``param.<name>``, each final metric as ``metric.<name>``, ``instance``,
    ``duration_s``, ``cost_usd``, ``source_hash``.
    """
    rows = [
        row.to_dict()
        for row in run_rows(self, experiment=experiment, filters=filters, sort=sort, limit=limit)
    ]
    try:
        import pandas as pd  # type: ignore[import-untyped, unused-ignore]
    except ImportError:
        return rows
    return pd.DataFrame(rows)


def runs_table(
    self: Session,
    *,
    experiment: str | None = None,
    filters: list[str] | None = None,
    sort: str | None = None,
    limit: int = 500,
) -> RunsTable:
    """Return the runs as ``%sm_runs`` shows them."""
    return RunsTable(run_rows(self, experiment=experiment, filters=filters, sort=sort, limit=limit))


def compare(self: Session, names: list[str]) -> CompareView:
    """Return runs side by side: parameters, final metrics and overlaid metric curves.

    Raises
    ------
    InvalidRequest
        Fewer than two runs.
    NotFound
        A name that is not a job.
    """
    if len(names) < 2:
        raise InvalidRequest("%sm_compare needs at least two jobs.")
    rows: list[RunRow] = []
    curves: dict[str, dict[str, list[tuple[float, float]]]] = {}
    for name in names:
        job = self.job(name)
        job.describe()
        record = self.ledger.get_job(name)
        assert record is not None
        rows.append(RunRow.from_record(record))
        if record.kind != "training":
            continue
        for metric, points in job.metrics().items():
            if points:
                start = points[0].timestamp
                curves.setdefault(metric, {})[name] = [
                    ((p.timestamp - start) / 1000, p.value) for p in points
                ]
    return CompareView(rows, curves)
