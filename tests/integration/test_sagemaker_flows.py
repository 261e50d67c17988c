"""Integration tests on real Amazon SageMaker: the conformance flows, billed for real.

What they do, in order, through the magics of a real IPython shell (as a notebook would):

1. ``%%sm_train -b sagemaker --framework sklearn --framework-version 1.2-1 --wait``: a tiny
   scikit-learn script trains on ml.m5.large in the SageMaker scikit-learn container, and
   its CloudWatch logs are followed to the end in the cell;
2. ``%sm_deploy JOB -e ENDPOINT`` (one ml.m5.large instance), then ``%sm_invoke`` and the
   plain ``boto3`` ``sagemaker-runtime`` client: same answer, variant ``AllTraffic``;
3. ``%sm_deploy JOB -e ENDPOINT --variant b=0.5``: a second variant, blue/green (a second
   ml.m5.large), then ``%sm_invoke ... --variant b``;
4. ``%sm_batch JOB --input <folder> --output s3://... --wait``: a batch transform on
   ml.m5.large, its ``.out`` objects checked;
5. ``%sm_delete ENDPOINT --yes``;
6. nothing is left: no endpoint, endpoint config or model of this run (all tagged
   ``sm-magics:*`` and named after the run), no job still running.

How to run
----------
They are skipped unless ``SM_MAGICS_INTEGRATION=1`` is set *and* boto3 finds AWS
credentials::

    pip install -e '.[test,sagemaker]'      # --framework finds the image through the SDK
    export AWS_PROFILE=my-profile            # or any credentials boto3 finds
    export AWS_REGION=us-east-1
    export SM_MAGICS_ROLE=arn:aws:iam::123456789012:role/MySageMakerExecutionRole
    export SM_MAGICS_INTEGRATION=1
    pytest tests/integration -s -p no:cacheprovider

``-s`` shows the cost estimate, the training logs and what was checked as it goes.
Without the ``sagemaker`` extra, ``SM_MAGICS_INTEGRATION_IMAGE=<sklearn 1.2-1 image URI>``
names the training (and serving) image instead of ``--framework``. ``SM_MAGICS_BUCKET``
picks the bucket (default ``sagemaker-<region>-<account>``, created if missing).

What they need
--------------
* the caller's identity: the IAM policy in ``docs/iam-policy.json`` (``sagemaker:ListModels``
  as well lets the final check list models; without it, the models this run made are
  checked one by one with ``DescribeModel``);
* an execution role SageMaker can assume (trusted by ``sagemaker.amazonaws.com``, with
  read/write access to the bucket and to CloudWatch Logs, e.g. the managed
  ``AmazonSageMakerFullAccess``), named by ``SM_MAGICS_ROLE``.

What they cost
--------------
About ml.m5.large training for a few minutes, an ml.m5.large endpoint for ~10 minutes
(two instances while the second variant is added) and a few minutes of ml.m5.large batch
transform: well under a dollar; :func:`estimate` prints the figure from
:mod:`sm_magics.pricing` for your region. The run's small S3 objects (code, data, model,
transform output) stay in the bucket under ``sm-magics/`` and ``sm-magics-integration/``.
Whatever happens, the module's teardown deletes the endpoint and stops the jobs it started.
"""

from __future__ import annotations

import contextlib
import json
import os
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from sm_magics import config, pricing

#: Assumed durations for the estimate, in seconds (SageMaker bills per second).
TRAINING_SECONDS = 5 * 60
HOSTING_INSTANCE_SECONDS = 20 * 60  # one instance ~12 min, a second one ~8 min
TRANSFORM_SECONDS = 6 * 60
INSTANCE = "ml.m5.large"
SKLEARN_VERSION = "1.2-1"


def estimate(region: str | None = None) -> tuple[float | None, str]:
    """Return the estimated USD cost of one run and a line that explains it."""
    region = region or config.default_region()
    training = pricing.cost_for(TRAINING_SECONDS, INSTANCE, 1, region, usage="training")
    hosting = pricing.cost_for(HOSTING_INSTANCE_SECONDS, INSTANCE, 1, region, usage="hosting")
    # Batch transform bills instance time at (about) the hosting rate.
    transform = pricing.cost_for(TRANSFORM_SECONDS, INSTANCE, 1, region, usage="hosting")
    parts = (training, hosting, transform)
    total = None if any(p is None for p in parts) else sum(p for p in parts if p is not None)
    line = (
        f"sm-magics integration run in {region}: ~{pricing.format_usd(total)} "
        f"({INSTANCE} training {TRAINING_SECONDS // 60} min {pricing.format_usd(training)}, "
        f"endpoint {HOSTING_INSTANCE_SECONDS // 60} instance-min {pricing.format_usd(hosting)}, "
        f"batch transform {TRANSFORM_SECONDS // 60} min {pricing.format_usd(transform)})"
    )
    return total, line


def _credentials_found() -> bool:
    """Whether boto3 finds credentials (asked only once the run was opted into)."""
    try:
        import boto3
    except ImportError:
        return False
    try:
        return boto3.Session().get_credentials() is not None
    except Exception:  # noqa: BLE001 - a broken profile counts as none
        return False


def _framework_available() -> bool:
    if os.environ.get("SM_MAGICS_INTEGRATION_IMAGE"):
        return True
    try:
        import sagemaker.core.image_uris  # noqa: F401
    except ImportError:
        return False
    return True


def _skip_reason() -> str | None:
    if os.environ.get("SM_MAGICS_INTEGRATION") != "1":
        return (
            "real AWS, billed (~" + pricing.format_usd(estimate()[0]) + "): set "
            "SM_MAGICS_INTEGRATION=1 with AWS credentials and SM_MAGICS_ROLE to run "
            "(see this module's docstring)"
        )
    if not _credentials_found():
        return "SM_MAGICS_INTEGRATION=1 but boto3 finds no AWS credentials"
    if not _framework_available():
        return (
            "--framework sklearn needs the SageMaker SDK: pip install 'sm-magics[sagemaker]', "
            "or set SM_MAGICS_INTEGRATION_IMAGE to the scikit-learn 1.2-1 image URI"
        )
    return None


SKIP_REASON = _skip_reason()
pytestmark = pytest.mark.skipif(SKIP_REASON is not None, reason=SKIP_REASON or "")

#: The training cell: a LogisticRegression on six rows; ``model_fn`` serves it.
TRAIN_CELL = """\
import os

import joblib


def model_fn(model_dir):
    return joblib.load(os.path.join(model_dir, "model.joblib"))


if __name__ == "__main__":
    from sklearn.linear_model import LogisticRegression

    X = [[0, 0], [0, 1], [1, 0], [1, 1], [2, 2], [3, 3]]
    y = [0, 0, 0, 1, 1, 1]
    model = LogisticRegression().fit(X, y)
    joblib.dump(model, os.path.join(os.environ["SM_MODEL_DIR"], "model.joblib"))
    print("trained on", len(X), "rows")
"""
#: Rows with an unambiguous class: [0, 0] is 0, [3, 3] is 1.
ROWS = [[0, 0], [3, 3]]
ANSWER = [0, 1]


# -- fixtures ---------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def module_home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """This run's ``SM_MAGICS_HOME``: one ledger for every step."""
    return tmp_path_factory.mktemp("sm_home_integration")


@pytest.fixture(autouse=True)
def sm_home(module_home: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Override conftest's fresh home per test: the steps of a run share one ledger."""
    monkeypatch.setenv("SM_MAGICS_HOME", str(module_home))
    yield module_home


@pytest.fixture(scope="module")
def run(module_home: Path) -> Iterator[SimpleNamespace]:
    """The run: an IPython shell on the sagemaker backend, names, and what was made.

    At the end, whatever happened: the endpoint is deleted if it still exists, the jobs
    are stopped if they still run, and the shell's settings are put back.
    """
    from IPython.core.interactiveshell import InteractiveShell

    _, line = estimate()
    print(f"\n{line}")
    if not os.environ.get("SM_MAGICS_ROLE"):
        print("SM_MAGICS_ROLE is not set: the execution role will be discovered, if it can be.")
    tag = uuid.uuid4().hex[:8]
    prefix = f"smm-it-{tag}"
    shell = InteractiveShell.instance()
    if "SageMakerMagics" not in shell.magics_manager.registry:
        shell.run_line_magic("load_ext", "sm_magics")
    magics = shell.magics_manager.registry["SageMakerMagics"]
    saved = {"backend": magics.backend, "session": magics._session}
    saved_notebook = shell.user_ns.get("__session__")
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("SM_MAGICS_HOME", str(module_home))
        magics.backend = "sagemaker"
        magics._session = None
        shell.user_ns["__session__"] = f"sm-magics-integration/{prefix}.ipynb"  # tag value
        state = SimpleNamespace(
            shell=shell,
            magics=magics,
            prefix=prefix,
            job=f"{prefix}-train",
            endpoint=f"{prefix}-ep",
            transform=f"{prefix}-batch",
            models=set(),
            configs=set(),
            done=set(),
        )
        try:
            yield state
        finally:
            _teardown(state)
            magics.backend = saved["backend"]
            magics._session = saved["session"]
            if saved_notebook is None:
                shell.user_ns.pop("__session__", None)
            else:
                shell.user_ns["__session__"] = saved_notebook


def _teardown(state: SimpleNamespace) -> None:
    from sm_magics.errors import SmMagicsError

    session = state.magics.session
    backend = session.backend("sagemaker")
    with contextlib.suppress(SmMagicsError):
        backend.delete_endpoint(state.endpoint)
        print(f"teardown: deleted endpoint {state.endpoint}")
    with contextlib.suppress(SmMagicsError):
        backend.stop_training_job(state.job)
    with contextlib.suppress(SmMagicsError):
        backend.stop_transform_job(state.transform)


def _require(state: SimpleNamespace, *steps: str) -> None:
    missing = [s for s in steps if s not in state.done]
    if missing:
        pytest.skip(f"an earlier step did not succeed: {', '.join(missing)}")


def _backend(state: SimpleNamespace) -> Any:
    return state.magics.session.backend("sagemaker")


def _remember_endpoint_parts(state: SimpleNamespace) -> dict[str, Any]:
    """Record the config and models the endpoint runs now (for the final check)."""
    sm = _backend(state).aws.client("sagemaker")
    endpoint = sm.describe_endpoint(EndpointName=state.endpoint)
    config_name = endpoint["EndpointConfigName"]
    state.configs.add(config_name)
    described = sm.describe_endpoint_config(EndpointConfigName=config_name)
    state.models.update(v["ModelName"] for v in described["ProductionVariants"])
    return endpoint  # type: ignore[no-any-return]


# -- the flow ---------------------------------------------------------------------------------


def test_1_train_in_the_sklearn_container_and_follow_the_logs(
    run: SimpleNamespace, capsys: pytest.CaptureFixture[str]
) -> None:
    image = os.environ.get("SM_MAGICS_INTEGRATION_IMAGE")
    where = (
        f"--image {image}"
        if image
        else f"--framework sklearn --framework-version {SKLEARN_VERSION} --py-version py3"
    )
    line = f"{run.job} -b sagemaker -i {INSTANCE} {where} --tag sm-magics-it={run.prefix} --wait"
    job = run.shell.run_cell_magic("sm_train", line, TRAIN_CELL)
    out = capsys.readouterr().out
    with capsys.disabled():
        print(out)
    assert "trained on 6 rows" in out  # the script's own line, from CloudWatch
    description = job.describe()
    assert (description["TrainingJobStatus"], description["SecondaryStatus"]) == (
        "Completed",
        "Completed",
    )
    uri = description["ModelArtifacts"]["S3ModelArtifacts"]
    from sm_magics.backends.sagemaker.uploads import parse_s3_uri

    bucket, key = parse_s3_uri(uri)
    _backend(run).aws.client("s3").head_object(Bucket=bucket, Key=key)  # the model exists
    record = run.magics.session.ledger.get_job(run.job)
    assert (record.backend, record.status, record.model_data) == ("sagemaker", "Completed", uri)
    run.done.add("train")


def test_2_deploy_and_invoke_with_the_magic_and_with_boto3(run: SimpleNamespace) -> None:
    _require(run, "train")
    endpoint = run.shell.run_line_magic(
        "sm_deploy", f"{run.job} -e {run.endpoint} -i {INSTANCE} --tag sm-magics-it={run.prefix}"
    )
    run.done.add("deploy-started")
    endpoint.wait("30m")
    described = _remember_endpoint_parts(run)
    assert described["EndpointStatus"] == "InService"
    assert run.shell.run_line_magic("sm_invoke", f"{run.endpoint} {json.dumps(ROWS)}") == ANSWER

    import boto3

    runtime = boto3.client("sagemaker-runtime", region_name=_backend(run).aws.region)
    response = runtime.invoke_endpoint(
        EndpointName=run.endpoint, Body=json.dumps(ROWS), ContentType="application/json"
    )
    assert json.loads(response["Body"].read()) == ANSWER
    assert response["InvokedProductionVariant"] == "AllTraffic"
    run.done.add("deploy")


def test_3_add_a_variant_and_invoke_it(run: SimpleNamespace) -> None:
    _require(run, "deploy")
    endpoint = run.shell.run_line_magic(
        "sm_deploy", f"{run.job} -e {run.endpoint} -i {INSTANCE} --variant b=0.5"
    )
    endpoint.wait("45m")  # blue/green: the new fleet starts before traffic moves
    described = _remember_endpoint_parts(run)
    weights = {v["VariantName"]: v["CurrentWeight"] for v in described["ProductionVariants"]}
    assert weights == {"AllTraffic": 1.0, "b": 0.5}
    answer = run.shell.run_line_magic("sm_invoke", f"{run.endpoint} {json.dumps(ROWS)} --variant b")
    assert answer == ANSWER
    result = endpoint.invoke(ROWS, variant="b", raw=True)
    assert result.variant == "b"
    run.done.add("variant")


def test_4_batch_transform(run: SimpleNamespace, tmp_path: Path) -> None:
    _require(run, "train")
    source = tmp_path / "batch-in"
    source.mkdir()
    (source / "rows.csv").write_text("".join(f"{a},{b}\n" for a, b in ROWS))
    bucket = _backend(run).aws.bucket
    output = f"s3://{bucket}/sm-magics-integration/{run.prefix}/out/"
    job = run.shell.run_line_magic(
        "sm_batch",
        f"{run.job} --input {source} --output {output} --name {run.transform} "
        f"-i {INSTANCE} --content-type text/csv --accept text/csv --wait",
    )
    description = job.describe()
    assert description["TransformJobStatus"] == "Completed", description.get("FailureReason")
    run.models.add(description["ModelName"])
    s3 = _backend(run).aws.client("s3")
    key = f"sm-magics-integration/{run.prefix}/out/rows.csv.out"
    text = s3.get_object(Bucket=bucket, Key=key)["Body"].read().decode()
    assert [float(v) for v in text.replace(",", " ").split()] == [float(a) for a in ANSWER]
    run.done.add("batch")


def test_5_delete_the_endpoint(run: SimpleNamespace) -> None:
    _require(run, "deploy-started")
    from sm_magics.errors import NotFound

    run.shell.run_line_magic("sm_delete", f"{run.endpoint} --yes")
    with pytest.raises(NotFound):
        _backend(run).describe_endpoint(run.endpoint)
    assert run.magics.session.ledger.get_endpoint(run.endpoint).status == "Deleted"
    run.done.add("delete")


def test_6_nothing_of_the_run_is_left(run: SimpleNamespace) -> None:
    _require(run, "train")
    from botocore.exceptions import ClientError

    sm = _backend(run).aws.client("sagemaker")
    endpoints = sm.list_endpoints(NameContains=run.prefix)["Endpoints"]
    assert [e["EndpointName"] for e in endpoints] == []
    configs = []
    for page in sm.get_paginator("list_endpoint_configs").paginate(NameContains=run.prefix):
        configs += [c["EndpointConfigName"] for c in page["EndpointConfigs"]]
    assert configs == [], "endpoint configs left"
    for config_name in sorted(run.configs):
        with pytest.raises(ClientError):
            sm.describe_endpoint_config(EndpointConfigName=config_name)
    for model in sorted(run.models):
        with pytest.raises(ClientError):
            sm.describe_model(ModelName=model)
    try:
        models = []
        for page in sm.get_paginator("list_models").paginate(NameContains=run.prefix):
            models += [m["ModelName"] for m in page["Models"]]
    except ClientError as exc:
        print(f"ListModels not allowed ({exc}); checked {len(run.models)} models by name")
    else:
        assert models == [], "models left"
    job = sm.describe_training_job(TrainingJobName=run.job)
    assert job["TrainingJobStatus"] in ("Completed", "Failed", "Stopped")
    with contextlib.suppress(ClientError):
        transform = sm.describe_transform_job(TransformJobName=run.transform)
        assert transform["TransformJobStatus"] in ("Completed", "Failed", "Stopped")
    live = run.magics.session.ledger.list_endpoints(backend="sagemaker")
    assert [r.name for r in live] == []
