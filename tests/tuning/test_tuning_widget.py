"""The tuning widget as JupyterLab shows it (no kernel needed: widgets open dummy comms)."""

from __future__ import annotations

from typing import Any

from sm_magics.display import NO_MATH_CLASSES
from sm_magics.errors import SmMagicsError
from sm_magics.tuning_widget import TuningWidget


class _Unreadable:
    """A tuning handle whose backend cannot be read: the widget shows the message."""

    name = "tune-1"
    backend_name = "local"

    def describe(self) -> dict[str, Any]:
        raise SmMagicsError("read failed: $0.12/h and $3 so far")

    def trials(self) -> list[dict[str, Any]]:
        return []


def test_the_tuning_widget_is_never_typeset_as_maths() -> None:
    # Its tables, messages and trial logs carry dollar amounts: JupyterLab typesets the text
    # between two "$" as maths unless an ancestor has these classes (as the job widget has).
    widget = TuningWidget(_Unreadable(), follow=False)  # type: ignore[arg-type]
    try:
        assert "$0.12/h" in widget.message.value
        assert set(NO_MATH_CLASSES.split()) <= set(widget._dom_classes)
    finally:
        widget.close()


class _Fixed(_Unreadable):
    """A tuning handle that always reads the same status."""

    def __init__(self, status: str) -> None:
        from types import SimpleNamespace

        from sm_magics.ledger import Ledger

        self.status = status
        self.session = SimpleNamespace(ledger=Ledger())  # the trials' rows (none here)

    def describe(self) -> dict[str, Any]:
        return {
            "HyperParameterTuningJobName": self.name,
            "HyperParameterTuningJobStatus": self.status,
            "HyperParameterTuningJobConfig": {"Strategy": "Bayesian"},
        }


def test_stop_is_offered_while_running_and_gone_once_ended() -> None:
    # As on the job widget: a greyed-out Stop on an ended tuning job only asked questions.
    running = TuningWidget(_Fixed("InProgress"), follow=False)  # type: ignore[arg-type]
    ended = TuningWidget(_Fixed("Completed"), follow=False)  # type: ignore[arg-type]
    try:
        assert running.stop_button.layout.display is None and not running.stop_button.disabled
        assert ended.stop_button.layout.display == "none"
    finally:
        running.close()
        ended.close()
