"""Virtual environments for ``--requirements``, cached by the file's content.

A job with requirements runs in a venv that sees everything the notebook's interpreter
sees (its site-packages are added through a ``.pth`` file, which is what
``--system-site-packages`` would give if the kernel did not itself run in a venv) with the
requirements installed on top, where they win. The venv is keyed by the SHA-256 of the
requirements file and the interpreter, built once under a lock, and marked complete only
after pip succeeded, so a failed or interrupted build is never reused.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import site
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

from sm_magics import config

_COMPLETE_MARKER = ".sm-magics-complete"


class RequirementsError(RuntimeError):
    """Installing the requirements failed; the message holds pip's last lines."""


def venv_key(requirements: Path, python: str = sys.executable) -> str:
    """Return the cache key: the requirements' content and the base interpreter."""
    digest = hashlib.sha256(requirements.read_bytes())
    digest.update(os.path.realpath(python).encode())
    digest.update(sys.prefix.encode())
    return digest.hexdigest()[:20]


def _parent_site_dirs() -> list[str]:
    dirs = [*site.getsitepackages(), site.getusersitepackages()]
    dirs += [p for p in sys.path if p.endswith("site-packages") and p not in dirs]
    return [d for d in dirs if Path(d).is_dir()]


def _run_logged(
    cmd: list[str], log: Callable[[str], None], cwd: Path | None = None
) -> tuple[int, list[str]]:
    proc = subprocess.Popen(
        cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, bufsize=1, cwd=cwd
    )
    tail: list[str] = []
    assert proc.stdout is not None
    for line in proc.stdout:
        log(line)
        tail = [*tail[-9:], line.rstrip()]
    return proc.wait(), tail


def ensure_venv(requirements: Path, log: Callable[[str], None]) -> Path:
    """Return the Python of a venv with ``requirements`` installed, building it if needed.

    Parameters
    ----------
    requirements
        A pip requirements file.
    log
        Called with each line of progress (each line); the supervisor passes the
        ``algo-1`` log so the user sees pip's output in the job's logs, as on SageMaker.

    Raises
    ------
    RequirementsError
        pip failed; the partial venv is removed.
    """
    root = config.home_dir() / "venvs"
    root.mkdir(parents=True, exist_ok=True)
    key = venv_key(requirements)
    target = root / key
    python = target / "bin" / "python"
    with open(root / f"{key}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one builder; the others wait, then reuse
        if (target / _COMPLETE_MARKER).exists():
            log(f"Using cached environment for {requirements.name} ({key})")
            return python
        shutil.rmtree(target, ignore_errors=True)
        log(f"Installing {requirements.name} into a new environment ({key})")
        code, tail = _run_logged(
            [sys.executable, "-m", "venv", "--without-pip", "--system-site-packages", str(target)],
            log,
        )
        if code == 0:
            purelib = subprocess.run(
                [str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            Path(purelib, "_sm_magics_parent.pth").write_text("\n".join(_parent_site_dirs()))
            pip = [
                sys.executable,
                "-m",
                "pip",
                "--python",
                str(python),
                "install",
                "--disable-pip-version-check",
                "--no-input",
                "-r",
                str(requirements),
            ]
            # pip resolves relative paths inside the file from the working directory.
            code, tail = _run_logged(pip, log, cwd=requirements.parent)
        if code != 0:
            shutil.rmtree(target, ignore_errors=True)
            raise RequirementsError(
                f"Installing {requirements.name} failed (pip exit code {code}): "
                + " | ".join(line for line in tail if line)[-800:]
            )
        (target / _COMPLETE_MARKER).write_text(str(requirements))
        return python
