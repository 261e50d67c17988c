"""The notebooks as a user sees them: run cell by cell in JupyterLab, in chromium.

Every rendered output is looked at, not only ``text/plain`` (which is all nbval compares):
no "Error displaying widget", no MathJax element inside our outputs (JupyterLab typesets
text between two ``$`` signs as maths, which once garbled ``%sm_cost``), and dollar
amounts present; then again in the dark theme. A ``%sm_cost`` cell is appended to the
serving notebook while its endpoint bills, the case that was garbled. With
``SM_MAGICS_SCREENSHOTS=1`` the cells the README shows (:data:`SHOTS`: ``%sm_cost``,
``%sm_endpoints``, ``%sm_jobs``) are saved to docs/images/, each cropped to its cell, in
both themes.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import nbformat
import pytest
from playwright.sync_api import Locator, Page, expect

from ui.labpage import open_notebook

pytestmark = pytest.mark.slow

NOTEBOOKS = Path(__file__).resolve().parents[2] / "notebooks"
IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
SCREENSHOTS = os.environ.get("SM_MAGICS_SCREENSHOTS") == "1"
#: A cell may train or deploy with --wait: generous, only against hangs.
CELL_TIMEOUT_MS = 240_000
MATH = "mjx-container, .MathJax, .MathJax_Display, mjx-math"
#: The README's images: per notebook, the first cell whose source starts with a key is saved
#: as ``docs/images/<value>-light.png`` / ``-dark.png`` (the cell: its command and output).
SHOTS = {
    "serving.ipynb": {"%sm_cost": "cost", "%sm_endpoints": "endpoints"},
    "quickstart.ipynb": {"%sm_jobs": "jobs"},
    # an overlaid chart: the runs compared
    "registry.ipynb": {"%sm_compare": "compare"},
}


def _copy_notebook(lab: Any, name: str, extra: dict[int, str] | None = None) -> str:
    """Copy a notebook into the lab's root, inserting ``{index: source}`` code cells."""
    notebook = nbformat.read(NOTEBOOKS / name, as_version=4)
    for index, source in sorted((extra or {}).items(), reverse=True):
        notebook.cells.insert(index, nbformat.v4.new_code_cell(source))
    target = f"ui-{name}"
    nbformat.write(notebook, lab.root / target)
    return target


def _check_outputs(cell: Locator) -> str:
    """Assert the cell's rendered outputs look right; return their visible text."""
    texts = []
    for output in cell.locator(".jp-OutputArea-output").all():
        text = output.inner_text()
        assert "Error displaying widget" not in text, text
        assert output.locator(MATH).count() == 0, f"MathJax typeset an output: {text[:300]}"
        texts.append(text)
    return "\n".join(texts)


def _run_code_cells(page: Page, notebook: Locator) -> list[str]:
    """Run every code cell in order (Shift+Enter), checking each one's outputs."""
    cells = notebook.locator(".jp-CodeCell")
    texts = []
    for index in range(cells.count()):
        cell = cells.nth(index)
        cell.locator(".jp-InputArea-editor").click()
        page.keyboard.press("Shift+Enter")
        expect(cell.locator(".jp-InputArea-prompt")).to_have_text(
            re.compile(r"\[\d+\]"), timeout=CELL_TIMEOUT_MS
        )
        source = cell.locator(".jp-InputArea-editor").inner_text()
        error = cell.locator(
            ".jp-OutputArea-output[data-mime-type='application/vnd.jupyter.stderr']"
        )
        assert "Traceback" not in "\n".join(error.all_inner_texts()), source
        texts.append(_check_outputs(cell))
    return texts


def _save_shots(notebook: Locator, name: str, theme: str) -> None:
    """Save the cells :data:`SHOTS` names for notebook ``name``, cropped to each cell."""
    cells = notebook.locator(".jp-CodeCell")
    sources = [
        cells.nth(i).locator(".jp-InputArea-editor").inner_text() for i in range(cells.count())
    ]
    IMAGES.mkdir(parents=True, exist_ok=True)
    for prefix, stem in SHOTS.get(name, {}).items():
        index = next(i for i, source in enumerate(sources) if source.startswith(prefix))
        cell = cells.nth(index)
        cell.scroll_into_view_if_needed()
        # The mouse off the tables: Lab highlights the row under it.
        cell.locator(".jp-InputPrompt").hover()
        cell.screenshot(path=str(IMAGES / f"{stem}-{theme}.png"), animations="disabled")


def _use_theme(page: Page, lab: Any, theme: str | None) -> None:
    raw = json.dumps({"theme": theme} if theme else {})
    lab.api(
        "lab/api/settings/@jupyterlab/apputils-extension:themes", method="PUT", body={"raw": raw}
    )


def _menu_theme(page: Page, theme: str) -> None:
    """Pick a theme from the Settings menu, as a user does (applies without a reload)."""
    page.locator(".lm-MenuBar-itemLabel", has_text="Settings").click()
    page.locator(".lm-Menu-itemLabel", has_text="Theme").first.hover()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(f"^{re.escape(theme)}$")).click()


def _not_modified(page: Page) -> None:
    """The notebook's tab is not marked modified once its kernel is up (G-issue 14)."""
    page.wait_for_timeout(1500)  # the kernel's info reply is where metadata would change
    tab = page.locator(".jp-mod-current.lm-TabBar-tab").filter(has_text=".ipynb")
    expect(tab).not_to_have_class(re.compile("jp-mod-dirty"))


@pytest.mark.timeout(900)  # a whole notebook, cell by cell, twice looked at
@pytest.mark.parametrize(
    ("name", "extra"),
    [
        ("quickstart.ipynb", {}),
        # %sm_cost while the endpoint bills: "Billing now: $0.12/hour, ... ($0.12/h ...)".
        ("serving.ipynb", {-3: "%sm_cost"}),
        # processing jobs' widgets (outputs named, several hosts) and %sm_jobs with costs
        ("processing.ipynb", {}),
        # the tuning widget (trials table, charts) and the registry's tables and lineage
        ("tuning.ipynb", {}),
        ("registry.ipynb", {}),
    ],
)
def test_notebook_outputs_in_light_and_dark(
    page: Page, lab: Any, name: str, extra: dict[int, str]
) -> None:
    source = nbformat.read(NOTEBOOKS / name, as_version=4)
    inserts = {len(source.cells) + i if i < 0 else i: cell for i, cell in extra.items()}
    target = _copy_notebook(lab, name, inserts)
    try:
        notebook = open_notebook(page, lab, target)
        _not_modified(page)
        if SCREENSHOTS:  # the outputs at full width, as the README shows them
            page.keyboard.press("Control+b")
            expect(page.locator("#jp-left-stack")).to_be_hidden()
        texts = _run_code_cells(page, notebook)
        everything = "\n".join(texts)
        assert re.search(r"\$\d", everything), "no dollar amount in any output"
        if "%sm_cost" in json.dumps(extra):
            cost = next(t for t in texts if "Billing now" in t)
            assert re.search(r"Billing now: \$[\d.,]+/hour", cost), cost
        if SCREENSHOTS:
            _save_shots(notebook, name, "light")

        # The same outputs in the dark theme, switched from the menu (no reload).
        try:
            _menu_theme(page, "JupyterLab Dark")
            expect(page.locator("body")).to_have_attribute("data-jp-theme-name", "JupyterLab Dark")
            page.wait_for_timeout(1000)  # the theme's CSS applies; outputs re-style
            cells = notebook.locator(".jp-CodeCell")
            dark = [_check_outputs(cells.nth(i)) for i in range(cells.count())]
            assert re.search(r"\$\d", "\n".join(dark))
            if SCREENSHOTS:
                _save_shots(notebook, name, "dark")
        finally:
            _use_theme(page, lab, None)  # the server's setting: the next page is light
    finally:
        lab.api("api/sessions")  # the server is still up
