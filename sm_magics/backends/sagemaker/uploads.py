"""S3 uploads by content hash: an unchanged cell, folder or model is never uploaded twice.

Every local thing a job or an endpoint needs on S3 (the ``sourcedir.tar.gz`` of a cell,
an ``--input`` folder, a local ``model.tar.gz``) is stored under the SHA-256 of its content,
``s3://<bucket>/sm-magics/<kind>/<sha256>/...``. The key then says everything about the
bytes, so "is it there already?" is one ``HeadObject``, re-running a cell costs no upload,
and two notebooks that upload the same data share one copy. Objects are never
overwritten with different bytes, so a job that is reading them is never disturbed.

The API is three calls, shared by training and serving:

* :func:`upload_source` — a staged code folder as ``sourcedir.tar.gz`` (the framework
  containers' ``sagemaker_submit_directory``);
* :func:`upload_path` — a local file or folder as an S3 *prefix* holding exactly that
  content (a training channel: ``S3Prefix`` copies what is under it);
* :func:`upload_file` — one local file as an S3 *object* URI (a ``model.tar.gz``).

Each returns the URI and uploads only what is missing.
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import unquote, urlparse

from sm_magics import packaging
from sm_magics.errors import InvalidRequest, NotFound

if TYPE_CHECKING:
    from sm_magics.backends.sagemaker.aws import AwsSession

#: Key prefixes under the bucket, one per kind of content.
SOURCE_PREFIX = "sm-magics/source"
DATA_PREFIX = "sm-magics/data"
MODEL_PREFIX = "sm-magics/models"
ASYNC_INPUT_PREFIX = "sm-magics/async-inputs"
SOURCE_ARCHIVE = "sourcedir.tar.gz"
#: Files larger than this go through boto3's managed (multipart, parallel) transfer;
#: smaller ones are one ``PutObject``, which is faster and keeps requests easy to check.
MULTIPART_THRESHOLD = 64 * 1024 * 1024
#: Folders with more files than this are uploaded by a few threads at once.
_PARALLEL_FILES = 16
_THREADS = 8
# Written after every file of a folder: its presence means the folder is complete.
_MANIFEST_SUFFIX = ".manifest.json"


def s3_uri(bucket: str, key: str) -> str:
    """Return ``s3://bucket/key``."""
    return f"s3://{bucket}/{key}"


def parse_s3_uri(uri: str) -> tuple[str, str]:
    """Return ``(bucket, key)`` of an ``s3://`` URI.

    Raises
    ------
    InvalidRequest
        ``uri`` is not an ``s3://bucket/...`` URI.
    """
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InvalidRequest(f"Not an S3 URI: {uri!r} (expected s3://bucket/key).")
    return parsed.netloc, parsed.path.lstrip("/")


def local_path(uri: str) -> Path | None:
    """Return the local path of ``uri`` (a path or ``file://``), or ``None`` for ``s3://``.

    Raises
    ------
    InvalidRequest
        Any other scheme (``http://``, ``gs://``...), which neither SageMaker nor we read.
    """
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        return None
    if parsed.scheme == "file":
        return Path(unquote(parsed.path)).resolve()
    if parsed.scheme == "" or (len(parsed.scheme) == 1 and uri[1:2] == ":"):  # C:\...
        return Path(uri).expanduser().resolve()
    raise InvalidRequest(f"Unsupported URI scheme in {uri!r}: use s3://, file:// or a local path.")


def object_exists(aws: AwsSession, bucket: str, key: str) -> bool:
    """Whether ``s3://bucket/key`` exists (one ``HeadObject``)."""
    try:
        aws.call("s3", "head_object", Bucket=bucket, Key=key)
    except NotFound:
        return False
    return True


def put_file(aws: AwsSession, path: Path, bucket: str, key: str) -> None:
    """Upload one file to ``s3://bucket/key`` unconditionally (see :func:`upload_file`)."""
    if path.stat().st_size > MULTIPART_THRESHOLD:
        try:
            aws.client("s3").upload_file(str(path), bucket, key)
        except Exception as exc:
            # s3transfer wraps the ClientError; translate what it wrapped.
            from sm_magics.backends.sagemaker.errors import translate

            cause = exc.__cause__ or exc.__context__ or exc
            raise translate(cause, "s3", "put_object") from exc
        return
    with open(path, "rb") as body:
        aws.call("s3", "put_object", Bucket=bucket, Key=key, Body=body)


def digest_of_file(path: Path, name: str | None = None) -> str:
    """Return the content hash of one file *with its name*, as :func:`upload_path` keys it.

    The name is part of the hash so that the prefix ``<sha256>/`` holds exactly one file
    of that name: two files with the same bytes but different names never share a prefix,
    which matters because a channel copies everything under its prefix. The digest equals
    :func:`sm_magics.packaging.hash_tree` of a folder holding only that file.
    """
    return packaging.hash_named_files([(name or path.name, path)])


def upload_file(aws: AwsSession, path: Path, *, prefix: str = MODEL_PREFIX) -> str:
    """Upload one file under its content hash unless it is there; return its object URI.

    The key is ``<prefix>/<sha256 of name and content>/<file name>``, in the session's
    bucket. Meant for a local ``model.tar.gz`` given to ``%sm_deploy``.
    """
    bucket = aws.bucket
    key = f"{prefix}/{digest_of_file(path)}/{path.name}"
    if not object_exists(aws, bucket, key):
        put_file(aws, path, bucket, key)
    return s3_uri(bucket, key)


def upload_bytes(
    aws: AwsSession, body: bytes, *, prefix: str = ASYNC_INPUT_PREFIX, suffix: str = ""
) -> str:
    """Upload ``body`` under its content hash unless it is there; return its object URI.

    For asynchronous inference payloads, which SageMaker reads from S3: the same payload
    sent twice is one object (and one ``HeadObject``, not a second upload).
    """
    bucket = aws.bucket
    key = f"{prefix}/{hashlib.sha256(body).hexdigest()}{suffix}"
    if not object_exists(aws, bucket, key):
        aws.call("s3", "put_object", Bucket=bucket, Key=key, Body=body)
    return s3_uri(bucket, key)


def upload_path(aws: AwsSession, path: Path, *, prefix: str = DATA_PREFIX) -> str:
    """Upload a file or a folder under its content hash; return the S3 prefix URI.

    The prefix ``s3://<bucket>/<prefix>/<sha256>/`` holds exactly the content of ``path``
    (a folder's files at their relative paths; a file under its own name), which is what
    a training channel with ``S3DataType=S3Prefix`` copies to ``/opt/ml/input/data/<ch>``.

    A folder is complete once its manifest ``<prefix>/<sha256>.manifest.json`` exists
    (written last, beside the prefix so the channel never sees it): one ``HeadObject`` on
    it decides whether anything is uploaded, and an upload that was interrupted is simply
    done again.

    Raises
    ------
    InvalidRequest
        ``path`` does not exist, or is an empty folder (SageMaker rejects empty channels).
    """
    if not path.exists():
        raise InvalidRequest(f"{path} does not exist.")
    bucket = aws.bucket
    if path.is_file():
        digest = digest_of_file(path)
        key = f"{prefix}/{digest}/{path.name}"
        if not object_exists(aws, bucket, key):
            put_file(aws, path, bucket, key)
        return s3_uri(bucket, f"{prefix}/{digest}/")
    files = list(packaging.iter_files(path))
    if not files:
        raise InvalidRequest(f"{path} is an empty folder; SageMaker needs data in a channel.")
    digest = packaging.hash_tree(path)
    manifest_key = f"{prefix}/{digest}{_MANIFEST_SUFFIX}"
    if not object_exists(aws, bucket, manifest_key):
        relative = [f.relative_to(path).as_posix() for f in files]
        _put_many(
            aws,
            bucket,
            ((f, f"{prefix}/{digest}/{r}") for f, r in zip(files, relative, strict=True)),
        )
        manifest = {"sha256": digest, "files": relative}
        aws.call(
            "s3",
            "put_object",
            Bucket=bucket,
            Key=manifest_key,
            Body=json.dumps(manifest, sort_keys=True).encode(),
            ContentType="application/json",
        )
    return s3_uri(bucket, f"{prefix}/{digest}/")


def _put_many(aws: AwsSession, bucket: str, items: Iterable[tuple[Path, str]]) -> None:
    pending = list(items)
    if len(pending) <= _PARALLEL_FILES:
        for path, key in pending:
            put_file(aws, path, bucket, key)
        return
    with ThreadPoolExecutor(max_workers=_THREADS, thread_name_prefix="sm-magics-upload") as pool:
        for future in [pool.submit(put_file, aws, path, bucket, key) for path, key in pending]:
            future.result()  # the first failure propagates


def upload_source(aws: AwsSession, code_dir: Path, source_hash: str | None = None) -> str:
    """Pack a staged code folder as ``sourcedir.tar.gz`` and upload it unless present.

    Parameters
    ----------
    code_dir
        The folder :func:`sm_magics.packaging.stage_source` laid out.
    source_hash
        Its content hash, as ``stage_source`` returned it (computed when omitted).

    Returns
    -------
    str
        ``s3://<bucket>/sm-magics/source/<hash>/sourcedir.tar.gz``. The archive is
        deterministic (sorted entries, fixed mtimes), so the hash of the files names the
        archive's bytes too, and the archive is built only when it must be uploaded.
    """
    digest = source_hash or packaging.hash_tree(code_dir)
    bucket = aws.bucket
    key = f"{SOURCE_PREFIX}/{digest}/{SOURCE_ARCHIVE}"
    if not object_exists(aws, bucket, key):
        with tempfile.TemporaryDirectory(prefix="sm-magics-src-") as tmp:
            archive = Path(tmp) / SOURCE_ARCHIVE
            packaging.write_tar_gz(code_dir, archive)
            put_file(aws, archive, bucket, key)
    return s3_uri(bucket, key)
