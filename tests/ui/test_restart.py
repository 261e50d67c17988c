"""Widgets without their kernel: the snapshot shows, and ``%sm_watch`` re-attaches one.

A notebook reopened without widget state (or after its kernel went away) cannot show a
job's live widget. Its output carries a static snapshot next to the widget view; the side
panel's extension shows that snapshot instead of "Error displaying widget: model not
found", and ``%sm_watch NAME`` in any notebook shows a live widget again.
"""

from __future__ import annotations

import re
from typing import Any

import helpers
import nbformat
import pytest
from playwright.sync_api import expect

from ui.labpage import open_notebook, run_cell, write_notebook

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
    # Not signed (a notebook from elsewhere): Lab shows the snapshot (its HTML), never the
    # error. A trusted notebook is the next test's.
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


def test_a_trusted_notebook_reopened_without_its_kernel_shows_the_snapshot(
    page: Any, lab: Any, session: Any
) -> None:
    # The usual way back to a notebook: run it, save it (Lab signs it: trusted), its kernel
    # goes away, open it again later. Lab then renders the widget view (not the HTML, as in
    # an untrusted notebook), whose model no kernel has: the snapshot must take its place.
    name = helpers.unique_name("trusted")
    session.train("print('hello from the job')", name=name).wait(120)
    write_notebook(lab.root, "trusted.ipynb", ["%load_ext sm_magics", f"%sm_watch {name}"])
    view = open_notebook(page, lab, "trusted.ipynb")
    run_cell(page, view, 0)
    run_cell(page, view, 1)
    output = view.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
    expect(output.locator(".jupyter-widgets").first).to_contain_text("Completed")
    page.keyboard.press("Control+s")
    tab = page.locator(".jp-mod-current.lm-TabBar-tab").filter(has_text="trusted.ipynb")
    expect(tab).not_to_have_class(re.compile("jp-mod-dirty"))
    saved = nbformat.read(lab.root / "trusted.ipynb", as_version=4)
    assert WIDGET_MIME in saved.cells[1].outputs[0]["data"]
    for running in lab.api("api/sessions"):
        if running["path"].endswith("trusted.ipynb"):
            lab.api(f"api/sessions/{running['id']}", method="DELETE")

    view = open_notebook(page, lab, "trusted.ipynb")  # a new page, a new kernel
    output = view.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
    expect(output).to_have_attribute("data-mime-type", WIDGET_MIME)  # trusted: the widget view
    expect(output.get_by_text(f"%sm_watch {name}")).to_be_visible()
    expect(output).to_contain_text(f"{name} (local")
    expect(output.get_by_text("Loading widget")).to_be_hidden()
    expect(output.get_by_text("Error displaying widget")).to_be_hidden()
    # The notebook's widget manager was asked (and has no such model), which is what shows
    # the snapshot for good: not the timer for a "Loading widget..." that never ends.
    hidden = output.locator(":scope > .lm-mod-hidden").first
    expect(hidden).to_have_text("Error displaying widget: model not found")


def test_a_widget_whose_kernel_restarted_says_how_to_get_a_live_one(
    page: Any, lab: Any, session: Any
) -> None:
    # After a restart the view stays (the latest state it had) but no longer updates:
    # it says so and names %sm_watch, rather than freeze with a stale "InProgress".
    name = helpers.unique_name("restarted")
    session.train("print('hello from the job')", name=name).wait(120)
    write_notebook(lab.root, "restarted.ipynb", ["%load_ext sm_magics", f"%sm_watch {name}"])
    view = open_notebook(page, lab, "restarted.ipynb")
    run_cell(page, view, 0)
    run_cell(page, view, 1)
    output = view.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
    expect(output.locator(".jupyter-widgets").first).to_contain_text("Completed")
    note = output.locator(".sm-Snapshot-note")
    expect(note).to_be_hidden()

    page.locator(".lm-MenuBar-itemLabel", has_text="Kernel").click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Restart Kernel")).first.click()
    page.locator(".jp-Dialog-button", has_text="Restart").click()
    expect(note).to_be_visible()
    expect(note).to_contain_text(f"%sm_watch {name}")
    expect(output.locator(".jupyter-widgets").first).to_contain_text("Completed")  # kept
