"""Source staging, content hashing and deterministic tarballs.

Both backends package code the same way: the cell (or ``--entry-point``) plus
``--source-dir`` plus ``--requirements`` staged into one folder, hashed by content. The
local backend runs that folder; the SageMaker backend uploads it as ``sourcedir.tar.gz``
under its hash, so an unchanged cell is never uploaded twice. Tarballs are deterministic
(sorted entries, fixed mtimes and owners) so that the same content gives the same bytes.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tarfile
import tempfile
from collections.abc import Iterable
from pathlib import Path

#: Folders never worth shipping with the code.
IGNORED_NAMES = frozenset({".git", "__pycache__", ".ipynb_checkpoints", ".venv", ".mypy_cache"})
_FIXED_MTIME = 1_600_000_000  # any constant: only sameness matters


def iter_files(root: Path) -> Iterable[Path]:
    """Yield the files under ``root`` in sorted order, skipping :data:`IGNORED_NAMES`."""
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if d not in IGNORED_NAMES)
        for filename in sorted(filenames):
            if filename.endswith(".pyc"):
                continue
            yield Path(dirpath) / filename


def hash_tree(root: Path) -> str:
    """Return a SHA-256 over the relative paths and contents of every file under ``root``."""
    return hash_named_files((path.relative_to(root).as_posix(), path) for path in iter_files(root))


def hash_named_files(files: Iterable[tuple[str, Path]]) -> str:
    """Return the SHA-256 over ``name NUL content NUL`` of each ``(name, file)``, in order.

    The one content-hash scheme: staged code (:func:`hash_tree`), the S3 keys uploads go
    under and the inputs' digests in lineage all use it, so the same data has the same
    hash wherever it is seen.
    """
    digest = hashlib.sha256()
    for name, path in files:
        digest.update(name.encode())
        digest.update(b"\0")
        with open(path, "rb") as handle:
            for chunk in iter(lambda: handle.read(1 << 20), b""):
                digest.update(chunk)
        digest.update(b"\0")
    return digest.hexdigest()


def hash_file(path: Path) -> str:
    """Return the SHA-256 of one file's content."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for chunk in iter(lambda: handle.read(1 << 20), b""):
            digest.update(chunk)
    return digest.hexdigest()


def stage_source(
    dest: Path,
    *,
    entry_point: str,
    script: str | None = None,
    source_dir: Path | None = None,
    requirements: Path | None = None,
) -> str:
    """Lay out the job's code folder in ``dest`` and return its content hash.

    ``source_dir`` is copied first, then the cell ``script`` is written as ``entry_point``
    (the caller has checked it does not overwrite a file of ``source_dir``), then
    ``requirements`` as ``requirements.txt`` when it is not already inside the folder.
    """
    dest.mkdir(parents=True, exist_ok=True)
    if source_dir is not None:
        for path in iter_files(source_dir):
            target = dest / path.relative_to(source_dir)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(path, target)
    if script is not None:
        (dest / entry_point).write_text(script)
    if requirements is not None:
        target = dest / "requirements.txt"
        if not target.exists():
            shutil.copy2(requirements, target)
    return hash_tree(dest)


def write_tar_gz(source: Path, dest: Path, *, extra_roots: Iterable[Path] = ()) -> None:
    """Pack every file under ``source`` (and ``extra_roots``) into ``dest``, atomically.

    The archive is written to a temporary file beside ``dest`` and renamed over it, so a
    reader never sees half an archive and a crash leaves no ``model.tar.gz`` at all rather
    than a truncated one. When roots hold the same relative path, the first root wins.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp_name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp")
    seen: set[str] = set()
    try:
        with (
            os.fdopen(fd, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=_FIXED_MTIME, filename="") as zipped,
            tarfile.open(fileobj=zipped, mode="w", format=tarfile.PAX_FORMAT) as tar,
        ):
            for root in (source, *extra_roots):
                if not root.is_dir():
                    continue
                for path in iter_files(root):
                    arcname = path.relative_to(root).as_posix()
                    if arcname in seen:
                        continue
                    seen.add(arcname)
                    info = tar.gettarinfo(str(path), arcname)
                    info.mtime, info.uid, info.gid, info.uname, info.gname = (
                        _FIXED_MTIME,
                        0,
                        0,
                        "",
                        "",
                    )
                    with open(path, "rb") as handle:
                        tar.addfile(info, handle)
            raw.flush()
            os.fsync(raw.fileno())
        os.replace(tmp_name, dest)
    except BaseException:
        Path(tmp_name).unlink(missing_ok=True)
        raise


def tar_gz_bytes(source: Path) -> bytes:
    """Return the deterministic archive of ``source`` as bytes (small trees only)."""
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "a.tar.gz"
        write_tar_gz(source, out)
        return out.read_bytes()


def read_member(archive: Path, member: str) -> bytes:
    """Return one file's bytes from a ``.tar.gz`` archive."""
    with tarfile.open(archive, "r:gz") as tar:
        handle = tar.extractfile(member)
        if handle is None:
            raise KeyError(member)
        return handle.read()


class UnsafeArchive(ValueError):
    """An archive member would land outside the target folder, or is not a plain file."""


def check_member(member: tarfile.TarInfo, target: Path) -> None:
    """Refuse a member that could write outside ``target`` or is not a file, folder or link.

    Our own check, in addition to ``tarfile``'s ``filter="data"``: that filter is missing
    from older 3.10/3.11 patch releases and has had bypasses fixed only recently
    (CVE-2024-12718, CVE-2025-4517), so safety must not rest on it alone. Refused: absolute
    names, ``..`` anywhere, devices, FIFOs, and links whose target leaves ``target``.
    """
    name = member.name
    parts = Path(name).parts
    if name.startswith(("/", "\\")) or (parts and ":" in parts[0]):
        raise UnsafeArchive(f"{name!r}: an absolute path")
    if ".." in parts or ".." in name.replace("\\", "/").split("/"):
        raise UnsafeArchive(f"{name!r}: a '..' component")
    if not (member.isfile() or member.isdir() or member.issym() or member.islnk()):
        raise UnsafeArchive(f"{name!r}: a device, FIFO or other special file")
    root = target.resolve()
    dest = (root / name).resolve()
    if not dest.is_relative_to(root):
        raise UnsafeArchive(f"{name!r}: lands outside the target folder")
    if member.issym() or member.islnk():
        link = member.linkname
        if Path(link).is_absolute():
            raise UnsafeArchive(f"{name!r}: a link to the absolute path {link!r}")
        # A symbolic link is relative to its folder; a hard link names an archive member.
        base = dest.parent if member.issym() else root
        if not (base / link).resolve().is_relative_to(root):
            raise UnsafeArchive(f"{name!r}: a link to {link!r} outside the target folder")


def safe_extract(archive: Path, target: Path) -> None:
    """Extract a ``.tar.gz`` into ``target``, every member checked before anything is written.

    Raises
    ------
    UnsafeArchive
        A member would escape ``target`` (see :func:`check_member`); nothing is extracted.
    """
    target.mkdir(parents=True, exist_ok=True)
    with tarfile.open(archive, "r:*") as tar:
        members = tar.getmembers()
        for member in members:
            check_member(member, target)
        tar.extractall(target, members=members, filter="data")
