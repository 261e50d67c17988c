"""A ``requirements.txt`` at the root of the source dir is installed before the script.

As the training toolkit does: the file is found without ``--requirements``, the log says
so, and the environment is cached by the file's content (a second job reuses it).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from helpers import build_wheel, log_messages, make_spec, wait_until_terminal

SCRIPT = """\
import tinyreq  # only in requirements.txt's environment
print("VALUE", tinyreq.VALUE)
"""


@pytest.mark.slow
def test_requirements_txt_in_the_source_dir_is_installed_first_and_cached(
    local_backend: Any, tmp_path: Path
) -> None:
    (tmp_path / "wheel").mkdir()
    wheel = build_wheel(
        tmp_path / "wheel", "tinyreq", "0.1", {"tinyreq/__init__.py": "VALUE = 7\n"}
    )
    source = tmp_path / "src"
    source.mkdir()
    (source / "train.py").write_text(SCRIPT)
    (source / "requirements.txt").write_text(f"--no-index\n{wheel}\n")
    for attempt in ("install", "cached"):
        spec = make_spec(script=None, source_dir=source, entry_point="train.py")
        local_backend.create_training_job(spec)
        job = wait_until_terminal(local_backend, spec.name, timeout=300)
        assert job["TrainingJobStatus"] == "Completed", job.get("FailureReason")
        messages = log_messages(local_backend, spec.name)
        assert "VALUE 7" in messages
        assert any("requirements.txt in the source directory" in m for m in messages)
        cached = any("Using cached environment" in m for m in messages)
        assert cached is (attempt == "cached")
