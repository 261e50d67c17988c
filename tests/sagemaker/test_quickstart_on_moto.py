"""The quickstart and processing notebooks, unchanged, on the sagemaker backend against moto.

The notebook (``notebooks/quickstart.ipynb``) is executed by nbclient in a real kernel
with one cell inserted after ``%load_ext sm_magics``:
``%config SageMakerMagics.backend = "sagemaker"``. Nothing else in it changes. The kernel's
environment is what a user's would be on AWS: ``AWS_ENDPOINT_URL`` (moto's
``ThreadedMotoServer`` on 127.0.0.1, running in this test process), credentials of an
assumed role (so the execution role is *discovered* as on a SageMaker notebook
instance: ``sts:GetCallerIdentity`` then ``iam:GetRole``), a region, and a scratch
``SM_MAGICS_HOME``. No role, bucket or image is configured: the backend discovers the
role, creates its default bucket and picks its default container.

Where moto stops and the fake takes over
----------------------------------------
moto stores the training job (``CreateTrainingJob``) and answers ``DescribeTrainingJob``
/ ``ListTrainingJobs`` from it, stores every S3 object and CloudWatch Logs event, and
serves them back. It runs no container: it marks a job ``Completed`` the moment it is
created, writes no model and no log line. :class:`FakeContainer` plays SageMaker's part
from that moment on. moto's ``SageMakerModelBackend.create_training_job`` is wrapped (the
server runs in this process) so that a new job is ``InProgress``/``Starting`` and a
thread does what the scikit-learn container would: download ``sourcedir.tar.gz`` and
the input channels from moto's S3, lay out ``/opt/ml`` and the ``SM_*`` environment with
the local backend's own machinery (:mod:`sm_magics.backends.local.environment`, the
training toolkit's formats), run ``sagemaker_program`` with the hyperparameters as
``--key value`` arguments, put every output line to the CloudWatch Logs stream
``<job>/algo-1-<epoch>`` of ``/aws/sagemaker/TrainingJobs``, upload ``model/`` as
``<S3OutputPath>/<job>/output/model.tar.gz``, and only then set the job ``Completed``
(``Failed`` with the last lines if the script failed). The quickstart deploys nothing,
so no runtime is faked.

What is asserted
----------------
Every cell ran without error; the job's model came back from S3 and scored; and every
request moto recorded from the kernel (moto's own recorder, which sees the raw HTTP
requests) names an operation of the real service and, for the JSON protocols
(SageMaker, CloudWatch Logs), carries parameters that validate against botocore's
service model with what SageMaker needs to run the job: the role, the image, the
script-mode hyperparameters JSON-encoded, output path, resources and stopping condition.
The fake's own requests are told apart by their user agent and not checked.
"""

from __future__ import annotations

import base64
import contextlib
import io
import json
import subprocess
import sys
import tarfile
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlparse

import boto3
import botocore.session
import nbformat
import pytest
from botocore.config import Config
from botocore.validate import validate_parameters
from processing_container import ProcessingContainer

from sm_magics.backends.local import environment
from sm_magics.backends.local.jobdir import JobDir
from sm_magics.backends.sagemaker import images

pytestmark = pytest.mark.slow

ROOT = Path(__file__).resolve().parents[2]
NOTEBOOK = ROOT / "notebooks" / "quickstart.ipynb"
REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's
ROLE_NAME = "AmazonSageMaker-ExecutionRole-quickstart"
FAKE_AGENT = "sm-magics-fake-container"
LOG_GROUP = "/aws/sagemaker/TrainingJobs"

_MODELS = botocore.session.get_session()


# -- the fake container ---------------------------------------------------------------------


class FakeContainer:
    """Runs each new training job's script as SageMaker's scikit-learn container would."""

    def __init__(self, moto_url: str, workdir: Path) -> None:
        config = Config(user_agent_extra=FAKE_AGENT, region_name=REGION)
        self.s3 = boto3.client("s3", endpoint_url=moto_url, config=config)
        self.logs = boto3.client("logs", endpoint_url=moto_url, config=config)
        self.workdir = workdir
        self.threads: list[threading.Thread] = []
        self.errors: list[BaseException] = []

    def start(self, job: Any) -> None:
        """Take over a job moto just created: mark it running, then run it."""
        job.training_job_status = "InProgress"
        job.secondary_status = "Starting"
        job.training_end_time = None
        thread = threading.Thread(target=self._run, args=(job,), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _run(self, job: Any) -> None:
        try:
            failure = self._train(job)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)
            failure = f"fake container: {exc!r}"
        job.training_job_status = "Failed" if failure else "Completed"
        job.secondary_status = "Failed" if failure else "Completed"
        if failure:
            job.failure_reason = failure
        from moto.core.utils import utcnow

        job.training_end_time = job.last_modified_time = utcnow()

    def _train(self, job: Any) -> str | None:
        name = job.training_job_name
        hps = {k: json.loads(v) for k, v in job.hyper_parameters.items()}
        program = hps.pop("sagemaker_program")
        submit = hps.pop("sagemaker_submit_directory")
        for key in [k for k in hps if k.startswith("sagemaker_")]:
            del hps[key]
        folder = JobDir(self.workdir / name)
        job.secondary_status = "Downloading"
        folder.code.mkdir(parents=True)
        with tarfile.open(fileobj=io.BytesIO(self._get(submit)), mode="r:gz") as tar:
            tar.extractall(folder.code, filter="data")
        channels: dict[str, str] = {}
        for channel in job.input_data_config or []:
            uri = channel["DataSource"]["S3DataSource"]["S3Uri"]
            target = folder.input_data / channel["ChannelName"]
            self._download_prefix(uri, target)
            channels[channel["ChannelName"]] = uri
        spec = {
            "name": name,
            "entry_point": program,
            "hyperparameters": hps,
            "inputs": channels,
            "instance_type": job.resource_config["InstanceType"],
            "region": REGION,
            "environment": {},
        }
        environment.write_host_config(folder, "algo-1", ["algo-1"], spec)
        env = environment.training_env(folder, "algo-1", ["algo-1"], spec)
        for variable in [v for v in env if v.startswith("AWS_")]:
            del env[variable]  # the container's own credentials, not the kernel's
        job.secondary_status = "Training"
        stream = f"{name}/algo-1-{int(time.time())}"
        self._create_stream(stream)
        process = subprocess.run(
            [sys.executable, program, *environment.cli_args(hps)],
            cwd=folder.code,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            timeout=240,
            check=False,
        )
        lines = process.stdout.splitlines() or ["(no output)"]
        stamp = int(time.time() * 1000)
        self.logs.put_log_events(
            logGroupName=LOG_GROUP,
            logStreamName=stream,
            logEvents=[{"timestamp": stamp, "message": line} for line in lines],
        )
        if process.returncode != 0:
            return f"AlgorithmError: {' '.join(lines[-3:])}"
        job.secondary_status = "Uploading"
        buffer = io.BytesIO()
        with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
            for path in sorted((folder.root / "model").iterdir()):
                tar.add(path, arcname=path.name)
        bucket, key = _split(job.model_artifacts["S3ModelArtifacts"])
        self.s3.put_object(Bucket=bucket, Key=key, Body=buffer.getvalue())
        return None

    def _get(self, uri: str) -> bytes:
        bucket, key = _split(uri)
        body: bytes = self.s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        return body

    def _download_prefix(self, uri: str, target: Path) -> None:
        bucket, prefix = _split(uri)
        listed = self.s3.list_objects_v2(Bucket=bucket, Prefix=prefix).get("Contents", [])
        assert listed, f"channel {uri} is empty"
        for item in listed:
            relative = item["Key"][len(prefix) :].lstrip("/") or Path(item["Key"]).name
            path = target / relative
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_bytes(self._get(f"s3://{bucket}/{item['Key']}"))

    def _create_stream(self, stream: str) -> None:
        with contextlib.suppress(self.logs.exceptions.ResourceAlreadyExistsException):
            self.logs.create_log_group(logGroupName=LOG_GROUP)
        self.logs.create_log_stream(logGroupName=LOG_GROUP, logStreamName=stream)

    def start_processing(self, job: Any, request: dict[str, Any]) -> None:
        """Take over a processing job moto just created; run it as its instances would."""
        job.processing_job_status = "InProgress"
        job.processing_end_time = None
        thread = threading.Thread(target=self._process, args=(job, request), daemon=True)
        self.threads.append(thread)
        thread.start()

    def _process(self, job: Any, request: dict[str, Any]) -> None:
        from moto.core.utils import utcnow

        job.processing_start_time = utcnow()
        try:
            runner = ProcessingContainer(self.s3, self.logs, self.workdir / "processing")
            status, reason = runner.run(request)
        except BaseException as exc:  # noqa: BLE001 - reported by the test
            self.errors.append(exc)
            status, reason = "Failed", f"fake container: {exc!r}"
        if reason:
            job.failure_reason = reason
        job.processing_job_status = status
        job.processing_end_time = job.last_modified_time = utcnow()

    def join(self) -> None:
        for thread in self.threads:
            thread.join(timeout=300)


def _split(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    return parsed.netloc, parsed.path.lstrip("/")


# -- moto as the service ----------------------------------------------------------------------


@pytest.fixture
def container(moto_url: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> FakeContainer:
    """moto, with every new training job handed to a :class:`FakeContainer`."""
    from moto.sagemaker.models import SageMakerModelBackend

    fake = FakeContainer(moto_url, tmp_path / "containers")
    original = SageMakerModelBackend.create_training_job

    def create_training_job(self: Any, *args: Any, **kwargs: Any) -> Any:
        job = original(self, *args, **kwargs)  # moto: stored, and "Completed" at once
        fake.start(job)  # the fake: InProgress until the script has run
        return job

    monkeypatch.setattr(SageMakerModelBackend, "create_training_job", create_training_job)

    # moto's CreateProcessingJob drops the resources and the environment; the request the
    # kernel sent (its JSON body) is what SageMaker would run, so it is kept here.
    from moto.sagemaker.responses import SageMakerResponse

    requests: dict[str, dict[str, Any]] = {}
    respond = SageMakerResponse.create_processing_job

    def create_processing_response(self: Any) -> Any:
        request = json.loads(self.body)
        requests[request["ProcessingJobName"]] = request
        return respond(self)

    created = SageMakerModelBackend.create_processing_job

    def create_processing_job(self: Any, *args: Any, **kwargs: Any) -> Any:
        job = created(self, *args, **kwargs)  # moto: stored, and "Completed" at once
        request = requests.pop(job.processing_job_name)
        job.processing_resources = request["ProcessingResources"]  # described, as SageMaker does
        if request.get("Environment"):
            job.environment = request["Environment"]
        fake.start_processing(job, request)
        return job

    monkeypatch.setattr(SageMakerResponse, "create_processing_job", create_processing_response)
    monkeypatch.setattr(SageMakerModelBackend, "create_processing_job", create_processing_job)
    return fake


@pytest.fixture
def recording(tmp_path: Path) -> Any:
    """moto's recorder, writing the raw requests it serves to a file of ours."""
    from moto.moto_api import recorder

    old = recorder._location
    recorder._location = str(tmp_path / "moto-recording.jsonl")
    recorder.reset_recording()
    recorder.start_recording()
    yield Path(recorder._location)
    recorder.stop_recording()
    recorder._location = old


def _assumed_role_credentials(moto_url: str) -> dict[str, str]:
    """Create the execution role in moto and assume it, as a notebook instance runs."""
    kwargs: dict[str, Any] = {"endpoint_url": moto_url, "region_name": REGION}
    iam = boto3.client("iam", **kwargs)
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"Service": "sagemaker.amazonaws.com"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    role = iam.create_role(
        RoleName=ROLE_NAME, Path="/service-role/", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]
    credentials = boto3.client("sts", **kwargs).assume_role(
        RoleArn=role["Arn"], RoleSessionName="SageMaker"
    )["Credentials"]
    return {
        "AWS_ACCESS_KEY_ID": credentials["AccessKeyId"],
        "AWS_SECRET_ACCESS_KEY": credentials["SecretAccessKey"],
        "AWS_SESSION_TOKEN": credentials["SessionToken"],
        "role_arn": role["Arn"],
    }


# -- the test ---------------------------------------------------------------------------------


def test_quickstart_runs_unchanged_on_the_sagemaker_backend(
    moto_url: str,
    container: FakeContainer,
    recording: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    notebook, original, load, workdir, role_arn = _run_on_moto(
        NOTEBOOK, moto_url, container, tmp_path, monkeypatch
    )

    # 1. Every cell ran, and nothing but the inserted cell differs from the notebook.
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for cell in code:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{cell.source[:60]!r} failed: {errors}"
    assert [c.source for c in notebook.cells if c.source != notebook.cells[load + 1].source] == [
        c.source for c in original.cells
    ]
    text = "\n".join(
        o.get("text", "") or json.dumps(o.get("data", {}))
        for cell in code
        for o in cell.get("outputs", [])
    )
    assert "test_accuracy=" in text  # the job's own log line, read back from CloudWatch
    assert "test accuracy of the trained model:" in text  # the model, fetched from S3
    default_image = images.default_sklearn_image(REGION)
    assert f"default container {default_image}" in text  # the notice says what was picked
    assert (workdir / "model" / "model.joblib").is_file()

    # 2. What the kernel asked of AWS: real operations, valid parameters, what SG needs.
    requests = _kernel_requests(recording)
    operations = [op for op, _ in requests]
    for needed in ("GetCallerIdentity", "GetRole", "CreateTrainingJob", "DescribeTrainingJob"):
        assert needed in operations, operations
    assert "PutObject" in operations  # code and data uploads
    assert any(op.startswith(("GetLogEvents", "FilterLogEvents")) for op in operations)
    create = next(params for op, params in requests if op == "CreateTrainingJob")
    assert create["RoleArn"] == role_arn
    assert create["AlgorithmSpecification"]["TrainingImage"] == default_image
    assert create["AlgorithmSpecification"]["TrainingInputMode"] == "File"
    hps = create["HyperParameters"]
    assert json.loads(hps["sagemaker_program"]) == "train.py"
    submit = json.loads(hps["sagemaker_submit_directory"])
    assert submit.startswith(f"s3://sagemaker-{REGION}-{ACCOUNT}/") and submit.endswith(
        "sourcedir.tar.gz"
    )
    assert (json.loads(hps["n_estimators"]), json.loads(hps["max_depth"])) == (50, 4)
    assert create["OutputDataConfig"]["S3OutputPath"].startswith(
        f"s3://sagemaker-{REGION}-{ACCOUNT}/"
    )
    assert create["ResourceConfig"]["InstanceCount"] == 1
    assert create["ResourceConfig"]["InstanceType"].startswith("ml.")
    assert create["StoppingCondition"]["MaxRuntimeInSeconds"] > 0
    assert {c["ChannelName"] for c in create["InputDataConfig"]} == {"train", "test"}
    assert {"Name": "test_accuracy", "Regex": "test_accuracy=([0-9.]+)"} in create[
        "AlgorithmSpecification"
    ]["MetricDefinitions"]


PROCESSING_NOTEBOOK = ROOT / "notebooks" / "processing.ipynb"


def test_processing_notebook_runs_unchanged_on_the_sagemaker_backend(
    moto_url: str,
    container: FakeContainer,
    recording: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``notebooks/processing.ipynb``: prepare, train on its output, evaluate; on moto.

    moto stores the two processing jobs and the training job; the fake container runs
    them (processing: :class:`~processing_container.ProcessingContainer`, from the exact
    ``CreateProcessingJob`` body the kernel sent). Each step reads what the previous one
    stored in moto's S3: the training channel is the prepare job's ``train`` output URI,
    the evaluation's inputs the model and the ``test`` output.
    """
    notebook, original, load, _, role_arn = _run_on_moto(
        PROCESSING_NOTEBOOK, moto_url, container, tmp_path, monkeypatch
    )
    code = [c for c in notebook.cells if c.cell_type == "code"]
    for cell in code:
        errors = [o for o in cell.get("outputs", []) if o.get("output_type") == "error"]
        assert not errors, f"{cell.source[:60]!r} failed: {errors}"
    assert [c.source for c in notebook.cells if c.source != notebook.cells[load + 1].source] == [
        c.source for c in original.cells
    ]
    text = "\n".join(
        o.get("text", "") or json.dumps(o.get("data", {}))
        for cell in code
        for o in cell.get("outputs", [])
    )
    assert '"accuracy"' in text and '"rows"' in text  # evaluation.json, read back from S3
    assert "train: 426 rows, test: 143 rows" in text  # the prepare job's line, from CloudWatch

    requests = _kernel_requests(recording)
    creates = [params for op, params in requests if op == "CreateProcessingJob"]
    assert len(creates) == 2
    prepare, evaluate = creates
    default_image = images.default_sklearn_image(REGION)
    bucket = f"s3://sagemaker-{REGION}-{ACCOUNT}/"
    for create in creates:
        assert create["RoleArn"] == role_arn
        assert create["AppSpecification"]["ImageUri"] == default_image
        assert create["AppSpecification"]["ContainerEntrypoint"][:2] == ["/bin/sh", "-c"]
        code_input = create["ProcessingInputs"][0]
        assert code_input["InputName"] == "code"
        assert code_input["S3Input"]["S3Uri"].startswith(bucket)
    outputs = {
        o["OutputName"]: o["S3Output"]["S3Uri"]
        for o in prepare["ProcessingOutputConfig"]["Outputs"]
    }
    assert set(outputs) == {"train", "test"} and all(u.startswith(bucket) for u in outputs.values())
    training = next(params for op, params in requests if op == "CreateTrainingJob")
    channel = training["InputDataConfig"][0]["DataSource"]["S3DataSource"]["S3Uri"]
    assert channel == outputs["train"]
    evaluated = {i["InputName"]: i["S3Input"]["S3Uri"] for i in evaluate["ProcessingInputs"]}
    assert evaluated["test"] == outputs["test"]
    assert evaluated["model"].endswith("model.tar.gz")


def _run_on_moto(
    path: Path,
    moto_url: str,
    container: FakeContainer,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[Any, Any, int, Path, str]:
    """Execute the notebook at ``path`` with only the backend line added, against moto.

    Returns the executed notebook, the original, the index of ``%load_ext``, the working
    folder and the execution role's ARN.
    """
    from nbclient import NotebookClient

    credentials = _assumed_role_credentials(moto_url)
    role_arn = credentials.pop("role_arn")
    for name, value in {
        **credentials,
        "AWS_ENDPOINT_URL": moto_url,
        "AWS_DEFAULT_REGION": REGION,
        "SM_MAGICS_HOME": str(tmp_path / "home"),
    }.items():
        monkeypatch.setenv(name, value)  # the kernel inherits this process's environment
    for name in ("SM_MAGICS_BACKEND", "SM_MAGICS_ROLE", "SM_MAGICS_BUCKET"):
        monkeypatch.delenv(name, raising=False)

    original = nbformat.read(path, as_version=4)
    notebook = nbformat.read(path, as_version=4)
    load = next(
        i for i, c in enumerate(notebook.cells) if c.source.strip() == "%load_ext sm_magics"
    )
    notebook.cells.insert(
        load + 1, nbformat.v4.new_code_cell('%config SageMakerMagics.backend = "sagemaker"')
    )
    workdir = tmp_path / "notebook"
    workdir.mkdir()
    NotebookClient(
        notebook,
        timeout=240,
        kernel_name="python3",
        resources={"metadata": {"path": str(workdir)}},
    ).execute()
    container.join()
    assert not container.errors

    return notebook, original, load, workdir, role_arn


#: The JSON protocol's target prefixes of the services a notebook reaches (deploys reach
#: Application Auto Scaling to see whether a variant scales).
_TARGET_SERVICES = (
    ("SageMaker", "sagemaker"),
    ("AnyScaleFrontendService", "application-autoscaling"),
    ("Logs", "logs"),
)


def _kernel_requests(recording: Path) -> list[tuple[str, dict[str, Any]]]:
    """Return (operation, parameters) of every request the kernel sent, each validated.

    JSON-protocol requests (SageMaker, CloudWatch Logs) carry their parameters as the
    body, which is validated against the operation's input shape in botocore's service
    model. Query-protocol ones (STS, IAM) name their ``Action``; S3 ones are named from
    the method and path.
    """
    found: list[tuple[str, dict[str, Any]]] = []
    for line in recording.read_text().splitlines():
        entry = json.loads(line)
        headers = {k.lower(): v for k, v in entry["headers"].items()}
        if FAKE_AGENT in headers.get("user-agent", ""):
            continue
        body = entry.get("body") or ""
        raw = base64.b64decode(body) if entry.get("body_encoded") else body.encode()
        target = headers.get("x-amz-target")
        if target:
            prefix, operation = target.split(".", 1)
            service = next(
                (name for start, name in _TARGET_SERVICES if prefix.startswith(start)), "logs"
            )
            model = _MODELS.get_service_model(service)
            params = json.loads(raw or b"{}")
            validate_parameters(params, model.operation_model(operation).input_shape)
            found.append((operation, params))
        elif raw.startswith(b"Action="):
            fields = dict(part.split("=", 1) for part in raw.decode().split("&"))
            found.append((unquote(fields["Action"]), {}))
        else:
            method = entry["method"]
            path = urlparse(entry["url"]).path
            key = path.lstrip("/").partition("/")[2]
            operation = {
                ("PUT", True): "PutObject",
                ("PUT", False): "CreateBucket",
                ("GET", True): "GetObject",
                ("HEAD", True): "HeadObject",
                ("HEAD", False): "HeadBucket",
            }.get((method, bool(key)), f"{method} {path}")
            if operation == "PutObject":
                bucket = path.lstrip("/").partition("/")[0]
                validate_parameters(
                    {"Bucket": bucket, "Key": unquote(key), "Body": raw},
                    _MODELS.get_service_model("s3").operation_model("PutObject").input_shape,
                )
            found.append((operation, {}))
    return found
