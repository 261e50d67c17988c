"""The conformance scenarios against the sagemaker backend: moto, plus a simulator where it stops.

The backend is the real :class:`~sm_magics.backends.sagemaker.SageMakerBackend`, talking
HTTP to moto (``ThreadedMotoServer`` on 127.0.0.1, emptied before each test) through its
own :class:`~sm_magics.backends.sagemaker.aws.AwsSession`. moto is the real thing for
everything it stores: S3 objects, CloudWatch Logs, training jobs, models, endpoint configs,
endpoints, variant weights, transform jobs, tags. No container ever runs, and moto does not
pretend one does: :class:`SageMakerSimulator` (a subclass of ``tests/sagemaker/sm_fakes.py``'s
:class:`ScriptedSageMaker`) wraps the ``sagemaker`` client and :class:`SimulatedRuntime`
replaces the ``sagemaker-runtime`` one, producing what SageMaker would show for the
scenario's script. The ``backend`` fixture's docstring (:class:`SageMakerFixtures`) says
operation by operation where moto stops and the simulator takes over.
"""

from __future__ import annotations

import contextlib
import io
import random
import sys
import tarfile
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import boto3
import botocore.session
import pytest
from botocore.exceptions import ClientError
from botocore.response import StreamingBody
from botocore.validate import validate_parameters
from processing_container import ProcessingContainer
from sm_fakes import ACCOUNT, ScriptedSageMaker, client_error

from sm_magics.backends import processing, statuses
from sm_magics.backends.local import inference
from sm_magics.backends.sagemaker import SageMakerBackend
from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.backends.sagemaker.cwlogs import TRAINING_LOG_GROUP
from sm_magics.backends.sagemaker.uploads import parse_s3_uri
from sm_magics.backends.specs import TrainingSpec
from sm_magics.ledger import Ledger

from .abstract import (
    MULTIPLIER,
    BackendFixtures,
    Behaviour,
    EndpointScenarios,
    Harness,
    ProcessingScenarios,
    RegistryScenarios,
    TrainingScenarios,
    TransformScenarios,
    TuningScenarios,
    scenario_names,
    unique_name,
)
from .conftest import REGION

ROLE = f"arn:aws:iam::{ACCOUNT}:role/service-role/SageMakerExecution"
BUCKET = "sm-magics-conformance"
#: The scikit-learn framework container: it trains and serves with the same image.
IMAGE = f"683313688378.dkr.ecr.{REGION}.amazonaws.com/sagemaker-scikit-learn:1.2-1-cpu-py3"

_SESSION = botocore.session.get_session()
_SM_MODEL = _SESSION.get_service_model("sagemaker")
_RUNTIME_MODEL = _SESSION.get_service_model("sagemaker-runtime")


def _valid_answer(operation: str, response: dict[str, Any]) -> dict[str, Any]:
    """Check an answer we rewrote still matches the real service model; return it."""
    shape = _SM_MODEL.operation_model(operation).output_shape
    validate_parameters({k: v for k, v in response.items() if k != "ResponseMetadata"}, shape)
    return response


def _tar_gz(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            info.mtime = int(time.time())
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def _read_s3(aws: AwsSession, uri: str) -> bytes:
    bucket, key = parse_s3_uri(uri)
    return bytes(aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read())


class Container:
    """A framework serving container, played in this process.

    As ``sagemaker-scikit-learn`` and the other framework containers do at start-up: the
    model's ``ModelDataUrl`` is unpacked as the model folder, its
    ``SAGEMAKER_SUBMIT_DIRECTORY`` as the code folder, and ``SAGEMAKER_PROGRAM`` is imported
    for its handlers; ``model_fn`` loads the model once. Requests then go through the
    handlers (or the toolkit's defaults), all from moto S3.
    """

    def __init__(self, aws: AwsSession, primary: dict[str, Any], folder: Path) -> None:
        environment = primary.get("Environment") or {}
        model_dir, code_dir = folder / "model", folder / "code"
        self._unpack(_read_s3(aws, primary["ModelDataUrl"]), model_dir)
        if environment.get("SAGEMAKER_SUBMIT_DIRECTORY"):
            self._unpack(_read_s3(aws, environment["SAGEMAKER_SUBMIT_DIRECTORY"]), code_dir)
        else:
            code_dir = model_dir / "code"
        script = code_dir / environment.get("SAGEMAKER_PROGRAM", "inference.py")
        try:
            self.handlers = inference.load_handlers(script)
        finally:  # the module stays reachable through its functions; unlist it
            sys.modules.pop("sm_magics_user_inference", None)
            with contextlib.suppress(ValueError):
                sys.path.remove(str(script.parent))
        self.model = inference.load_model(self.handlers, model_dir)

    @staticmethod
    def _unpack(archive: bytes, folder: Path) -> None:
        folder.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
            tar.extractall(folder, filter="data")

    def invoke(self, body: bytes, content_type: str, accept: str) -> tuple[bytes, str]:
        """One request through the handlers; ``InferenceError`` if they failed."""
        return self.handlers.invoke(self.model, body, content_type, accept)


@dataclass
class _Run:
    """One simulated training job: its behaviour and how far it got."""

    behaviour: Behaviour
    stage: int = -1
    released: bool = False
    streams: tuple[str, ...] = ()
    last_stamp: int = 0

    @property
    def last_stage(self) -> int:
        return 4 if self.behaviour.failure else 5


class SageMakerSimulator(ScriptedSageMaker):
    """moto's ``sagemaker`` client, with SageMaker's time and effects where moto has none.

    See the module docstring for each operation it plays; every other call goes to moto
    unchanged. Rewritten answers are checked against the real service model.
    """

    def __init__(self, real: Any, aws: AwsSession, folder: Path) -> None:
        super().__init__(real)
        self.aws = aws
        self.folder = folder
        self.lock = threading.RLock()
        self.expected: dict[str, Behaviour] = {}
        self.runs: dict[str, _Run] = {}
        self.endpoint_phase: dict[str, str] = {}
        self.pending_update: dict[str, str] = {}
        self.transforms: dict[str, dict[str, Any]] = {}
        self.containers: dict[str, Container] = {}
        self.random = random.Random(0)
        self.deleted_jobs: set[tuple[str, str]] = set()
        self.on_describe = self._advance
        self.processing: dict[str, dict[str, Any]] = {}
        self.gated_processing: set[str] = set()
        self.tuning: dict[str, str] = {}
        self.processing_container = ProcessingContainer(
            aws.client("s3"), aws.client("logs"), folder / "processing"
        )

    # -- training ---------------------------------------------------------------------------

    def expect(self, name: str, behaviour: Behaviour) -> None:
        """Say what the script of the job about to be created ``name`` does."""
        with self.lock:
            self.expected[name] = behaviour

    def release(self, name: str) -> None:
        """Let a gated job go on (the next describe writes its ``after`` lines)."""
        with self.lock:
            self.runs[name].released = True

    def create_training_job(self, **params: Any) -> dict[str, Any]:
        name = params["TrainingJobName"]
        with contextlib.suppress(ClientError):
            found = self.real.describe_training_job(TrainingJobName=name)
            raise client_error(
                "ResourceInUse",
                "Training job names must be unique within an AWS account and region, and a "
                f"training job with this name already exists ({found['TrainingJobArn']})",
                "CreateTrainingJob",
            )
        response: dict[str, Any] = self.real.create_training_job(**params)
        with self.lock:
            self.runs[name] = _Run(self.expected.pop(name, Behaviour()))
        return response

    def describe_training_job(self, **params: Any) -> dict[str, Any]:
        self._deleted("training", params["TrainingJobName"], "DescribeTrainingJob")
        with self.lock:
            response = super().describe_training_job(**params)  # calls _advance first
            run = self.runs.get(params["TrainingJobName"])
        if response["TrainingJobStatus"] == statuses.FAILED and run and run.behaviour.failure:
            response["FailureReason"] = f"AlgorithmError: {run.behaviour.failure}"
        return _valid_answer("DescribeTrainingJob", response)

    def _advance(self, name: str) -> None:
        """Move the job one step along its script (called under the lock by describe)."""
        run = self.runs.get(name)
        if run is None or self.status.get(name, (statuses.IN_PROGRESS,))[0] != statuses.IN_PROGRESS:
            return  # not ours, stopping, or ended
        stage = run.stage + 1
        if stage > run.last_stage or (stage == 3 and run.behaviour.gated and not run.released):
            return
        run.stage = stage
        if stage == 0:
            self.set(name, statuses.IN_PROGRESS, statuses.STARTING)
        elif stage == 1:
            self.set(name, statuses.IN_PROGRESS, statuses.DOWNLOADING)
        elif stage == 2:
            self._write_lines(name, run, run.behaviour.before)
            self.set(name, statuses.IN_PROGRESS, statuses.TRAINING)
        elif stage == 3:
            self._write_lines(name, run, run.behaviour.after)
        elif stage == 4 and run.behaviour.failure:
            self.set(name, statuses.FAILED, statuses.FAILED)
        elif stage == 4:
            uri = self.real.describe_training_job(TrainingJobName=name)["ModelArtifacts"][
                "S3ModelArtifacts"
            ]
            bucket, key = parse_s3_uri(uri)
            model = _tar_gz({"model.txt": str(MULTIPLIER).encode()})
            self.aws.client("s3").put_object(Bucket=bucket, Key=key, Body=model)
            self.set(name, statuses.IN_PROGRESS, statuses.UPLOADING)
        else:
            self.set(name, statuses.COMPLETED, statuses.COMPLETED)

    def _write_lines(self, name: str, run: _Run, lines: tuple[str, ...]) -> None:
        """Write each host's ``lines`` as SageMaker does: a stream per host, in time order."""
        logs = self.aws.client("logs")
        hosts = run.behaviour.hosts
        if not run.streams:
            with contextlib.suppress(logs.exceptions.ResourceAlreadyExistsException):
                logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
            epoch = int(time.time())
            run.streams = tuple(f"{name}/algo-{h}-{epoch}" for h in range(1, hosts + 1))
            for stream in run.streams:
                logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream)
        start = max(int(time.time() * 1000), run.last_stamp + 1)
        for host, stream in enumerate(run.streams, start=1):
            events = [
                {"timestamp": start + i * hosts + host - 1, "message": f"{line} on algo-{host}"}
                for i, line in enumerate(lines)
            ]
            if events:
                logs.put_log_events(
                    logGroupName=TRAINING_LOG_GROUP, logStreamName=stream, logEvents=events
                )
                run.last_stamp = max(run.last_stamp, events[-1]["timestamp"])

    def delete_job(self, kind: str, name: str) -> None:
        """``DeleteTrainingJob`` (or a transform job's removal), which moto lacks."""
        with self.lock:
            self.deleted_jobs.add((kind, name))

    def _deleted(self, kind: str, name: str, operation: str) -> None:
        with self.lock:
            gone = (kind, name) in self.deleted_jobs
        if gone:
            raise client_error("ValidationException", "Requested resource not found.", operation)

    # -- endpoints --------------------------------------------------------------------------

    def create_endpoint(self, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.real.create_endpoint(**params)
        with self.lock:
            self.endpoint_phase[params["EndpointName"]] = statuses.CREATING
        return response

    def update_endpoint(self, **params: Any) -> dict[str, Any]:
        validate_parameters(params, _SM_MODEL.operation_model("UpdateEndpoint").input_shape)
        self.calls["update_endpoint"] += 1
        endpoint = self.real.describe_endpoint(EndpointName=params["EndpointName"])
        self.real.describe_endpoint_config(EndpointConfigName=params["EndpointConfigName"])
        with self.lock:
            self.pending_update[params["EndpointName"]] = params["EndpointConfigName"]
            self.endpoint_phase[params["EndpointName"]] = statuses.UPDATING
        return {"EndpointArn": endpoint["EndpointArn"]}

    def update_endpoint_weights_and_capacities(self, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.real.update_endpoint_weights_and_capacities(**params)
        with self.lock:
            self.endpoint_phase[params["EndpointName"]] = statuses.UPDATING
        return response

    def describe_endpoint(self, **params: Any) -> dict[str, Any]:
        name = params["EndpointName"]
        response: dict[str, Any] = self.real.describe_endpoint(**params)
        with self.lock:
            phase = self.endpoint_phase.pop(name, None)
            pending = self.pending_update.get(name)
            if phase is None and pending:  # the new fleet is up: traffic moves to it
                self.real.create_endpoint(EndpointName=name, EndpointConfigName=pending)
                del self.pending_update[name]
                response = self.real.describe_endpoint(**params)
        # moto answers a DataCaptureConfig short of its required members even when none was
        # asked for; SageMaker leaves it out then (and none is ever asked for here).
        response.pop("DataCaptureConfig", None)
        if phase == statuses.CREATING:
            response["EndpointStatus"] = statuses.CREATING
            response.pop("ProductionVariants", None)
        elif phase == statuses.UPDATING:
            response["EndpointStatus"] = statuses.UPDATING
            if pending:
                response["PendingDeploymentSummary"] = {"EndpointConfigName": pending}
        return _valid_answer("DescribeEndpoint", response)

    def delete_endpoint(self, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.real.delete_endpoint(**params)
        with self.lock:
            self.endpoint_phase.pop(params["EndpointName"], None)
            self.pending_update.pop(params["EndpointName"], None)
        return response

    def container(self, model_name: str) -> Container:
        """The running container of a model (started on first use)."""
        with self.lock:
            if model_name not in self.containers:
                model = self.real.describe_model(ModelName=model_name)
                folder = self.folder / f"{model_name}-{uuid.uuid4().hex[:6]}"
                self.containers[model_name] = Container(self.aws, model["PrimaryContainer"], folder)
            return self.containers[model_name]

    def invoke(self, params: dict[str, Any]) -> dict[str, Any]:
        """``InvokeEndpoint`` as SageMaker Runtime answers it (see the module docstring)."""
        name = params["EndpointName"]
        try:
            endpoint = self.real.describe_endpoint(EndpointName=name)
        except ClientError:
            raise client_error(
                "ValidationError",
                f"Endpoint {name} of account {ACCOUNT} not found.",
                "InvokeEndpoint",
            ) from None
        if self.endpoint_phase.get(name) == statuses.CREATING:
            raise client_error(
                "ValidationError", f"Endpoint {name} is not in service yet.", "InvokeEndpoint"
            )
        variants = endpoint.get("ProductionVariants") or []
        target = params.get("TargetVariant")
        if target:
            chosen = next((v for v in variants if v["VariantName"] == target), None)
            if chosen is None:
                raise client_error(
                    "ValidationError",
                    f"The target variant {target} does not exist in endpoint {name}.",
                    "InvokeEndpoint",
                )
        else:
            chosen = self.random.choices(
                variants, weights=[v.get("CurrentWeight", 0.0) for v in variants]
            )[0]
        config = self.real.describe_endpoint_config(
            EndpointConfigName=endpoint["EndpointConfigName"]
        )
        model_name = next(
            v["ModelName"]
            for v in config["ProductionVariants"]
            if v["VariantName"] == chosen["VariantName"]
        )
        body = params["Body"]
        body = body.read() if hasattr(body, "read") else bytes(body)
        try:
            data, content_type = self.container(model_name).invoke(
                body, params.get("ContentType", "application/json"), params.get("Accept") or ""
            )
        except inference.InferenceError as exc:
            raise ClientError(
                {
                    "Error": {
                        "Code": "ModelError",
                        "Message": f"Received server error ({exc.status}) from primary with "
                        f'message "{exc}".',
                    },
                    "OriginalStatusCode": exc.status,
                    "OriginalMessage": str(exc),
                    "LogStreamArn": f"arn:aws:logs:{REGION}:{ACCOUNT}:log-group:"
                    f"/aws/sagemaker/Endpoints/{name}",
                    "ResponseMetadata": {"HTTPStatusCode": 424},
                },
                "InvokeEndpoint",
            ) from None
        return {
            "Body": StreamingBody(io.BytesIO(data), len(data)),
            "ContentType": content_type,
            "InvokedProductionVariant": chosen["VariantName"],
            "ResponseMetadata": {"HTTPStatusCode": 200},
        }

    # -- tuning -----------------------------------------------------------------------------
    # moto stores a tuning job "Completed" with a canned best job and runs no trial; here a
    # tuning job stays InProgress with no trial until it is stopped (Stopping, then
    # Stopped), and the two operations moto lacks are answered (no trials; the stop).

    def create_hyper_parameter_tuning_job(self, **params: Any) -> dict[str, Any]:
        operation = _SM_MODEL.operation_model("CreateHyperParameterTuningJob")
        validate_parameters(params, operation.input_shape)
        name = params["HyperParameterTuningJobName"]
        with contextlib.suppress(ClientError):
            self.real.describe_hyper_parameter_tuning_job(HyperParameterTuningJobName=name)
            raise client_error("ResourceInUse", f"Tuning job {name} already exists", operation.name)
        response: dict[str, Any] = self.real.create_hyper_parameter_tuning_job(**params)
        with self.lock:
            self.tuning[name] = "InProgress"
        return response

    def describe_hyper_parameter_tuning_job(self, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.real.describe_hyper_parameter_tuning_job(**params)
        with self.lock:
            status = self.tuning.get(params["HyperParameterTuningJobName"])
            if status == "Stopping":
                self.tuning[params["HyperParameterTuningJobName"]] = "Stopped"
        if status is not None:
            response["HyperParameterTuningJobStatus"] = status
            for key in ("BestTrainingJob", "OverallBestTrainingJob", "TuningJobCompletionDetails"):
                response.pop(key, None)
            if status == "InProgress":
                response.pop("HyperParameterTuningEndTime", None)
            response["TrainingJobStatusCounters"] = dict.fromkeys(
                ("Completed", "InProgress", "RetryableError", "NonRetryableError", "Stopped"), 0
            )
            response["ObjectiveStatusCounters"] = {"Succeeded": 0, "Pending": 0, "Failed": 0}
            response.pop("FailureReason", None)
        return _valid_answer("DescribeHyperParameterTuningJob", response)

    def list_training_jobs_for_hyper_parameter_tuning_job(self, **params: Any) -> dict[str, Any]:
        operation = _SM_MODEL.operation_model("ListTrainingJobsForHyperParameterTuningJob")
        validate_parameters(params, operation.input_shape)
        return {"TrainingJobSummaries": []}

    def stop_hyper_parameter_tuning_job(self, **params: Any) -> dict[str, Any]:
        operation = _SM_MODEL.operation_model("StopHyperParameterTuningJob")
        validate_parameters(params, operation.input_shape)
        with self.lock:
            if self.tuning.get(params["HyperParameterTuningJobName"]) == "InProgress":
                self.tuning[params["HyperParameterTuningJobName"]] = "Stopping"
        return {}

    # -- processing -------------------------------------------------------------------------

    def gate_processing(self, name: str) -> None:
        """Keep the processing job ``name`` running until it is stopped."""
        with self.lock:
            self.gated_processing.add(name)

    def create_processing_job(self, **params: Any) -> dict[str, Any]:
        validate_parameters(params, _SM_MODEL.operation_model("CreateProcessingJob").input_shape)
        name = params["ProcessingJobName"]
        with contextlib.suppress(ClientError):
            found = self.real.describe_processing_job(ProcessingJobName=name)
            raise client_error(
                "ResourceInUse",
                f"Job with name {name} already exists ({found['ProcessingJobArn']})",
                "CreateProcessingJob",
            )
        response: dict[str, Any] = self.real.create_processing_job(**params)
        with self.lock:
            self.processing[name] = {
                "request": params,
                "describes": 0,
                "status": statuses.IN_PROGRESS,
            }
        return response

    def describe_processing_job(self, **params: Any) -> dict[str, Any]:
        response: dict[str, Any] = self.real.describe_processing_job(**params)
        name = params["ProcessingJobName"]
        with self.lock:
            state = self.processing.get(name)
            if state is None:
                return _valid_answer("DescribeProcessingJob", response)
            state["describes"] += 1
            if state["status"] == statuses.STOPPING and state["describes"] > state["stopped_at"]:
                state["status"] = statuses.STOPPED
            elif (
                state["status"] == statuses.IN_PROGRESS
                and state["describes"] >= 2
                and name not in self.gated_processing
            ):
                state["status"], state["reason"] = self.processing_container.run(state["request"])
            request = state["request"]
            status, reason = state["status"], state.get("reason")
        # moto keeps neither the resources nor the environment; SageMaker answers both.
        response["ProcessingResources"] = request["ProcessingResources"]
        if request.get("Environment"):
            response["Environment"] = request["Environment"]
        response["ProcessingJobStatus"] = status
        if status not in statuses.TERMINAL_STATUSES:
            response.pop("ProcessingEndTime", None)
        if reason:
            response["FailureReason"] = reason
            response["ExitMessage"] = reason
        return _valid_answer("DescribeProcessingJob", response)

    def stop_processing_job(self, **params: Any) -> dict[str, Any]:
        validate_parameters(params, _SM_MODEL.operation_model("StopProcessingJob").input_shape)
        name = params["ProcessingJobName"]
        with self.lock:
            state = self.processing[name]
            if state["status"] != statuses.IN_PROGRESS:
                raise client_error(
                    "ValidationException",
                    f"The request was rejected because the job is in status {state['status']}.",
                    "StopProcessingJob",
                )
            state["status"], state["stopped_at"] = statuses.STOPPING, state["describes"]
        return {"ResponseMetadata": {"HTTPStatusCode": 200}}

    # -- transform --------------------------------------------------------------------------

    def describe_transform_job(self, **params: Any) -> dict[str, Any]:
        self._deleted("transform", params["TransformJobName"], "DescribeTransformJob")
        response: dict[str, Any] = self.real.describe_transform_job(**params)
        with self.lock:
            state = self.transforms.setdefault(params["TransformJobName"], {"describes": 0})
            state["describes"] += 1
            if "result" not in state and state["describes"] >= 2:
                state["result"] = self._run_transform(response)
        if "result" not in state:
            response["TransformJobStatus"] = statuses.IN_PROGRESS
            response.pop("TransformEndTime", None)
        else:
            response["TransformJobStatus"], reason = state["result"]
            if reason:
                response["FailureReason"] = reason
        return _valid_answer("DescribeTransformJob", response)

    def _run_transform(self, job: dict[str, Any]) -> tuple[str, str | None]:
        """Run the job's model over every input object; write ``<object>.out`` results."""
        s3 = self.aws.client("s3")
        container = self.container(job["ModelName"])
        source = job["TransformInput"]
        bucket, prefix = parse_s3_uri(source["DataSource"]["S3DataSource"]["S3Uri"])
        out_bucket, out_prefix = parse_s3_uri(job["TransformOutput"]["S3OutputPath"])
        accept = job["TransformOutput"].get("Accept") or ""
        content_type = source.get("ContentType") or "application/octet-stream"
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        for summary in listing:
            key = summary["Key"]
            text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
            if source.get("SplitType") == "Line":
                records = [line for line in text.splitlines() if line.strip()]
                if job.get("BatchStrategy", "MultiRecord") == "MultiRecord":
                    requests = ["".join(f"{record}\n" for record in records)]
                else:
                    requests = records
            else:
                requests = [text]
            try:
                answers = [
                    container.invoke(r.encode(), content_type, accept)[0].decode() for r in requests
                ]
            except inference.InferenceError as exc:
                return statuses.FAILED, f"ClientError: See job logs for more information ({exc})"
            relative = key[len(prefix) :].lstrip("/") if prefix else key
            out_key = f"{out_prefix.rstrip('/')}/{relative}.out".lstrip("/")
            body = "".join(a if a.endswith("\n") else f"{a}\n" for a in answers)
            s3.put_object(Bucket=out_bucket, Key=out_key, Body=body.encode())
        return statuses.COMPLETED, None


class SimulatedRuntime:
    """The ``sagemaker-runtime`` client: ``InvokeEndpoint`` answered by the simulator.

    The request is validated against the real service model first; ``meta`` (the
    endpoint URL the backend reports) is the real client's.
    """

    def __init__(self, real: Any, simulator: SageMakerSimulator) -> None:
        self.real = real
        self.simulator = simulator

    def __getattr__(self, name: str) -> Any:
        return getattr(self.real, name)

    def invoke_endpoint(self, **params: Any) -> dict[str, Any]:
        validate_parameters(params, _RUNTIME_MODEL.operation_model("InvokeEndpoint").input_shape)
        return self.simulator.invoke(params)


class SimulatedAws(AwsSession):
    """An :class:`AwsSession` on moto whose SageMaker clients are the simulated ones.

    ``requests`` lists every HTTP request any of its clients sent (``"sagemaker.X"``), so
    a scenario can check that a refused spec cost no AWS call at all.
    """

    def __init__(self, moto_url: str, folder: Path) -> None:
        boto = boto3.Session(
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            aws_session_token="testing",
            region_name=REGION,
        )
        self.requests: list[str] = []
        boto.events.register("before-send", self._record)
        super().__init__(REGION, role=ROLE, bucket=BUCKET, endpoint_url=moto_url, boto_session=boto)
        self.folder = folder
        self.simulator: SageMakerSimulator | None = None
        self.runtime: SimulatedRuntime | None = None

    def _record(self, event_name: str, **_: Any) -> None:
        self.requests.append(event_name.split(".", 1)[1])

    def client(self, service: str) -> Any:
        real = super().client(service)
        if service not in ("sagemaker", "sagemaker-runtime"):
            return real
        if self.simulator is None:
            self.simulator = SageMakerSimulator(super().client("sagemaker"), self, self.folder)
            self.runtime = SimulatedRuntime(super().client("sagemaker-runtime"), self.simulator)
        return self.simulator if service == "sagemaker" else self.runtime


class SageMakerHarness(Harness):
    """Jobs behave through the simulator; results are read from moto."""

    def __init__(self, backend: SageMakerBackend, folder: Path) -> None:
        super().__init__(backend)
        self.aws: SimulatedAws = backend.aws  # type: ignore[assignment]
        self.folder = folder

    @property
    def simulator(self) -> SageMakerSimulator:
        simulator = self.aws.client("sagemaker")
        assert isinstance(simulator, SageMakerSimulator)
        return simulator

    def prepare(self, spec: TrainingSpec, behaviour: Behaviour) -> None:
        """Train in the scikit-learn container; tell the simulator what the script does."""
        if spec.image is None and spec.framework is None:
            spec.image = IMAGE
        self.simulator.expect(spec.name, behaviour)

    def release(self, name: str) -> None:
        self.simulator.release(name)

    def invalid_training_specs(self) -> dict[str, TrainingSpec]:
        """What the backend refuses before any AWS call (``_check_training_spec`` and co)."""
        a_file = self.folder / "a-file"
        a_file.write_text("x")

        def spec(**overrides: Any) -> TrainingSpec:
            return self.training_spec(Behaviour(), name=unique_name("bad"), **overrides)

        return {
            "a channel whose local path does not exist": spec(
                inputs={"train": str(self.folder / "no-such-data")}
            ),
            "a channel URI that is neither local nor s3://": spec(
                inputs={"train": "ftp://example.com/data"}
            ),
            "both --image and --framework": spec(
                image=IMAGE, framework="sklearn", framework_version="1.2-1"
            ),
            "--max-wait without --spot": spec(max_wait=7200),
            "--max-wait shorter than --max-run": spec(spot=True, max_wait=60, max_run=120),
            "a local --checkpoint-uri": spec(checkpoint_uri=str(self.folder / "ckpt")),
            "a tag key in sm-magics' own namespace": spec(tags={"sm-magics:notebook": "x"}),
            "a --source-dir that is not a folder": spec(
                script=None, source_dir=a_file, entry_point="train.py"
            ),
            "a --requirements file that does not exist": spec(
                requirements=self.folder / "no-requirements.txt"
            ),
        }

    @contextlib.contextmanager
    def nothing_created(self, name: str, kind: str = "training") -> Iterator[None]:
        """Not a single AWS request was sent, and SageMaker has no such job."""
        before = len(self.aws.requests)
        yield
        assert self.aws.requests[before:] == [], "a refused spec made AWS calls"
        with pytest.raises(ClientError):
            if kind == "processing":
                self.simulator.real.describe_processing_job(ProcessingJobName=name)
            else:
                self.simulator.real.describe_training_job(TrainingJobName=name)

    def processing_input(self, files: dict[str, str]) -> str:
        """A local folder: the backend uploads it by content hash, as a user's would be."""
        source = self.folder / "processing-in"
        source.mkdir(exist_ok=True)
        for relative, text in files.items():
            (source / relative).write_text(text)
        return str(source)

    def prepare_processing(self, spec: processing.ProcessingSpec, *, gated: bool) -> None:
        """Run in the default container; a gated job waits in the simulator until stopped."""
        if gated:
            self.simulator.gate_processing(spec.name)

    def remove_out_of_band(self, kind: str, name: str) -> None:
        """Delete it through the AWS API, as the console or the TTL schedule would."""
        if kind == "endpoint":
            self.simulator.real.delete_endpoint(EndpointName=name)
        else:
            self.simulator.delete_job(kind, name)

    def model_files(self, uri: str) -> dict[str, bytes]:
        """The members of the ``model.tar.gz`` object in moto S3."""
        with tarfile.open(fileobj=io.BytesIO(_read_s3(self.aws, uri)), mode="r:gz") as tar:
            return {
                m.name: tar.extractfile(m).read()  # type: ignore[union-attr]
                for m in tar.getmembers()
                if m.isfile()
            }

    def assert_endpoint_gone(self, name: str) -> None:
        """No endpoint, endpoint config or model of that name left on SageMaker."""
        real = self.simulator.real
        with pytest.raises(ClientError):
            real.describe_endpoint(EndpointName=name)
        assert real.list_endpoint_configs(NameContains=name)["EndpointConfigs"] == []
        assert real.list_models(NameContains=name)["Models"] == []

    def transform_io(self, files: dict[str, str]) -> tuple[str, str]:
        """A local input folder (the backend uploads it); an S3 output prefix."""
        source = self.folder / "transform-in"
        source.mkdir()
        for relative, text in files.items():
            (source / relative).write_text(text)
        return str(source), f"s3://{BUCKET}/transform-out/{uuid.uuid4().hex[:8]}/"

    def transform_outputs(self, output_uri: str) -> dict[str, str]:
        """Every object under the output prefix in moto S3, by key relative to it."""
        bucket, prefix = parse_s3_uri(output_uri)
        s3 = self.aws.client("s3")
        listing = s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        return {
            o["Key"][len(prefix) :]: s3.get_object(Bucket=bucket, Key=o["Key"])["Body"]
            .read()
            .decode()
            for o in listing
        }


class SageMakerFixtures(BackendFixtures):
    """The sagemaker backend on moto and the simulator, and its :class:`SageMakerHarness`."""

    not_meaningful: ClassVar[dict[str, str]] = {
        "test_a_job_over_its_max_run_is_stopped_with_max_runtime_exceeded": (
            "SageMaker itself stops a job at MaxRuntimeInSeconds; the backend only sends the "
            "limit (checked against the service model in "
            "tests/sagemaker/test_training_stubber.py). Neither moto nor the simulator has a "
            "clock that enforces it, so the status would only echo the fake."
        ),
    }

    @pytest.fixture
    def backend(
        self, fake_aws_env: None, moto_url: str, sm_home: Path, tmp_path: Path
    ) -> Iterator[SageMakerBackend]:
        """A ``SageMakerBackend`` on moto (bucket made, role given) and the test's ledger.

        moto plays, over real HTTP and unchanged: S3 (the code archive, uploaded channels
        and transform inputs, models, transform results), CloudWatch Logs (groups, streams,
        events, tokens), ``CreateTrainingJob``, ``CreateModel``/``CreateEndpointConfig``/
        ``CreateEndpoint`` and their ``Delete*``, ``Describe{Model,EndpointConfig}``,
        ``UpdateEndpointWeightsAndCapacities``, ``CreateTransformJob``, ``List*``,
        ``ListTags``, Application Auto Scaling.

        Where moto stops, the simulator takes over (each answer it rewrites is checked
        against the real service model):

        * ``DescribeTrainingJob`` status: moto has every job ``Completed`` at birth. The
          simulator walks it one step per describe: ``InProgress/Starting`` →
          ``Downloading`` → ``Training`` → ``Uploading`` → ``Completed``, or ``Failed`` with
          ``FailureReason: AlgorithmError: <the script's failure message>``; a gated job
          stays ``Training`` until released. The script never runs; its effects are made
          instead: entering ``Training`` each host's lines go into moto's CloudWatch Logs
          (``/aws/sagemaker/TrainingJobs``, stream ``<job>/algo-N-<epoch>``, hosts
          interleaved in time), the ``after`` lines once released, and at ``Uploading`` a
          ``model.tar.gz`` holding ``model.txt`` is put at ``ModelArtifacts.S3ModelArtifacts``
          in moto S3.
        * ``StopTrainingJob``: moto answers HTTP 500. ``ScriptedSageMaker``'s own: ``Stopping``
          once, then ``Stopped``; ``ValidationException`` for a job that ended.
        * ``CreateTrainingJob`` of a taken name: moto silently replaces the job; the
          simulator answers ``ResourceInUse`` as SageMaker does.
        * ``DescribeEndpoint``: moto is ``InService`` at once and updates instantly; the
          simulator answers ``Creating`` to the first describe after ``CreateEndpoint`` and
          ``Updating`` to the first after an update, and drops the ``DataCaptureConfig``
          moto invents (short of its required members) when none was configured.
        * ``UpdateEndpoint`` (blue/green): moto answers HTTP 500. The simulator records it,
          answers ``Updating`` with ``PendingDeploymentSummary`` once, then applies it
          through moto's own ``CreateEndpoint`` (which replaces the endpoint), as SageMaker
          ends an update.
        * ``InvokeEndpoint``: moto answers from a static queue for any name, even one that
          does not exist. :class:`SimulatedRuntime` instead checks the endpoint and variant
          in moto (``ValidationError`` otherwise), picks the variant (``TargetVariant``,
          else by weight) and runs that variant's model in a :class:`Container`: the
          ``model.tar.gz`` and ``sourcedir.tar.gz`` its ``CreateModel`` named are fetched
          from moto S3 and the handlers called as the inference toolkit does
          (:mod:`sm_magics.backends.local.inference`); a handler that raises is
          ``ModelError``. An endpoint wired to the wrong model or code fails here.
        * ``DescribeTransformJob``: moto has the job ``Completed`` at birth and writes
          nothing. The first describe answers ``InProgress``; the next runs the job's model
          in a :class:`Container` over every input object in moto S3 (``SplitType`` and
          ``BatchStrategy`` as requested), writes ``<object>.out`` under the output prefix,
          and answers ``Completed`` (``Failed`` if a handler raised).
        * ``CreateProcessingJob``: moto stores the job but forgets ``Environment`` and
          ``ProcessingResources``, marks it ``Completed`` at birth, runs nothing and
          silently replaces a job of a taken name. The simulator keeps the request
          (validated against the service model), answers ``ResourceInUse`` for a taken
          name, and ``DescribeProcessingJob`` answers ``InProgress`` first; the next
          describe runs the request in ``tests/sagemaker/processing_container.py``'s
          :class:`ProcessingContainer` (inputs downloaded from moto S3 per host,
          ``ShardedByS3Key`` split, the ``ContainerEntrypoint`` and arguments run, lines put
          to ``/aws/sagemaker/ProcessingJobs``, outputs uploaded to moto S3) and answers
          ``Completed`` or ``Failed``, with the resources and environment of the request.
          A gated job stays ``InProgress`` until stopped.
        * ``StopProcessingJob``: moto marks even an ended job ``Stopped``. The simulator
          answers ``Stopping`` once, then ``Stopped``; ``ValidationException`` for a job
          that ended.
        """
        aws = SimulatedAws(moto_url, tmp_path / "containers")
        aws.client("s3").create_bucket(Bucket=BUCKET)
        ledger = Ledger()
        yield SageMakerBackend(aws=aws, ledger=ledger)
        ledger.close()

    @pytest.fixture
    def harness(self, backend: SageMakerBackend, tmp_path: Path) -> Harness:
        """The :class:`SageMakerHarness`: it fakes nothing itself.

        It tells the backend's simulator what each job's script does and when a gated job
        may go on, and reads results where SageMaker puts them, from moto (S3 objects,
        ``List*``/``Describe*``) and from the requests the session sent.
        """
        return SageMakerHarness(backend, tmp_path)


class TestSageMakerTraining(TrainingScenarios, SageMakerFixtures):
    pass


class TestSageMakerEndpoints(EndpointScenarios, SageMakerFixtures):
    pass


class TestSageMakerTransforms(TransformScenarios, SageMakerFixtures):
    pass


class TestSageMakerProcessing(ProcessingScenarios, SageMakerFixtures):
    pass


def test_every_skip_names_a_scenario() -> None:
    assert set(SageMakerFixtures.not_meaningful) <= scenario_names()


class TestSageMakerRegistry(RegistryScenarios, SageMakerFixtures):
    """moto stores groups, versions and approvals itself: nothing here is scripted."""


class TestSageMakerTuning(TuningScenarios, SageMakerFixtures):
    """moto stores the tuning job and echoes its request; it runs no trial (see the notebook
    test for the fake tuner that does)."""
