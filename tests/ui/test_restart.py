"""Widgets without their kernel: the snapshot shows, and ``%sm_watch`` re-attaches one.

A notebook reopened without widget state (or after its kernel went away) cannot show a
job's live widget. Its output carries a static snapshot next to the widget view; the side
panel's extension shows that snapshot instead of "Error displaying widget: model not
found", and ``%sm_watch NAME`` in any notebook shows a live widget again.
"""

from __future__ import annotations

from typing import Any

import helpers
import nbformat
import pytest
from playwright.sync_api import expect

from ui.labpage import open_notebook, run_cell

pytestmark = pytest.mark.slow

WIDGET_MIME = "application/vnd.jupyter.widget-view+json"


def test_snapshot_replaces_a_lost_widget_and_sm_watch_reattaches(
    page: Any, lab: Any, session: Any
) -> None:
    name = helpers.unique_name("watched")
    job = session.train("print('hello from the job')", name=name)
    job.wait(120)
    bundle = job._repr_mimebundle_()  # outside a kernel: text and the snapshot
    assert "text/html" in bundle
    # What a saved notebook holds: the view of a widget whose model is long gone.
    bundle[WIDGET_MIME] = {"version_major": 2, "version_minor": 0, "model_id": "0" * 32}
    notebook = nbformat.v4.new_notebook()
    shown = nbformat.v4.new_code_cell(f"session.job({name!r})", execution_count=1)
    shown.outputs = [nbformat.v4.new_output("execute_result", bundle, execution_count=1)]
    notebook.cells = [
        shown,
        nbformat.v4.new_code_cell(f"%load_ext sm_magics\n%sm_watch {name}"),
    ]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    # Not signed (a notebook from elsewhere): Lab shows the snapshot, never the error. In a
    # trusted notebook Lab prefers the widget view; labextension/src/fallback.ts means to
    # show the snapshot there too (unit-tested in jest; not yet effective in a real Lab).
    nbformat.write(notebook, lab.root / "reopened.ipynb")

    view = open_notebook(page, lab, "reopened.ipynb")
    first = view.locator(".jp-Cell").nth(0)
    snapshot = first.get_by_text(f"%sm_watch {name}")
    expect(snapshot).to_be_visible()
    expect(first.locator(".jp-OutputArea-output").first).to_contain_text(f"{name} (local")
    expect(first.get_by_text("Error displaying widget")).to_be_hidden()

    # %sm_watch: a live widget again.
    run_cell(page, view, 1)
    live = view.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
    expect(live.locator(".jupyter-widgets").first).to_be_visible()
    expect(live).to_contain_text(name)
    expect(live).to_contain_text("Completed")
    expect(live).to_contain_text("hello from the job")
