"""The job widget's states follow what happens: deploy, delete, stop, silence, waiting.

No kernel is needed (widgets open dummy comms). Waits have generous timeouts that only
keep a broken job or endpoint from hanging the suite; nothing asserts a duration.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import helpers
import pytest

from sm_magics.api import Session
from sm_magics.display.jobs import SILENCE_SECONDS, job_header_html
from sm_magics.widgets import EndpointWidget, JobWidget

WAIT = 120.0  # only against hangs

#: A trained model whose training script holds its inference handlers.
SERVABLE = """\
import os
from pathlib import Path


def model_fn(model_dir):
    return Path(model_dir, "model.txt").read_text()


def predict_fn(data, model):
    return {"model": model, "input": data}


if __name__ == "__main__":
    Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("trained")
"""

SLOW = """\
import time

print("started", flush=True)
time.sleep(120)
"""


@pytest.fixture
def session(sm_home: Path) -> Iterator[Session]:
    """A session on the test's home; every endpoint it still has is deleted at the end."""
    yield from helpers.session_deleting_endpoints()


def wait_until(predicate: Callable[[], Any], what: str) -> None:
    deadline = time.monotonic() + WAIT
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


def test_deploy_message_follows_the_endpoint_and_deploy_comes_back(session: Session) -> None:
    job = session.train(SERVABLE, name=helpers.unique_name("served"))
    job.wait(WAIT, poll=0.05)
    widget = JobWidget(job, follow=False)
    assert widget.deploy_button.layout.display is None  # Completed, with a model

    widget._on_deploy(None)
    (endpoint_widget,) = widget.deployed.children
    assert isinstance(endpoint_widget, EndpointWidget)
    try:
        assert widget.deploy_button.layout.display == "none"
        wait_until(lambda: "deployed as endpoint" in widget.message.value, "InService")
        endpoint_widget.endpoint.delete()  # e.g. from the side panel
        wait_until(lambda: "was deleted" in widget.message.value, "the deletion")
        assert widget.deploy_button.layout.display is None  # Deploy is offered again
        assert widget.deployed.children == ()
    finally:
        endpoint_widget.close()


def test_stop_message_ends_at_stopped_and_a_stopped_job_offers_no_deploy(
    session: Session,
) -> None:
    job = session.train(SLOW, name=helpers.unique_name("stop"))
    widget = JobWidget(job)
    try:
        wait_until(lambda: "started" in widget.log_view.value, "the first line")
        widget._on_stop(None)
        assert "stop requested" in widget.message.value
        wait_until(lambda: "stopped at" in widget.message.value, "Stopped")
        assert widget.stop_button.layout.display == "none"
        assert widget.deploy_button.layout.display == "none"  # no model to serve
    finally:
        job.stop()
        widget.wait_idle(WAIT)


def test_a_silent_running_job_says_so(session: Session) -> None:
    job = session.train(SLOW, name=helpers.unique_name("quiet"))
    try:
        widget = JobWidget(job, follow=False)
        assert "No output for" not in widget.header.value
        widget._last_line_at -= SILENCE_SECONDS + 1
        widget._on_status(job.describe())
        assert "No output for" in widget.header.value
    finally:
        job.stop()
        job.wait(WAIT, poll=0.05)


def test_a_job_not_started_yet_says_waiting_not_not_started() -> None:
    description = {
        "TrainingJobName": "j",
        "TrainingJobStatus": "InProgress",
        "SecondaryStatus": "Starting",
        "ResourceConfig": {"InstanceType": "ml.m5.large", "InstanceCount": 1},
    }
    header = job_header_html(description, "local")
    assert "waiting to start" in header
    assert "not started" not in header
