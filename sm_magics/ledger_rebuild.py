"""``python -m sm_magics.ledger rebuild``: a new ledger from the folders, which are the truth.

The ledger is an index. When its file is damaged (a crash of the disk, a sync tool, a hand
edit) or was deleted while kernels had it open, the history it indexed still exists: every
local job has ``jobs/<name>/{spec,state}.json`` and every local endpoint
``endpoints/<name>/{config,state}.json``. A rebuild reads those, keeps whatever rows of
the old file can still be read (SageMaker jobs and endpoints have no local folder: their
rows come only from there), writes a new file beside the old one, and swaps it in with one
rename; the old file is kept as ``ledger.sqlite.<reason>-<time>``. Processes that had the
old file open notice the swap (the ledger checks its file's identity) and reopen the new.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any, TypeVar

from sm_magics import config, model_registry
from sm_magics.errors import SmMagicsError
from sm_magics.ledger import Ledger
from sm_magics.ledger_records import EndpointRecord, JobRecord, job_row_spec
from sm_magics.model_registry import PackageRecord

_COMPANIONS = ("-wal", "-shm")


@dataclass
class RebuildReport:
    """What a rebuild did: rows from the old file and the folders, folders it skipped."""

    path: Path
    salvaged_jobs: int = 0
    salvaged_endpoints: int = 0
    folder_jobs: int = 0
    folder_endpoints: int = 0
    kept_as: Path | None = None
    old_file_problem: str | None = None
    skipped: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        lines = [
            f"Rebuilt {self.path}: {self.folder_jobs} local jobs and {self.folder_endpoints} "
            f"local endpoints from their folders; {self.salvaged_jobs} job and "
            f"{self.salvaged_endpoints} endpoint rows kept from the old file.",
        ]
        if self.old_file_problem:
            lines.append(f"The old file could not be read whole: {self.old_file_problem}.")
        if self.kept_as:
            lines.append(f"The old file is kept as {self.kept_as}.")
        lines += [f"Skipped {item}." for item in self.skipped]
        return "\n".join(lines)


def _known(cls: type, values: dict[str, object]) -> dict[str, object]:
    names = {f.name for f in fields(cls)}
    return {k: v for k, v in values.items() if k in names}


def _decode(values: dict[str, object]) -> dict[str, object]:
    for column in ("tags", "spec", "variants"):
        text = values.get(column)
        if isinstance(text, str):
            try:
                values[column] = json.loads(text)
            except ValueError:
                values.pop(column)
    return values


def _salvage_packages(path: Path, report: RebuildReport) -> list[PackageRecord]:
    """Read the model registry's rows of the old file (they exist nowhere else)."""
    if not path.is_file():
        return []
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error:
        return []
    conn.row_factory = sqlite3.Row
    packages: list[PackageRecord] = []
    try:
        for row in conn.execute("SELECT * FROM model_packages"):
            try:
                packages.append(model_registry.from_row(row))
            except (TypeError, ValueError):
                report.skipped.append("an unreadable model_packages row of the old file")
    except sqlite3.Error as exc:
        if "no such table" not in str(exc):
            report.old_file_problem = f"model_packages: {exc}"
    finally:
        conn.close()
    return packages


def _salvage(path: Path, report: RebuildReport) -> tuple[list[JobRecord], list[EndpointRecord]]:
    """Read every row the old file still gives, table by table, row by row."""
    jobs: list[JobRecord] = []
    endpoints: list[EndpointRecord] = []
    if not path.is_file():
        return jobs, endpoints
    try:
        conn = sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True, timeout=5.0)
    except sqlite3.Error as exc:
        report.old_file_problem = str(exc)
        return jobs, endpoints
    conn.row_factory = sqlite3.Row
    try:
        for table, out in (("jobs", jobs), ("endpoints", endpoints)):
            cls = JobRecord if table == "jobs" else EndpointRecord
            try:
                for row in conn.execute(f"SELECT * FROM {table}"):  # noqa: S608 - two names
                    values = _decode({key: row[key] for key in row.keys()})  # noqa: SIM118
                    try:
                        out.append(cls(**_known(cls, values)))  # type: ignore[arg-type]
                    except TypeError:
                        report.skipped.append(f"an unreadable {table} row of the old file")
            except sqlite3.Error as exc:
                report.old_file_problem = f"{table}: {exc}"
    finally:
        conn.close()
    for record in jobs:
        if isinstance(record, JobRecord):
            record.spot = bool(record.spot)
    return jobs, endpoints


def _read(path: Path) -> dict[str, Any]:
    with open(path, encoding="utf-8") as handle:
        data = json.load(handle)
    if not isinstance(data, dict):
        raise ValueError("not a JSON object")
    return data


def _job_from_folder(folder: Path) -> JobRecord:
    state = _read(folder / "state.json")
    spec = _read(folder / "spec.json") if (folder / "spec.json").is_file() else {}
    created = state.get("created") or (folder / "state.json").stat().st_mtime
    return JobRecord(
        name=folder.name,
        backend="local",
        status=str(state["status"]),
        created_at=float(created),
        kind=str(state.get("kind") or spec.get("kind") or "training"),
        region=spec.get("region"),
        secondary_status=state.get("secondary_status"),
        instance_type=spec.get("instance_type"),
        instance_count=int(spec.get("instance_count") or 1),
        spot=bool(spec.get("spot")),
        started_at=state.get("training_start"),
        ended_at=state.get("ended"),
        failure_reason=state.get("failure_reason"),
        model_data=state.get("model_data"),
        source_hash=state.get("source_hash"),
        notebook=spec.get("notebook"),
        tags=spec.get("tags") or {},
        spec=job_row_spec(spec),
    )


def _endpoint_from_folder(folder: Path) -> EndpointRecord:
    state = _read(folder / "state.json")
    desired = _read(folder / "config.json")
    variants = state.get("variants") or [
        {
            "VariantName": v.get("name"),
            "CurrentWeight": v.get("weight"),
            "InstanceType": v.get("instance_type"),
            "DesiredInstanceCount": v.get("instance_count"),
        }
        for v in desired.get("variants") or []
        if isinstance(v, dict)
    ]
    created = state.get("created") or (folder / "state.json").stat().st_mtime
    return EndpointRecord(
        name=str(desired.get("name") or folder.name),
        backend="local",
        status=str(state["status"]),
        created_at=float(created),
        region=desired.get("region"),
        url=state.get("url"),
        variants=variants,
        failure_reason=state.get("failure_reason"),
        deleted_at=state.get("deleted"),
        ttl_at=desired.get("ttl_at"),
        spec={"variants": desired.get("variants") or [], "ttl": desired.get("ttl")},
    )


_Record = TypeVar("_Record", JobRecord, EndpointRecord)


def _merge(folder: _Record, old: _Record | None) -> _Record:
    """Return the folder's record, with what only the ledger knew (notebook, tags) kept."""
    if old is not None:
        for name in ("notebook", "tags", "created_at", "region"):
            if not getattr(folder, name) and getattr(old, name):
                setattr(folder, name, getattr(old, name))
    return folder


def _same_arn(arn: str) -> Callable[[int], str]:
    """Return a namer that keeps a salvaged version's own ARN."""
    return lambda _version: arn


def _folders(root: Path) -> list[Path]:
    return sorted(p for p in root.iterdir() if p.is_dir()) if root.is_dir() else []


def rebuild(home: Path | None = None) -> RebuildReport:
    """Write a new ledger for ``home`` (default: ``SM_MAGICS_HOME``) and swap it in."""
    home = home or config.home_dir()
    path = home / "ledger.sqlite"
    report = RebuildReport(path)
    old_jobs, old_endpoints = _salvage(path, report)
    jobs = {record.name: record for record in old_jobs}
    endpoints = {(r.name, r.id): r for r in old_endpoints}
    for folder in _folders(home / "jobs"):
        try:
            record = _job_from_folder(folder)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report.skipped.append(f"job folder {folder} ({exc})")
            continue
        jobs[record.name] = _merge(record, jobs.get(record.name))
        report.folder_jobs += 1
    for folder in _folders(home / "endpoints"):
        try:
            endpoint = _endpoint_from_folder(folder)
        except (OSError, ValueError, KeyError, TypeError) as exc:
            report.skipped.append(f"endpoint folder {folder} ({exc})")
            continue
        same = [k for k, r in endpoints.items() if r.name == endpoint.name and r.backend == "local"]
        newest = max(same, key=lambda k: k[1] or 0) if same else None
        old = endpoints.pop(newest) if newest is not None else None
        endpoints[(endpoint.name, None)] = _merge(endpoint, old)
        report.folder_endpoints += 1
    report.salvaged_jobs = sum(1 for r in jobs.values() if r.backend != "local")
    report.salvaged_endpoints = sum(1 for r in endpoints.values() if r.backend != "local")

    fresh = home / f"ledger.sqlite.rebuilding-{time.time_ns()}"
    ledger = Ledger(fresh)
    try:
        ledger.list_jobs(limit=1)  # the file and its schema exist even with nothing to write
        for package in _salvage_packages(path, report):
            model_registry.insert(ledger, package, _same_arn(package.arn))
        for job in sorted(jobs.values(), key=lambda r: r.created_at):
            ledger.insert_job(job)
        live: set[str] = set()
        rows = sorted(endpoints.values(), key=lambda r: r.created_at, reverse=True)
        for row in rows:  # newest first: of two live rows of one name, the newest stays live
            if row.status != "Deleted" and row.name in live:
                row.status = "Deleted"
            elif row.status != "Deleted":
                live.add(row.name)
        for row in reversed(rows):  # oldest first: ids keep the order of creation
            row.id = None
            ledger.insert_endpoint(row)
    finally:
        ledger.close()
    if path.exists():
        reason = "damaged" if report.old_file_problem else "old"
        report.kept_as = path.with_name(f"{path.name}.{reason}-{time.strftime('%Y%m%dT%H%M%S')}")
        path.replace(report.kept_as)
        for suffix in _COMPANIONS:
            companion = Path(f"{path}{suffix}")
            if companion.exists():
                companion.replace(Path(f"{report.kept_as}{suffix}"))
    fresh.replace(path)
    return report


def main(argv: list[str] | None = None) -> int:
    """Run the command line: ``rebuild`` (the only command, for now)."""
    parser = argparse.ArgumentParser(
        prog="python -m sm_magics.ledger",
        description="Maintain the sm-magics ledger (SM_MAGICS_HOME/ledger.sqlite).",
    )
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser(
        "rebuild", help="rebuild the ledger from the job and endpoint folders (the truth)"
    )
    parser.parse_args(argv)
    try:
        print(rebuild())
    except (SmMagicsError, OSError) as exc:
        print(f"Rebuild failed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # python -m sm_magics.ledger_rebuild (or sm_magics.ledger) rebuild
    raise SystemExit(main())
