"""Local paths from what users type: a path, or a ``file://`` URI; never ``s3://``.

The local backend reads and writes this machine's files only; an S3 URI gets a message
saying how to go on (download it, or use the sagemaker backend) instead of a traceback.
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import unquote, urlparse

from sm_magics.errors import InvalidRequest


def local_path(uri: str, what: str) -> Path:
    """Return the absolute path of ``uri`` (which need not exist yet).

    Raises
    ------
    InvalidRequest
        ``uri`` is an ``s3://`` or other non-local URI; ``what`` names it in the message.
    """
    parsed = urlparse(uri)
    if parsed.scheme in ("file", ""):
        raw = unquote(parsed.path) if parsed.scheme == "file" else uri
        if "\x00" in raw:
            raise InvalidRequest(f"{what}: the path holds a NUL byte.")
        try:
            return Path(raw).expanduser().resolve()
        except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop (3.10-3.12)
            raise InvalidRequest(f"{what}: cannot use {raw!r}: {exc}.") from None
    if parsed.scheme == "s3":
        raise InvalidRequest(
            f"{what}: the local backend reads local paths and file:// URIs, not {uri}. "
            "Download it first, or run with -b sagemaker."
        )
    raise InvalidRequest(f"{what}: unsupported URI scheme in {uri!r}.")


def existing_path(uri: str, what: str) -> Path:
    """Return the path of ``uri``, which must exist."""
    path = local_path(uri, what)
    try:
        found = path.exists()
    except OSError as exc:  # too long, a loop of links, no permission on a parent
        raise InvalidRequest(f"{what}: cannot use {str(path)[:200]!r}: {exc.strerror}.") from None
    if not found:
        raise InvalidRequest(f"{what}: {path} does not exist.")
    return path


def resolve_input(channel: str, uri: str) -> Path:
    """Return the local path of one training channel's data."""
    return existing_path(uri, f"Channel {channel!r}")


def model_path(uri: str) -> Path:
    """Return the local path of a ``model.tar.gz``, which must be a file."""
    path = existing_path(uri, f"Model {uri}")
    if not path.is_file():
        raise InvalidRequest(f"Model {uri} is not a file (a model.tar.gz is expected).")
    return path
