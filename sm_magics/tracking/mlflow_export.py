"""Every run logged as an MLflow run: parameters, stepped metrics, tags, the model URI.

With ``%config SageMakerMagics.mlflow_tracking_uri = "..."`` each run that ended is sent
once to that tracking server through the lightweight client (``mlflow-skinny``, the
optional ``mlflow`` extra, imported only here): the experiment is the run's
``--experiment`` (else the notebook's name, else ``sm-magics``); parameters are the
hyperparameters; every ``--metric`` is logged with one step per value the job printed;
tags say which job, backend, notebook and code it was; the model artifact's URI is the
``sm_magics.model_data`` tag. A run is found again by its ``sm_magics.job`` tag, so
exporting twice logs nothing twice.

A SageMaker managed MLflow tracking server is reached the same way: its ARN as the URI,
with the ``sagemaker-mlflow`` plug-in installed in the kernel's environment. A local
``file:`` store works for trying it out (MLflow keeps it in maintenance mode: this module
allows it explicitly for ``file:`` URIs, as the user asked for one).
"""

from __future__ import annotations

import os
from pathlib import PurePath
from typing import TYPE_CHECKING

from sm_magics.errors import BackendUnavailable

if TYPE_CHECKING:
    from mlflow import MlflowClient
    from mlflow.entities import Metric

    from sm_magics.api.session import Session
    from sm_magics.display.runs import RunRow
    from sm_magics.metrics import MetricPoint

JOB_TAG = "sm_magics.job"
_STATUS = {"Completed": "FINISHED", "Failed": "FAILED", "Stopped": "KILLED"}


def _client(tracking_uri: str) -> MlflowClient:
    if tracking_uri.startswith("file:") or ("://" not in tracking_uri and ":" not in tracking_uri):
        os.environ.setdefault("MLFLOW_ALLOW_FILE_STORE", "true")
    try:
        from mlflow import MlflowClient
    except ImportError as exc:
        raise BackendUnavailable(
            "Logging runs to MLflow needs its client: pip install 'sm-magics[mlflow]' "
            "(mlflow-skinny)."
        ) from exc
    return MlflowClient(tracking_uri=tracking_uri)


def _experiment_name(row: RunRow) -> str:
    if row.experiment:
        return row.experiment
    if row.notebook:
        return PurePath(row.notebook).stem or "sm-magics"
    return "sm-magics"


def export_runs(session: Session, tracking_uri: str, rows: list[RunRow]) -> list[str]:
    """Log every ended run of ``rows`` not yet in MLflow; return the new MLflow run ids."""
    from mlflow.entities import Metric, Param, RunTag

    client = _client(tracking_uri)
    created: list[str] = []
    experiments: dict[str, str] = {}
    for row in rows:
        if row.status not in _STATUS:
            continue
        name = _experiment_name(row)
        if name not in experiments:
            found = client.get_experiment_by_name(name)
            experiments[name] = (
                found.experiment_id if found is not None else client.create_experiment(name)
            )
        experiment_id = experiments[name]
        if client.search_runs(
            [experiment_id], filter_string=f"tags.`{JOB_TAG}` = '{row.name}'", max_results=1
        ):
            continue
        record = session.ledger.get_job(row.name)
        tags = {
            JOB_TAG: row.name,
            "sm_magics.kind": row.kind,
            "sm_magics.backend": row.backend,
            "sm_magics.instance": row.instance,
            "mlflow.runName": row.name,
        }
        if row.notebook:
            tags["mlflow.source.name"] = row.notebook
        if row.source_hash:
            tags["sm_magics.source_hash"] = row.source_hash
        if record is not None and record.model_data:
            tags["sm_magics.model_data"] = record.model_data
        for channel, uri in row.inputs.items():
            tags[f"sm_magics.input.{channel}"] = uri
        run = client.create_run(
            experiment_id,
            start_time=int((record.started_at or row.created_at) * 1000)
            if record is not None
            else None,
            run_name=row.name,
        )
        metrics: list[Metric] = []
        series: dict[str, list[MetricPoint]] = {}
        if row.kind == "training":
            try:
                series = session.job(row.name).metrics()
            except Exception:  # noqa: BLE001 - logs gone: the final values still go
                series = {}
        for metric, points in series.items():
            metrics += [Metric(metric, p.value, p.timestamp, step) for step, p in enumerate(points)]
        for metric, value in row.metrics.items():
            if not series.get(metric):
                metrics.append(Metric(metric, value, int(row.created_at * 1000), 0))
        params = [Param(k, str(v)[:6000]) for k, v in sorted(row.params.items())]
        client.log_batch(
            run.info.run_id,
            metrics=metrics,
            params=params,
            tags=[RunTag(k, str(v)) for k, v in tags.items()],
        )
        end = record.ended_at if record is not None else None
        client.set_terminated(
            run.info.run_id,
            status=_STATUS[row.status],
            end_time=int(end * 1000) if end else None,
        )
        created.append(run.info.run_id)
    return created
