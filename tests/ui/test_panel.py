"""The side panel against a real JupyterLab, server extension and local backend."""

from __future__ import annotations

import json
import re
from typing import Any

import helpers
import pytest
from playwright.sync_api import expect

from ui.labpage import (
    PANEL,
    SERVABLE,
    endpoint_item,
    job_item,
    open_notebook,
    open_panel,
    run_cell,
    write_notebook,
)

pytestmark = pytest.mark.slow

#: A job that prints a line every half second for about ``n`` seconds.
TICKING = """\
import time

for i in range({count}):
    print(f"tick {{i}}", flush=True)
    time.sleep({pause})
"""


def test_panel_opens_from_the_palette(page: Any, lab: Any) -> None:
    palette = page.locator("#command-palette")
    # A shortcut pressed while Lab still moves focus around can be lost: press until shown.
    for _ in range(10):
        page.keyboard.press("Control+Shift+C")
        try:
            expect(palette).to_be_visible(timeout=3000)
            break
        except AssertionError:
            continue
    expect(palette).to_be_visible()
    palette.locator("input").fill("sm-magics: open panel")
    palette.locator(".lm-CommandPalette-item", has_text="sm-magics: open panel").first.click()

    panel = page.locator(PANEL)
    expect(panel).to_be_visible()
    expect(panel.locator(".sm-Panel-title")).to_have_text("SageMaker")
    expect(panel.locator(".sm-Panel-billing")).to_contain_text("Billing now")
    expect(panel.locator(".sm-Panel-billingRate")).to_have_text(re.compile(r"^\$[\d.,]+/h$"))
    # Endpoints (the things that bill) first, then the job kinds the session's lab has seen
    # (earlier tests in the same lab may have run tuning, processing or transform jobs).
    # (The Models section, once something is registered, sits between them.)
    titles = panel.locator(".sm-Panel-section:not(.sm-Panel-models) .sm-Panel-sectionTitle:visible")
    expect(titles.first).to_have_text(re.compile("^Endpoints"))
    expect(titles.nth(1)).to_have_text(re.compile("^Training jobs"))
    expect(panel.locator(".sm-Panel-error")).to_be_hidden()


def test_notebook_job_shows_live_in_panel_and_widget(page: Any, lab: Any) -> None:
    name = helpers.unique_name("nb")
    body = TICKING.format(count=30, pause=0.5)
    write_notebook(lab.root, "live.ipynb", ["%load_ext sm_magics", f"%%sm_train {name}\n{body}"])
    notebook = open_notebook(page, lab, "live.ipynb")
    open_panel(page)
    run_cell(page, notebook, 0)
    run_cell(page, notebook, 1)

    # The panel sees the new job and follows its status live.
    item = job_item(page, name)
    expect(item.locator(".sm-Item-status")).to_have_text("InProgress")
    expect(item.locator(".sm-Item-details")).to_contain_text("local")
    expect(item.locator(".sm-Item-cost")).to_contain_text("so far")

    # The cell's own widget: its log tail grows while the job runs.
    widget = notebook.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
    expect(widget).to_contain_text("tick 2")
    expect(widget).to_contain_text("InProgress")
    expect(widget).to_contain_text("tick 20")

    expect(item.locator(".sm-Item-status")).to_have_text("Completed")
    expect(widget).to_contain_text("tick 29")
    expect(widget).to_contain_text("Completed")
    # Seen running, then ended: a notification says so.
    expect(page.locator(".jp-toast-message", has_text=f"{name} completed")).to_be_visible()


def test_stop_a_running_job_from_the_panel(page: Any, session: Any) -> None:
    name = helpers.unique_name("stop")
    session.train(TICKING.format(count=600, pause=0.2), name=name)
    open_panel(page)
    item = job_item(page, name)
    expect(item.locator(".sm-Item-status")).to_have_text("InProgress")

    item.locator(".sm-Item-stop").click()
    expect(item.locator(".sm-Item-status")).to_have_text("Stopped")
    expect(item.locator(".sm-Item-stop")).to_be_hidden()
    assert session.job(name).status == "Stopped"


def test_log_view_follows_a_job(page: Any, session: Any) -> None:
    name = helpers.unique_name("logs")
    session.train(TICKING.format(count=24, pause=0.5), name=name)
    open_panel(page)
    job_item(page, name).locator(".sm-Item-logs").click()

    view = page.locator(f'[id="sm-magics-logs-{name}"]')
    expect(view).to_be_visible()
    lines = view.locator(".sm-LogView-line")
    expect(lines.filter(has_text="tick 0")).to_have_count(1)
    expect(view.locator(".sm-LogView-status")).to_contain_text("Following")
    expect(lines.filter(has_text="tick 5")).to_have_count(1)
    expect(view.locator(".sm-LogView-status")).to_contain_text("Completed")
    expect(lines.filter(has_text=re.compile(r"tick \d+$"))).to_have_count(24)
    # The view stayed at the bottom as lines arrived.
    assert view.locator(".sm-LogView-scroller").evaluate(
        "s => s.scrollHeight - s.scrollTop - s.clientHeight < 8"
    )


def test_delete_an_endpoint_through_the_dialog(page: Any, lab: Any, session: Any) -> None:
    job = helpers.unique_name("served")
    endpoint = helpers.unique_name("ep")
    session.train(SERVABLE, name=job).wait(120)
    session.deploy(job, endpoint=endpoint)
    open_panel(page)
    item = endpoint_item(page, endpoint)
    expect(item.locator(".sm-Item-status")).to_have_text("InService")

    # Copy the invoke snippet.
    item.locator(".sm-Item-copy").click()
    expect(page.locator(".jp-toast-message", has_text="Copied")).to_contain_text(endpoint)
    clipboard = page.evaluate("navigator.clipboard.readText()")
    assert clipboard.startswith(f"%sm_invoke {endpoint}")

    # Cancel keeps it.
    item.locator(".sm-Item-delete").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"Delete endpoint {endpoint}?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(item.locator(".sm-Item-status")).to_have_text("InService")

    # Delete removes it.
    item.locator(".sm-Item-delete").click()
    dialog.get_by_role("button", name="Delete").click()
    expect(item).to_have_count(0)
    expect(page.locator(".jp-toast-message", has_text=f"{endpoint} deleted")).to_be_visible()
    live = lab.api("sm-magics/api/v1/endpoints")["endpoints"]
    assert endpoint not in [e["name"] for e in live]


def _panel_settings(lab: Any, values: dict[str, Any]) -> None:
    lab.api("lab/api/settings/sm-magics:plugin", method="PUT", body={"raw": json.dumps(values)})


def test_idle_endpoint_warns_once_and_offers_delete(page: Any, lab: Any, session: Any) -> None:
    job = helpers.unique_name("idle")
    endpoint = helpers.unique_name("idle-ep")
    session.train(SERVABLE, name=job).wait(120)
    session.deploy(job, endpoint=endpoint)
    _panel_settings(lab, {"idleWarningMinutes": 0.0001})  # warn at once
    try:
        page.reload()
        open_panel(page)
        warning = page.locator(".Toastify__toast", has_text=f"Endpoint {endpoint} ")
        expect(warning).to_contain_text(re.compile("has (not been invoked|been running) for"))
        # Once per endpoint: another refresh adds no second warning.
        with page.expect_response(lambda r: "/sm-magics/api/v1/cost" in r.url):
            page.locator(f"{PANEL} .sm-Panel-refresh").click()
        expect(warning).to_have_count(1)

        warning.get_by_role("button", name="Delete…").click()
        dialog = page.locator(".jp-Dialog")
        expect(dialog).to_contain_text(f"Delete endpoint {endpoint}?")
        dialog.get_by_role("button", name="Delete").click()
        expect(endpoint_item(page, endpoint)).to_have_count(0)
    finally:
        _panel_settings(lab, {})
