"""Issue 12, defect 13: archives are checked member by member, not by ``filter="data"`` alone.

Each hostile archive must be refused before anything is written, with or without the
filter (older 3.10/3.11 patch releases lack it; its bypasses were fixed only recently).
"""

from __future__ import annotations

import io
import tarfile
from pathlib import Path

import pytest

from sm_magics.packaging import UnsafeArchive, safe_extract


def _archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes]]) -> Path:
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            info.size = len(data) if info.isfile() else 0
            tar.addfile(info, io.BytesIO(data) if info.isfile() else None)
    return path


def _file(name: str) -> tuple[tarfile.TarInfo, bytes]:
    return tarfile.TarInfo(name), b"x"


def _link(name: str, target: str, kind: bytes = tarfile.SYMTYPE) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type, info.linkname = kind, target
    return info, b""


def _device(name: str) -> tuple[tarfile.TarInfo, bytes]:
    info = tarfile.TarInfo(name)
    info.type = tarfile.CHRTYPE
    return info, b""


HOSTILE = {
    "absolute": [_file("/tmp/evil")],
    "dotdot": [_file("../evil")],
    "dotdot inside": [_file("a/../../evil")],
    "symlink out": [_link("l", "../../etc")],
    "absolute symlink": [_link("l", "/etc/passwd")],
    "symlink then write through it": [_link("d", ".."), _file("d/evil")],
    "hard link out": [_link("h", "../evil", tarfile.LNKTYPE)],
    "device": [_device("dev")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_hostile_members_are_refused_before_anything_is_written(
    tmp_path: Path, case: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    archive = _archive(tmp_path / "model.tar.gz", [_file("ok.txt"), *HOSTILE[case]])
    target = tmp_path / "deep" / "target"
    with pytest.raises(UnsafeArchive):
        safe_extract(archive, target)
    assert not (target / "ok.txt").exists()  # checked first, then extracted: nothing
    assert not (tmp_path / "evil").exists() and not (tmp_path / "deep" / "evil").exists()


def test_without_the_data_filter_our_check_still_refuses(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # As on a Python whose tarfile has no filter: extractall ignores it.
    original = tarfile.TarFile.extractall

    def no_filter(
        self: tarfile.TarFile, path: str = ".", members=None, *, numeric_owner=False, filter=None
    ):
        return original(self, path, members, numeric_owner=numeric_owner, filter="fully_trusted")

    monkeypatch.setattr(tarfile.TarFile, "extractall", no_filter)
    archive = _archive(tmp_path / "m.tar.gz", [_link("d", ".."), _file("d/evil")])
    with pytest.raises(UnsafeArchive):
        safe_extract(archive, tmp_path / "t")
    assert not (tmp_path / "evil").exists()


def test_a_plain_archive_extracts(tmp_path: Path) -> None:
    archive = _archive(
        tmp_path / "m.tar.gz", [_file("a/b.txt"), _link("a/c", "b.txt"), _file("top.txt")]
    )
    safe_extract(archive, tmp_path / "t")
    assert (tmp_path / "t" / "a" / "b.txt").read_bytes() == b"x"
    assert (tmp_path / "t" / "a" / "c").resolve() == (tmp_path / "t" / "a" / "b.txt").resolve()
