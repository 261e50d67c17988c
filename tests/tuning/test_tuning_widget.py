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
