"""What a job's inputs were when it was submitted: one digest per input, for lineage.

A registered model must say which data it was trained on, and the data behind a path can
change after the run. So every training and processing job records, with its row, a
digest of each input as it was at submission; the lineage shows it, and two runs on the
same data show the same digest.

Why two kinds of digest: hashing content costs a read of every byte, and a submission must
not block the notebook on a large data set. Local inputs up to :data:`CONTENT_LIMIT` bytes
get ``sha256:<hex>`` over their content, computed as :func:`sm_magics.packaging.hash_tree`
computes it (relative names and bytes), which is also the key sm-magics uploads local
data under on SageMaker, so the same data gives the same digest on both backends. Larger
ones get ``stat:<hex>``, a fingerprint of every file's relative name, size and
modification time (one ``stat`` per file, no read); one of more than :data:`MAX_FILES`
files gets none. An ``s3://`` input that sm-magics
uploaded carries its content hash in its key (``.../sm-magics/data/<sha256>/``); any other
remote input has no digest (SageMaker does not record one either).

Digests are remembered per kernel by the files' fingerprint, so the edit-run loop
resubmitting the same data costs one walk of ``stat`` calls, not a hash.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from pathlib import Path
from urllib.parse import unquote, urlparse

from sm_magics.packaging import hash_named_files, iter_files

#: Inputs up to this many bytes are hashed by content; larger ones are fingerprinted.
CONTENT_LIMIT = 64 * 1024 * 1024
#: Inputs of more files than this get no digest: even one ``stat`` per file would hold
#: the notebook up for seconds at submission (an image data set of a million files).
MAX_FILES = 20_000
#: How many digests a kernel remembers (one per input path and fingerprint).
_CACHE_SIZE = 256
_UPLOADED_KEY = re.compile(r"/sm-magics/data/(?P<sha>[0-9a-f]{64})(?:/|$)")

_cache: dict[tuple[str, str], str] = {}


def digest_inputs(inputs: Mapping[str, str]) -> dict[str, str]:
    """Return ``{name: digest}`` for the inputs (``{name: URI or path}``) that have one.

    Never raises for an input it cannot read: a missing or unreadable path, or a remote
    one sm-magics did not upload, simply has no digest (creating the job is what refuses
    a missing input, with its own message).
    """
    digests: dict[str, str] = {}
    for name, uri in inputs.items():
        try:
            digest = digest_of(uri)
        except OSError:
            digest = None
        if digest is not None:
            digests[name] = digest
    return digests


def digest_of(uri: str) -> str | None:
    """Return the digest of one input (see the module's docstring), or ``None``."""
    parsed = urlparse(uri)
    if parsed.scheme == "s3":
        match = _UPLOADED_KEY.search(f"/{parsed.path.lstrip('/')}")
        return f"sha256:{match['sha']}" if match else None
    if parsed.scheme not in ("", "file"):
        return None
    path = Path(unquote(parsed.path) if parsed.scheme == "file" else uri).expanduser()
    if not path.exists():
        return None
    files = _files_of(path)
    if files is None:
        return None
    fingerprint, size = _fingerprint(path, files)
    key = (str(path.resolve()), fingerprint)
    cached = _cache.get(key)
    if cached is not None:
        return cached
    digest = f"sha256:{hash_named_files(files)}" if size <= CONTENT_LIMIT else f"stat:{fingerprint}"
    if len(_cache) >= _CACHE_SIZE:
        _cache.pop(next(iter(_cache)))
    _cache[key] = digest
    return digest


def _files_of(path: Path) -> list[tuple[str, Path]] | None:
    """Return ``(relative name, path)`` of every file, as the upload would see them.

    ``None`` when there are more than :data:`MAX_FILES` (the walk stops there).
    """
    if path.is_file():
        return [(path.name, path)]
    files: list[tuple[str, Path]] = []
    for file in iter_files(path):
        if len(files) >= MAX_FILES:
            return None
        files.append((file.relative_to(path).as_posix(), file))
    return files


def _fingerprint(path: Path, files: list[tuple[str, Path]]) -> tuple[str, int]:
    """Return a hash of every file's name, size and modification time, and the total size."""
    digest = hashlib.sha256()
    total = 0
    for name, file in files:
        info = file.stat()
        total += info.st_size
        digest.update(f"{name}\0{info.st_size}\0{info.st_mtime_ns}\0".encode())
    return digest.hexdigest(), total
