"""The side panel's model registry, an endpoint's lineage, a narrow panel and a restart.

The Models section lists each model group collapsed (its heading says which version is
approved and how many wait), its versions newest first with status, metrics, who changed
them and the source job; Approve… asks first, as Delete… does. An endpoint deployed from
the registry shows its lineage (model version, training job, code). In a 260 px panel a
long name keeps its end and the cost line is whole. A kernel restart (same kernel id)
raises the browser-side reminder of the endpoints its notebook left billing.
"""

from __future__ import annotations

import re
from typing import Any

import helpers
import pytest
from playwright.sync_api import expect

from ui.labpage import (
    SERVABLE,
    endpoint_item,
    job_item,
    open_notebook,
    open_panel,
    restart_kernel,
    set_panel_width,
    write_notebook,
)

pytestmark = pytest.mark.slow

RUNNING = """\
import time

for step in range(100000):
    print(f"step {step}", flush=True)
    time.sleep(1)
"""


def test_models_section_approves_and_shows_lineage(page: Any, lab: Any, session: Any) -> None:
    job = helpers.unique_name("reg")
    group = helpers.unique_name("churn")
    endpoint = helpers.unique_name("reg-ep")
    session.train(SERVABLE, name=job).wait(120)
    session.register(job, group=group, approval="approve", description="first try")
    session.register(job, group=group)  # v2, pending
    session.deploy(group, endpoint=endpoint)  # the latest approved: v1

    panel = open_panel(page)
    section = panel.locator(".sm-Panel-models")
    expect(section.locator(".sm-Panel-sectionTitle")).to_contain_text("Models")
    heading = section.locator(f'.sm-Panel-group[data-group="group:{group}"] .sm-Panel-groupHeading')
    expect(heading).to_have_text(f"▸ {group} (2) · v1 approved · 1 pending")
    heading.click()

    rows = section.locator(f'li.sm-ModelItem[data-name^="{group}/"]')
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_have_attribute("data-name", f"{group}/2")  # newest first
    v1, v2 = rows.nth(1), rows.nth(0)
    expect(v2.locator(".sm-Item-status")).to_have_text("Pending")
    expect(v1.locator(".sm-Item-status")).to_have_text("Approved")
    expect(v1.locator(".sm-Item-note")).to_contain_text("registered by ")
    expect(v1.locator(".sm-Item-note")).to_contain_text("as approved")
    expect(v1.locator(".sm-Item-note")).to_contain_text("first try")
    expect(v2.locator(".sm-Item-source")).to_contain_text("from ")
    expect(v1.locator(".sm-Item-approve")).to_be_hidden()

    # Approve…: asked first; Cancel changes nothing, Approve does (who and when shown).
    v2.locator(".sm-Item-approve").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"Approve model {group}/2?")
    dialog.get_by_role("button", name="Cancel").click()
    expect(dialog).to_be_hidden()
    expect(v2.locator(".sm-Item-status")).to_have_text("Pending")
    v2.locator(".sm-Item-approve").click()
    dialog.get_by_role("button", name="Approve").click()
    expect(v2.locator(".sm-Item-status")).to_have_text("Approved")
    expect(v2.locator(".sm-Item-note")).to_contain_text("approved by ")
    versions = lab.api(f"sm-magics/api/v1/models?group={group}")["models"]
    assert [(v["version"], v["status"]) for v in versions] == [(2, "Approved"), (1, "Approved")]

    # The endpoint's lineage: the version it serves, the job that trained it, its code.
    item = endpoint_item(page, endpoint)
    toggle = item.locator(".sm-Lineage-toggle")
    expect(toggle).to_have_text("▸ Lineage")
    # Closed, the line says which version it serves (cut in the middle when narrow).
    expect(item.locator(".sm-Lineage-summary")).to_have_text(re.compile(r"^serves .*/1$"))
    toggle.click()
    lineage = item.locator(".sm-Lineage-body")
    package = lineage.locator('[data-kind="model package"]')
    expect(package.locator(".sm-Lineage-name").first).to_have_text(f"{group}/1")
    expect(package.locator(".sm-Lineage-relation").first).to_have_text("serves ")
    trained = package.locator('[data-kind="training job"]')
    expect(trained.locator(".sm-Lineage-name").first).to_have_text(job)
    expect(trained.locator('[data-kind="code"] .sm-Lineage-name')).to_have_text(
        re.compile(r"^[0-9a-f]{12}$")
    )
    toggle.click()
    expect(lineage).to_be_hidden()


def test_narrow_panel_keeps_a_long_names_end_and_the_whole_cost(page: Any, session: Any) -> None:
    name = helpers.unique_name("narrow-panel-a-long-generated-name-2026-12-01")
    running = session.train(RUNNING, name=name, instance_type="ml.g5.xlarge", instance_count=2)
    try:
        panel = open_panel(page)
        set_panel_width(page, 260)
        item = job_item(page, name)
        expect(item.locator(".sm-Item-status")).to_have_text("InProgress")
        expect(item.locator(".sm-Item-spent")).to_contain_text("so far")
        shown = item.locator(".sm-Item-name")
        text = shown.inner_text()
        # Cut in the middle by the panel, not at the end by CSS: the end is what differs.
        assert "…" in text and text.endswith(name[-6:]), text
        assert shown.evaluate("n => n.scrollWidth <= n.clientWidth"), text
        # The cost line: nothing cut, the rate wraps below when it does not fit beside.
        for part in (".sm-Item-spent", ".sm-Item-rate"):
            node = item.locator(part)
            expect(node).to_be_visible()
            assert node.evaluate("n => n.scrollWidth <= n.clientWidth + 1"), part
            box, row = node.bounding_box(), item.bounding_box()
            assert box and row and box["x"] + box["width"] <= row["x"] + row["width"], part
        expect(item.locator(".sm-Item-rate")).to_have_text(re.compile(r"^at \$[\d.,]+/h$"))
        assert panel.locator(".sm-Panel-billingTotals").is_visible()
    finally:
        running.stop()


def test_a_kernel_restart_reminds_of_billing_endpoints(page: Any, lab: Any, session: Any) -> None:
    job = helpers.unique_name("restart")
    endpoint = helpers.unique_name("restart-ep")
    session.train(SERVABLE, name=job).wait(120)
    path = write_notebook(lab.root, "restarted.ipynb", ["print('hello')"])
    session.notebook = str(path)  # as the notebook's kernel would record it
    session.deploy(job, endpoint=endpoint)

    open_notebook(page, lab, "restarted.ipynb")
    restart_kernel(page)
    reminder = page.locator(".Toastify__toast", has_text="The kernel of restarted.ipynb restarted")
    expect(reminder).to_contain_text("1 endpoint it made still bills")
    expect(reminder).to_contain_text(endpoint)
    reminder.get_by_role("button", name="Delete…").click()
    dialog = page.locator(".jp-Dialog")
    expect(dialog).to_contain_text(f"Delete endpoint {endpoint}?")
    dialog.get_by_role("button", name="Delete").click()
    open_panel(page)
    expect(endpoint_item(page, endpoint)).to_have_count(0)
