"""Training on the sagemaker backend against moto: real HTTP, real S3 objects, real logs.

moto (a ``ThreadedMotoServer`` on 127.0.0.1, one per session, reset before each test)
plays S3, STS, SageMaker and CloudWatch Logs well enough to check what lands where:
the deterministic ``sourcedir.tar.gz`` and the data under their content hashes, uploaded
once; the job as SageMaker stores it; log lines read back through the same API calls AWS
answers.

Where moto stops, and what these tests do about it (``research/sagemaker-sdk-and-moto.md``):

* a training job is born ``Completed`` and never moves, so a job cannot be followed
  while it runs; the lifecycle tests wrap moto's ``sagemaker`` client in
  :class:`sm_fakes.ScriptedSageMaker`, which forwards everything but rewrites the status
  of ``DescribeTrainingJob`` to what the test scripts (``InProgress``/``Training`` →
  ``Completed``);
* ``StopTrainingJob`` is not implemented (HTTP 500); the scripted client implements it
  (``Stopping``, then ``Stopped``; ``ValidationException`` for a job that ended);
* a job writes no logs; the tests write them with ``PutLogEvents`` into moto's CloudWatch
  Logs, in the group and stream names SageMaker uses, while the backend follows them.
"""

from __future__ import annotations

import io
import tarfile
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sm_fakes import ACCOUNT, REGION, ROLE, ScriptedSageMaker

from sm_magics import packaging
from sm_magics.api import Job, Session
from sm_magics.backends.results import LogEvent
from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.backends.sagemaker.cwlogs import TRAINING_LOG_GROUP
from sm_magics.errors import SmMagicsNotice
from sm_magics.ledger import Ledger
from sm_magics.logs import stream_until_done

IMAGE = "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.5-cpu-py311"
SCRIPT = "from helper import greet\nprint(greet())\n"
BUCKET = f"sagemaker-{REGION}-{ACCOUNT}"  # the default bucket, created in moto


class ScriptedAws(AwsSession):
    """An AwsSession on moto whose ``sagemaker`` client plays the job statuses moto lacks."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.scripted: ScriptedSageMaker | None = None

    def client(self, service: str) -> Any:
        real = super().client(service)
        if service != "sagemaker":
            return real
        if self.scripted is None:
            self.scripted = ScriptedSageMaker(real)
        return self.scripted


@pytest.fixture
def moto_aws(moto_url: str) -> ScriptedAws:
    return ScriptedAws(REGION, role=ROLE, endpoint_url=moto_url)


@pytest.fixture
def session(moto_aws: ScriptedAws, ledger: Ledger) -> Session:
    return Session("sagemaker", region=REGION, ledger=ledger, notebook="nb.ipynb", aws=moto_aws)


@pytest.fixture
def source_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "src"
    folder.mkdir()
    (folder / "helper.py").write_text("def greet():\n    return 'hello'\n")
    (folder / "__pycache__").mkdir()
    (folder / "__pycache__" / "helper.cpython-311.pyc").write_bytes(b"\0junk")
    return folder


@pytest.fixture
def data_dir(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    (folder / "val").mkdir(parents=True)
    (folder / "train.csv").write_text("x,y\n1,2\n3,4\n")
    (folder / "val" / "val.csv").write_text("x,y\n5,6\n")
    return folder


def count_puts(aws: AwsSession) -> list[str]:
    """Record the key of every PutObject the session's S3 client sends from now on."""
    keys: list[str] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        keys.append(params["Key"])

    aws.client("s3").meta.events.register("before-parameter-build.s3.PutObject", record)
    return keys


def objects(aws: AwsSession, prefix: str = "sm-magics/") -> dict[str, Any]:
    s3 = aws.client("s3")
    listing = s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix)
    return {o["Key"]: o["LastModified"] for o in listing.get("Contents", [])}


def test_create_uploads_by_hash_and_describes(
    session: Session,
    moto_aws: ScriptedAws,
    ledger: Ledger,
    source_dir: Path,
    data_dir: Path,
    tmp_path: Path,
) -> None:
    requirements = tmp_path / "reqs.txt"
    requirements.write_text("scikit-learn==1.5.2\n")
    puts = count_puts(moto_aws)
    with pytest.warns(SmMagicsNotice, match="created the default bucket"):
        job = session.train(
            SCRIPT,
            name="moto-job-1",
            source_dir=source_dir,
            requirements=requirements,
            image=IMAGE,
            inputs={"train": str(data_dir), "extra": "s3://some-other-bucket/extra/"},
            hyperparameters={"epochs": 3, "optimizer": "adam"},
            instance_count=2,
        )

    # S3: the code archive, the data files and the manifest, each under its hash.
    with_files = tmp_path / "expected"
    digest = packaging.stage_source(
        with_files,
        entry_point="train.py",
        script=SCRIPT,
        source_dir=source_dir,
        requirements=requirements,
    )
    data_digest = packaging.hash_tree(data_dir)
    stored = objects(moto_aws)
    assert sorted(stored) == sorted(
        [
            f"sm-magics/source/{digest}/sourcedir.tar.gz",
            f"sm-magics/data/{data_digest}/train.csv",
            f"sm-magics/data/{data_digest}/val/val.csv",
            f"sm-magics/data/{data_digest}.manifest.json",
        ]
    )
    assert sorted(puts) == sorted(stored)
    archive = (
        moto_aws.client("s3")
        .get_object(Bucket=BUCKET, Key=f"sm-magics/source/{digest}/sourcedir.tar.gz")["Body"]
        .read()
    )
    with tarfile.open(fileobj=io.BytesIO(archive), mode="r:gz") as tar:
        members = tar.getmembers()
        assert [m.name for m in members] == ["helper.py", "requirements.txt", "train.py"]
        assert tar.extractfile("train.py").read().decode() == SCRIPT  # type: ignore[union-attr]
        assert tar.extractfile("requirements.txt").read() == b"scikit-learn==1.5.2\n"  # type: ignore[union-attr]
        assert {m.mtime for m in members} == {1_600_000_000}
    assert archive == packaging.tar_gz_bytes(with_files)  # deterministic bytes
    data = (
        moto_aws.client("s3")
        .get_object(Bucket=BUCKET, Key=f"sm-magics/data/{data_digest}/val/val.csv")["Body"]
        .read()
    )
    assert data == b"x,y\n5,6\n"

    # SageMaker: moto stores the request; describe returns it (and syncs the ledger).
    moto_aws.scripted.set("moto-job-1", "Completed", "Completed")  # type: ignore[union-attr]
    description = job.describe()
    hps = description["HyperParameters"]
    assert hps["epochs"] == "3" and hps["optimizer"] == '"adam"'
    assert hps["sagemaker_submit_directory"] == (
        f'"s3://{BUCKET}/sm-magics/source/{digest}/sourcedir.tar.gz"'
    )
    channels = {
        c["ChannelName"]: c["DataSource"]["S3DataSource"]["S3Uri"]
        for c in description["InputDataConfig"]
    }
    assert channels == {
        "extra": "s3://some-other-bucket/extra/",
        "train": f"s3://{BUCKET}/sm-magics/data/{data_digest}/",
    }
    assert description["ResourceConfig"]["InstanceCount"] == 2
    record = ledger.get_job("moto-job-1")
    assert record is not None and record.status == "Completed"
    assert record.model_data == (f"s3://{BUCKET}/sm-magics/output/moto-job-1/output/model.tar.gz")
    tags = moto_aws.client("sagemaker").list_tags(ResourceArn=description["TrainingJobArn"])
    keys = {t["Key"] for t in tags["Tags"]}
    assert {"sm-magics:notebook", "sm-magics:created-by"} <= keys

    # The same cell and data again: nothing is uploaded, nothing is rewritten.
    puts.clear()
    session.train(
        SCRIPT,
        name="moto-job-2",
        source_dir=source_dir,
        requirements=requirements,
        image=IMAGE,
        inputs={"train": data_dir.as_uri()},
    )
    assert puts == []
    assert objects(moto_aws) == stored


def test_unknown_job_is_not_found(session: Session) -> None:
    from sm_magics.errors import NotFound

    with pytest.raises(NotFound, match="No SageMaker training job named 'ghost'"):
        session.backend("sagemaker").describe_training_job("ghost")


def put_lines(aws: AwsSession, stream: str, lines: list[str]) -> list[int]:
    """Write lines into moto's CloudWatch Logs now; return their timestamps."""
    now = int(time.time() * 1000)
    stamps = [now + i for i in range(len(lines))]  # ascending, as PutLogEvents demands
    aws.client("logs").put_log_events(
        logGroupName=TRAINING_LOG_GROUP,
        logStreamName=stream,
        logEvents=[{"timestamp": t, "message": m} for t, m in zip(stamps, lines, strict=True)],
    )
    return stamps


def test_follow_a_running_two_host_job_until_it_completes(
    session: Session, moto_aws: ScriptedAws, ledger: Ledger
) -> None:
    """The widget's path: LogFollower over the backend's reader, status scripted."""
    job = session.train(SCRIPT, name="moto-follow", image=IMAGE, instance_count=2)
    scripted = moto_aws.scripted
    assert scripted is not None
    scripted.set("moto-follow", "InProgress", "Training")
    logs = moto_aws.client("logs")
    logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
    epoch = int(time.time())
    streams = {h: f"moto-follow/algo-{h}-{epoch}" for h in (1, 2)}
    written: list[LogEvent] = []

    def writer() -> None:
        logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=streams[1])
        for round_ in range(12):
            if round_ == 3:  # the second host's container starts later
                logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=streams[2])
            hosts = (1, 2) if round_ >= 3 else (1,)
            for host in hosts:
                lines = [f"round {round_} line {i} on algo-{host}" for i in range(3)]
                for stamp, line in zip(
                    put_lines(moto_aws, streams[host], lines), lines, strict=True
                ):
                    written.append(LogEvent(stamp, f"algo-{host}", line))
            time.sleep(0.3)
        scripted.set("moto-follow", "Completed", "Completed")

    listings = [0]

    def count_listing(**_: Any) -> None:
        listings[0] += 1

    logs.meta.events.register("before-call.cloudwatch-logs.DescribeLogStreams", count_listing)
    thread = threading.Thread(target=writer)
    thread.start()
    printed: list[str] = []
    final = stream_until_done(job, printed.append)
    thread.join()
    assert final["TrainingJobStatus"] == "Completed"
    expected = [f"[{e.host}] {e.message}" for e in sorted(written, key=lambda e: e.timestamp)]
    assert sorted(printed) == sorted(expected)  # every line, once
    assert len(printed) == len(set(printed)) == 12 * 3 + 9 * 3
    for host in ("algo-1", "algo-2"):
        mine = [p for p in printed if p.startswith(f"[{host}]")]
        assert mine == [p for p in expected if p.startswith(f"[{host}]")]  # in order
    assert ledger.get_job("moto-follow").status == "Completed"  # type: ignore[union-attr]
    # Streams were listed only until both hosts had one (two or three listings), never
    # again while the lines kept coming.
    assert 1 <= listings[0] <= 4


def test_logs_before_anything_was_logged_are_empty(session: Session) -> None:
    job = session.train(SCRIPT, name="moto-quiet", image=IMAGE)
    assert job.read_logs().events == []  # the log group does not exist yet
    assert job.logs() == ""


def test_an_empty_stream_then_lines(session: Session, moto_aws: ScriptedAws) -> None:
    """moto hands an empty stream a token of -1; the lines written later still come."""
    job = session.train(SCRIPT, name="moto-late", image=IMAGE)
    moto_aws.scripted.set("moto-late", "InProgress", "Training")  # type: ignore[union-attr]
    logs = moto_aws.client("logs")
    logs.create_log_group(logGroupName=TRAINING_LOG_GROUP)
    stream = f"moto-late/algo-1-{int(time.time())}"
    logs.create_log_stream(logGroupName=TRAINING_LOG_GROUP, logStreamName=stream)
    job.describe()
    batch = job.read_logs()
    assert batch.events == []
    put_lines(moto_aws, stream, ["first", "second"])
    moto_aws.scripted.set("moto-late", "Completed", "Completed")  # type: ignore[union-attr]
    job.describe()  # the backend now knows it ended: the next read is not paced
    batch = job.read_logs(batch.cursor)
    assert [e.message for e in batch.events] == ["first", "second"]
    assert job.read_logs(batch.cursor).events == []


def test_stop_through_the_scripted_client(
    session: Session, moto_aws: ScriptedAws, ledger: Ledger
) -> None:
    job: Job = session.train(SCRIPT, name="moto-stop", image=IMAGE)
    scripted = moto_aws.scripted
    assert scripted is not None
    scripted.set("moto-stop", "InProgress", "Training")
    job.stop()
    assert scripted.calls["stop_training_job"] == 1
    assert ledger.get_job("moto-stop").status == "Stopping"  # type: ignore[union-attr]
    assert job.status == "Stopping"
    assert job.status == "Stopped"
    assert ledger.get_job("moto-stop").status == "Stopped"  # type: ignore[union-attr]
    job.stop()  # ended: nothing to do, no call
    assert scripted.calls["stop_training_job"] == 1


def test_moto_really_lacks_stop_training_job(moto_url: str) -> None:
    """If moto ever implements it, the scripted stop above can go."""
    import botocore.config
    import botocore.exceptions

    real = AwsSession(REGION, role=ROLE, endpoint_url=moto_url)
    client = real._boto.client(
        "sagemaker",
        endpoint_url=moto_url,
        config=botocore.config.Config(retries={"total_max_attempts": 1}),
    )
    with pytest.raises(botocore.exceptions.ClientError) as caught:
        client.stop_training_job(TrainingJobName="anything")
    assert caught.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500


def test_upload_helpers_shared_with_serving(
    moto_aws: ScriptedAws, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The uploads API serving reuses: folders (in parallel), single files, big files."""
    from sm_magics.backends.sagemaker import uploads
    from sm_magics.errors import InvalidRequest

    many = tmp_path / "many"
    for i in range(20):  # more than _PARALLEL_FILES: uploaded by a thread pool
        (many / f"part-{i % 3}").mkdir(parents=True, exist_ok=True)
        (many / f"part-{i % 3}" / f"{i:02d}.txt").write_text(f"row {i}\n")
    puts = count_puts(moto_aws)
    prefix = uploads.upload_path(moto_aws, many)
    digest = packaging.hash_tree(many)
    assert prefix == f"s3://{BUCKET}/sm-magics/data/{digest}/"
    assert len(objects(moto_aws, f"sm-magics/data/{digest}/")) == 20
    assert len(puts) == 21  # the files, then the manifest
    puts.clear()
    assert uploads.upload_path(moto_aws, many) == prefix
    assert puts == []

    model = tmp_path / "model.tar.gz"
    model.write_bytes(b"\x1f\x8b fake model")
    uri = uploads.upload_file(moto_aws, model)
    bucket, key = uploads.parse_s3_uri(uri)
    assert key == f"sm-magics/models/{uploads.digest_of_file(model)}/model.tar.gz"
    body = moto_aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read()
    assert body == model.read_bytes()

    monkeypatch.setattr(uploads, "MULTIPART_THRESHOLD", 4)  # boto3's managed transfer
    big = tmp_path / "big.bin"
    big.write_bytes(b"0123456789" * 1000)
    uri = uploads.upload_file(moto_aws, big)
    bucket, key = uploads.parse_s3_uri(uri)
    assert moto_aws.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read() == (
        big.read_bytes()
    )

    (tmp_path / "empty").mkdir()
    with pytest.raises(InvalidRequest, match="empty folder"):
        uploads.upload_path(moto_aws, tmp_path / "empty")
    assert uploads.local_path("s3://b/k") is None
    assert uploads.local_path(big.as_uri()) == big
    with pytest.raises(InvalidRequest):
        uploads.parse_s3_uri("s3:///no-bucket")
