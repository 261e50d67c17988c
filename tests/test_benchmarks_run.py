"""The benchmarks still run against the code they measure (smallest sizes, no figures checked).

A benchmark that an API change broke fails silently until someone wants its numbers:
``bench_history`` called ``%sm_jobs`` on the wrong magics class for a whole round. Here
each runs once at its smallest size; what it prints is not judged (never a timed
assertion), only that it finishes and prints its figures.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

BENCHMARKS = Path(__file__).resolve().parent.parent / "benchmarks"


def _run(script: str, *args: str, home: Path) -> str:
    env = {**os.environ, "SM_MAGICS_HOME": str(home), "PYTHONPATH": str(BENCHMARKS.parent)}
    done = subprocess.run(
        [sys.executable, str(BENCHMARKS / script), *args],
        capture_output=True,
        text=True,
        timeout=600,
        env=env,
        cwd=BENCHMARKS.parent,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


def test_bench_history_runs(sm_home: Path) -> None:
    out = _run(
        "bench_history.py", "--sizes", "10,20", "--repeat", "1", "--idle", "0.2", home=sm_home
    )
    assert "| %sm_jobs --limit 10 |" in out and "| GET /changes |" in out


@pytest.mark.skipif(sys.platform == "win32", reason="local jobs are POSIX processes")
def test_bench_loop_first_line_runs(sm_home: Path) -> None:
    out = _run("bench_loop.py", "--first-line", "1", home=sm_home)
    assert "3. first line:" in out and "3b. first line of a kernel's first job" in out


def test_bench_loop_startup_runs_on_both_backends(sm_home: Path) -> None:
    out = _run("bench_loop.py", "--startup", home=sm_home)
    assert "4. %load_ext" in out and "4b. sagemaker backend" in out
