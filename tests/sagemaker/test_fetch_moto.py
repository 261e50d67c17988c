"""``Job.download_model`` and ``SageMakerBackend.fetch`` against S3 on moto (no AWS).

moto stores and serves S3 objects for real, so no fake is needed here: the archive is
put where a finished job's ``ModelArtifacts`` would point, then fetched and extracted.
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from sm_magics.backends.sagemaker import SageMakerBackend
from sm_magics.backends.sagemaker.aws import AwsSession
from sm_magics.errors import NotFound
from sm_magics.ledger import Ledger


def _archive(files: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, data in files.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            tar.addfile(info, io.BytesIO(data))
    return buffer.getvalue()


def test_fetch_downloads_an_s3_artifact(moto_url: str, tmp_path: Path, sm_home: Path) -> None:
    aws = AwsSession("us-east-1", endpoint_url=moto_url, bucket="models")
    aws.client("s3").create_bucket(Bucket="models")
    payload = _archive({"model.joblib": b"weights", "code/inference.py": b"def model_fn(d): ..."})
    aws.client("s3").put_object(Bucket="models", Key="out/job/output/model.tar.gz", Body=payload)
    backend = SageMakerBackend(aws=aws, ledger=Ledger())

    target = tmp_path / "model.tar.gz"
    backend.fetch("s3://models/out/job/output/model.tar.gz", target)

    assert target.read_bytes() == payload


def test_fetch_of_a_missing_object_is_not_found(
    moto_url: str, tmp_path: Path, sm_home: Path
) -> None:
    aws = AwsSession("us-east-1", endpoint_url=moto_url, bucket="models")
    aws.client("s3").create_bucket(Bucket="models")
    backend = SageMakerBackend(aws=aws, ledger=Ledger())

    with pytest.raises(NotFound):
        backend.fetch("s3://models/nothing/model.tar.gz", tmp_path / "m.tar.gz")
    assert not (tmp_path / "m.tar.gz").exists()
