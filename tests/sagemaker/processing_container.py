"""A SageMaker processing job's instances, played in this process against moto's S3 and Logs.

moto stores a ``CreateProcessingJob`` and answers ``Completed`` at once; it runs nothing,
downloads nothing, writes no log and uploads no output (and forgets ``Environment`` and
``ProcessingResources``). :class:`ProcessingContainer` does what SageMaker's instances
would do with the *request* the backend sent:

* for each host ``algo-1..N`` (``ProcessingResources.ClusterConfig.InstanceCount``), an
  ``/opt/ml`` folder of its own; every ``S3Input`` prefix listed in moto S3 and its objects
  downloaded under the input's ``LocalPath``, all of them (``FullyReplicated``) or the
  host's share in key order (``ShardedByS3Key``, the same rule as the local backend,
  :func:`sm_magics.backends.processing.shard`); ``/opt/ml/config/resourceconfig.json`` and
  ``processingjobconfig.json`` written;
* ``ContainerEntrypoint`` + ``ContainerArguments`` run as the container's command, with
  ``python3`` this interpreter and every ``/opt/ml`` path mapped to the host's folder
  (there is no ``/opt/ml`` here; :func:`~sm_magics.backends.local.processor.localize`), in
  the request's ``Environment``;
* every output line put to CloudWatch Logs, stream ``<job>/algo-N-<epoch>`` of
  ``/aws/sagemaker/ProcessingJobs``;
* when every host succeeded, each output's ``LocalPath`` uploaded under its ``S3Uri``
  (``algo-1`` last, so it wins a name clash, as locally); a failed host makes the job
  ``Failed`` with SageMaker's ``AlgorithmError`` reason and uploads nothing.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from sm_magics.backends import processing
from sm_magics.backends.local.processor import localize

LOG_GROUP = "/aws/sagemaker/ProcessingJobs"


def _split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


class ProcessingContainer:
    """Runs processing requests as SageMaker's instances would (see the module docstring)."""

    def __init__(self, s3: Any, logs: Any, workdir: Path) -> None:
        self.s3 = s3
        self.logs = logs
        self.workdir = workdir
        self.bin = workdir / "bin"
        self.bin.mkdir(parents=True, exist_ok=True)
        python3 = self.bin / "python3"
        if not python3.exists():
            # A script, not a symlink: a symlinked venv interpreter would not find its venv.
            python3.write_text(f'#!/bin/sh\nexec "{sys.executable}" "$@"\n')
            python3.chmod(0o755)

    def run(self, request: dict[str, Any]) -> tuple[str, str | None]:
        """Run the job to its end; return ``(status, failure reason)``."""
        name = request["ProcessingJobName"]
        count = int(request["ProcessingResources"]["ClusterConfig"]["InstanceCount"])
        hosts = [f"algo-{i}" for i in range(1, count + 1)]
        roots = {host: self.workdir / name / host for host in hosts}
        for index, host in enumerate(hosts):
            self._download(request, roots[host], index, count)
            self._write_config(request, roots[host], host, hosts)
        codes: dict[str, int] = {}
        epoch = int(time.time())
        for host in hosts:
            codes[host] = self._run_host(request, roots[host], f"{name}/{host}-{epoch}")
        failed = [h for h, c in codes.items() if c != 0]
        if failed:
            return "Failed", "AlgorithmError: See job logs for more information"
        for out in (request.get("ProcessingOutputConfig") or {}).get("Outputs", []):
            s3_output = out["S3Output"]
            for host in reversed(hosts):  # algo-1 last: its files win
                self._upload(roots[host], s3_output["LocalPath"], s3_output["S3Uri"])
        return "Completed", None

    def _container_path(self, root: Path, path: str) -> Path:
        return root / Path(path).relative_to("/opt/ml")

    def _download(self, request: dict[str, Any], root: Path, index: int, count: int) -> None:
        for item in request.get("ProcessingInputs") or []:
            s3_input = item["S3Input"]
            bucket, prefix = _split(s3_input["S3Uri"])
            listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
            keys = sorted(o["Key"] for o in listed)
            if s3_input.get("S3DataDistributionType") == processing.SHARDED_BY_S3_KEY:
                keys = processing.shard(keys, count)[index]
            target = self._container_path(root, s3_input["LocalPath"])
            target.mkdir(parents=True, exist_ok=True)
            for key in keys:
                relative = key[len(prefix) :].lstrip("/") or Path(key).name
                path = target / relative
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(self.s3.get_object(Bucket=bucket, Key=key)["Body"].read())
        for out in (request.get("ProcessingOutputConfig") or {}).get("Outputs", []):
            self._container_path(root, out["S3Output"]["LocalPath"]).mkdir(
                parents=True, exist_ok=True
            )

    def _write_config(
        self, request: dict[str, Any], root: Path, host: str, hosts: list[str]
    ) -> None:
        config = root / "config"
        config.mkdir(parents=True, exist_ok=True)
        (config / "resourceconfig.json").write_text(
            json.dumps(processing.resource_config(host, hosts))
        )
        (config / "processingjobconfig.json").write_text(json.dumps(request, default=str))

    def _run_host(self, request: dict[str, Any], root: Path, stream: str) -> int:
        app = request["AppSpecification"]
        command = [*app.get("ContainerEntrypoint", []), *app.get("ContainerArguments", [])]
        command = [localize(part, root) for part in command]
        env = {
            "PATH": f"{self.bin}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(root),
            "PYTHONUNBUFFERED": "1",
            **(request.get("Environment") or {}),
        }
        process = subprocess.run(
            command,
            env=env,
            cwd=root,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=240,
            check=False,
        )
        lines = process.stdout.splitlines() or ["(no output)"]
        with contextlib.suppress(self.logs.exceptions.ResourceAlreadyExistsException):
            self.logs.create_log_group(logGroupName=LOG_GROUP)
        self.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)
        stamp = int(time.time() * 1000)
        self.logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": stamp + i, "message": line} for i, line in enumerate(lines)],
        )
        return process.returncode

    def _upload(self, root: Path, local_path: str, uri: str) -> None:
        bucket, prefix = _split(uri)
        folder = self._container_path(root, local_path)
        for path in sorted(p for p in folder.rglob("*") if p.is_file()):
            key = f"{prefix.rstrip('/')}/{path.relative_to(folder).as_posix()}"
            self.s3.put_object(Bucket=bucket, Key=key, Body=path.read_bytes())
