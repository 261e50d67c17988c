"""The side panel with 200 jobs from three notebooks: still readable.

Endpoints (what bills) come first and are visible without scrolling; the notebook in focus
lists its own jobs first and the other notebooks' sit in a collapsed group; transforms
have their own section; generated names that differ only at their end stay apart; the
search box finds one job among all; a group shows a page of rows and "Show more".
"""

from __future__ import annotations

from typing import Any

import helpers
import pytest
from playwright.sync_api import expect

from ui.labpage import (
    SERVABLE,
    endpoint_item,
    open_notebook,
    open_panel,
    seed_jobs,
    write_notebook,
)

pytestmark = pytest.mark.slow

PAGE_SIZE = 25  # labextension/src/panel.ts PAGE_SIZE


def test_panel_with_200_jobs_from_three_notebooks(page: Any, lab: Any, session: Any) -> None:
    names = seed_jobs(session, lab, 200)
    job = helpers.unique_name("scale")
    endpoint = helpers.unique_name("scale-ep")
    session.train(SERVABLE, name=job).wait(120)
    session.deploy(job, endpoint=endpoint)
    write_notebook(lab.root, "team-a.ipynb", ["%load_ext sm_magics"])
    open_notebook(page, lab, "team-a.ipynb")
    panel = open_panel(page)

    # The endpoint first, in view without scrolling.
    item = endpoint_item(page, endpoint)
    expect(item.locator(".sm-Item-status")).to_have_text("InService")
    box, viewport = item.bounding_box(), page.viewport_size
    assert box and viewport and box["y"] + box["height"] <= viewport["height"]

    training = panel.locator(".sm-Panel-kind-training")
    here = training.locator('.sm-Panel-group[data-group="here"]')
    others = training.locator('.sm-Panel-group[data-group="others"]')
    expect(here).to_have_attribute("data-collapsed", "false")
    expect(others).to_have_attribute("data-collapsed", "true")
    expect(others.locator("li.sm-JobItem")).to_have_count(0)
    # A page of this notebook's jobs, and the way to the rest.
    expect(here.locator("li.sm-JobItem")).to_have_count(PAGE_SIZE)
    expect(here.locator(".sm-Panel-more")).to_contain_text("Show 25 more")

    # Names shortened in the middle stay distinguishable, and the full name is a hover away.
    shown = here.locator(".sm-Item-name").all_inner_texts()
    assert len(set(shown)) == len(shown), shown
    first = here.locator("li.sm-JobItem").first
    full = first.get_attribute("data-name")
    assert full and first.locator(".sm-Item-name").get_attribute("title", timeout=5000)
    assert full in (first.locator(".sm-Item-name").get_attribute("title") or "")

    # A failed job says why (the exception, not the exit code).
    failed = here.locator('li.sm-JobItem[data-status="Failed"]').first
    expect(failed.locator(".sm-Item-reason")).to_have_text("ValueError: bad learning rate")

    # Transforms in a section of their own.
    expect(panel.locator(".sm-Panel-kind-transform")).to_be_visible()

    # The search box finds one job among all (expanding the collapsed group).
    target = names[124]  # team-b: in the collapsed group
    panel.locator(".sm-Panel-search").fill(target)
    expect(panel.locator(f'li.sm-JobItem[data-name="{target}"]')).to_be_visible()
    expect(panel.locator("li.sm-JobItem")).to_have_count(1)
    panel.locator(".sm-Panel-search").fill("")
    expect(here.locator("li.sm-JobItem")).to_have_count(PAGE_SIZE)

    # "Show more" adds a page.
    here.locator(".sm-Panel-more").click()
    expect(here.locator("li.sm-JobItem")).to_have_count(2 * PAGE_SIZE)
