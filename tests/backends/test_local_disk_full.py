"""Issue 12, defect 6: a full disk ends the job Failed with the real reason.

Needs root to mount a small tmpfs as the home folder; skipped with a message otherwise.
Before the fix the supervisor died writing its state and the job later read "supervisor
exited unexpectedly"; a pump that met the full disk stopped reading, so the script blocked.
"""

from __future__ import annotations

import contextlib
import os
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import make_spec, wait_until_terminal

FILLS_THE_DISK = """\
import os
path = os.path.join(os.environ["SM_MODEL_DIR"], "huge.bin")
try:
    with open(path, "wb") as handle:
        while True:
            handle.write(b"x" * (1 << 20))
except OSError as exc:
    print("the script saw:", exc)
for index in range(20000):  # lines the log cannot hold any more: the job must not hang
    print("line", index, "x" * 200)
"""


@pytest.fixture
def small_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    if os.geteuid() != 0:
        pytest.skip("needs root to mount a small tmpfs as a full disk")
    home = tmp_path / "small"
    home.mkdir()
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", "size=4m", "tmpfs", str(home)], capture_output=True
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.decode().strip()}")
    monkeypatch.setenv("SM_MAGICS_HOME", str(home))
    try:
        yield home
    finally:
        from helpers import kill_leftovers

        kill_leftovers(home)
        with contextlib.suppress(Exception):
            subprocess.run(["umount", "-l", str(home)], check=False)


# The script fills the disk within milliseconds of its start, possibly before the
# supervisor has mirrored "Training" into the ledger: a describe then cannot write that row
# and says so (the designed warning); the job's own outcome is what this test checks.
@pytest.mark.filterwarnings("ignore:not recorded, the disk is full:RuntimeWarning")
def test_a_full_disk_fails_the_job_with_the_reason(small_home: Path) -> None:
    from sm_magics.backends.local.engine import LocalBackend

    backend = LocalBackend()
    try:
        spec = make_spec(script=FILLS_THE_DISK)
        backend.create_training_job(spec)
        description = wait_until_terminal(backend, spec.name, timeout=120)
        assert description["TrainingJobStatus"] == "Failed"
        assert "No space left on device" in description["FailureReason"]
        assert "exited unexpectedly" not in description["FailureReason"]
    finally:
        backend.ledger.close()
