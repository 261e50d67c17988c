"""The job widget's buttons as JupyterLab shows them, not only as Python sets them.

ipywidgets 8 applies a view's layout (``display: none``, ``width: auto``), style and CSS
classes once Lumino tells the view it is attached; the snapshot wrapper once moved the
view's DOM node instead of adding it as a Lumino child, so a Deploy button that Python hid
showed on a running job (tests/test_widget_states.py checks only the Python side).
"""

from __future__ import annotations

from typing import Any

import helpers
import pytest
from playwright.sync_api import expect

from ui.labpage import open_notebook, run_cell, write_notebook

pytestmark = pytest.mark.slow

#: Trains only once the test says so (a file appears): running for as long as needed.
GATED = """\
import os
import time
from pathlib import Path

print("waiting for the go", flush=True)
while not Path({flag!r}).exists():
    time.sleep(0.2)
Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("trained")
print("trained", flush=True)
"""


def test_deploy_is_hidden_while_running_and_offered_once_completed_with_a_model(
    page: Any, lab: Any, session: Any
) -> None:
    name = helpers.unique_name("buttons")
    flag = lab.root / f"{name}.go"
    cell = f"%%sm_train {name} -i ml.m5.large\n" + GATED.format(flag=str(flag))
    write_notebook(lab.root, "buttons.ipynb", ["%load_ext sm_magics", cell])
    notebook = open_notebook(page, lab, "buttons.ipynb")
    run_cell(page, notebook, 0)
    run_cell(page, notebook, 1)
    output = notebook.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
    widget = output.locator(".widget-vbox.mathjax_ignore").first  # its classes applied
    stop = widget.get_by_role("button", name="Stop")
    deploy = widget.get_by_role("button", name="Deploy")
    try:
        expect(widget).to_contain_text("waiting for the go")
        expect(widget).to_contain_text("InProgress")
        expect(stop).to_be_visible()
        expect(deploy).to_be_hidden()
        width = stop.bounding_box()
        assert width is not None and width["width"] < 120, width  # width: auto, not 148px
    finally:
        flag.touch()
    expect(widget).to_contain_text("Completed")
    expect(deploy).to_be_visible()
    expect(stop).to_be_hidden()
