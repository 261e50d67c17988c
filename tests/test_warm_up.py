"""Issue 13 item 2: a kernel's first local job finds a starter ready, as later jobs do.

Checked in fresh interpreters (the warm-up runs once per kernel, after ``%load_ext``).
"""

from __future__ import annotations

from pathlib import Path

from test_import_light import HEAVY, run_fresh

WARM_AND_TRAIN = f"""
import contextlib, io, json, os, sys
from IPython.core.interactiveshell import InteractiveShell
from sm_magics import warm_up
from sm_magics.backends.local import handoff, jobdir
shell = InteractiveShell.instance()
timer = None
original = warm_up.start
def start(core):
    global timer
    timer = original(core)
    return timer
warm_up.start = start
shell.run_line_magic("load_ext", "sm_magics")
if timer is not None:
    timer.join(60)
import time
deadline = time.monotonic() + 60
while handoff.READY_DELAY and not handoff._ready and time.monotonic() < deadline:
    time.sleep(0.05)  # keep_one_ready's own delay, then the spawn
ready = [process.pid for _, process, _ in handoff._ready]
heavy = sorted(m for m in {HEAVY!r} if m in sys.modules)
with contextlib.redirect_stdout(io.StringIO()):
    job = shell.run_cell_magic("sm_train", "first --wait", "print('hello')")
state = jobdir.JobDir.for_job("first").read_state()
print(json.dumps({{"timer": timer is not None, "ready": ready, "heavy": heavy,
                   "supervisor": state["supervisor_pid"], "status": job.status}}))
"""


def test_the_first_job_takes_the_starter_warmed_up_after_load_ext(
    sm_home: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SM_MAGICS_WARM_UP", "1")
    report = run_fresh(WARM_AND_TRAIN)
    assert report["timer"] is True
    assert report["heavy"] == []  # the warm-up imports neither boto3 nor ipywidgets
    assert len(report["ready"]) == 1
    assert report["supervisor"] == report["ready"][0]  # the job ran in the warmed starter
    assert report["status"] == "Completed"


def test_no_warm_up_for_the_sagemaker_backend_or_when_turned_off(
    sm_home: Path, monkeypatch
) -> None:
    monkeypatch.setenv("SM_MAGICS_WARM_UP", "1")
    monkeypatch.setenv("SM_MAGICS_BACKEND", "sagemaker")
    code = WARM_AND_TRAIN.split("with contextlib")[0] + (
        "print(json.dumps({'timer': timer is not None, 'ready': ready,"
        " 'engine': 'sm_magics.backends.local.engine' in sys.modules}))\n"
    )
    assert run_fresh(code.replace("deadline = time.monotonic() + 60", "deadline = 0")) == {
        "timer": True,
        "ready": [],
        "engine": False,
    }
    monkeypatch.setenv("SM_MAGICS_BACKEND", "local")
    monkeypatch.setenv("SM_MAGICS_WARM_UP", "0")
    off = run_fresh(code.replace("deadline = time.monotonic() + 60", "deadline = 0"))
    assert off == {"timer": False, "ready": [], "engine": False}
