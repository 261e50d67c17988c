"""What a job's inputs were when it was submitted: content digests and fingerprints."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sm_magics import input_digests, packaging
from sm_magics.backends.sagemaker.uploads import digest_of_file


@pytest.fixture(autouse=True)
def _fresh_cache() -> None:
    input_digests._cache.clear()


def _folder(tmp_path: Path) -> Path:
    folder = tmp_path / "data"
    (folder / "part").mkdir(parents=True)
    (folder / "a.csv").write_text("1,2\n")
    (folder / "part" / "b.csv").write_text("3,4\n")
    return folder


def test_a_folder_is_hashed_by_content_as_the_upload_keys_it(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    digest = input_digests.digest_of(str(folder))
    assert digest == f"sha256:{packaging.hash_tree(folder)}"
    assert input_digests.digest_of(folder.as_uri()) == digest  # file:// alike


def test_a_file_is_hashed_with_its_name_as_the_upload_keys_it(tmp_path: Path) -> None:
    file = _folder(tmp_path) / "a.csv"
    assert input_digests.digest_of(str(file)) == f"sha256:{digest_of_file(file)}"


def test_changed_content_changes_the_digest_and_unchanged_files_are_not_read_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    before = input_digests.digest_of(str(folder))
    reads: list[list[Path]] = []  # the files each content hash read
    real = input_digests.hash_named_files
    monkeypatch.setattr(
        input_digests,
        "hash_named_files",
        lambda files: reads.append([path for _, path in files]) or real(files),
    )
    assert input_digests.digest_of(str(folder)) == before  # the kernel remembers it
    assert reads == []
    (folder / "a.csv").write_text("1,2\n5,6\n")
    after = input_digests.digest_of(str(folder))
    assert after != before
    assert reads == [[folder / "a.csv", folder / "part" / "b.csv"]]  # the folder, once


def test_a_large_input_is_fingerprinted_not_read(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    monkeypatch.setattr(input_digests, "CONTENT_LIMIT", 4)
    digest = input_digests.digest_of(str(folder))
    assert digest is not None and digest.startswith("stat:")
    os.utime(folder / "a.csv", ns=(1, 1))  # touched: the fingerprint moves with it
    input_digests._cache.clear()
    assert input_digests.digest_of(str(folder)) != digest


def test_an_input_of_too_many_files_gets_no_digest(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = _folder(tmp_path)
    monkeypatch.setattr(input_digests, "MAX_FILES", 1)
    assert input_digests.digest_of(str(folder)) is None
    assert input_digests.digest_of(str(folder / "a.csv")) is not None  # a file is one file


def test_remote_and_missing_inputs(tmp_path: Path) -> None:
    sha = "ab" * 32
    uploaded = f"s3://bucket/sm-magics/data/{sha}/"
    assert input_digests.digest_of(uploaded) == f"sha256:{sha}"
    assert input_digests.digest_of("s3://bucket/datasets/train/") is None
    assert input_digests.digest_of("https://example.com/x.csv") is None
    assert input_digests.digest_of(str(tmp_path / "missing")) is None
    assert input_digests.digest_inputs(
        {"train": uploaded, "test": "s3://b/k", "gone": str(tmp_path / "x")}
    ) == {"train": f"sha256:{sha}"}
