"""Page helpers for the UI tests and the screenshot script: the panel, notebooks, waits."""

from __future__ import annotations

import re
import time
from pathlib import Path
from typing import Any

import nbformat
from playwright.sync_api import Locator, Page, expect

from sm_magics.ledger_records import JobRecord

#: A trained model that can be served: the training script holds the inference handlers.
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


PANEL = "#sm-magics-panel"
PANEL_TAB = '.jp-SideBar.jp-mod-left .lm-TabBar-tab[data-id="sm-magics-panel"]'


def open_panel(page: Page) -> Locator:
    """Show the side panel (its tab in the left side bar) and return it."""
    panel = page.locator(PANEL)
    # A restored layout may show the panel just after the check: a click then hides it
    # again, so look again after each click.
    for _ in range(3):
        if panel.is_visible():
            break
        page.locator(PANEL_TAB).click()
        try:
            expect(panel).to_be_visible(timeout=5000)
        except AssertionError:
            continue
    expect(panel).to_be_visible()
    return panel


def job_item(page: Page, name: str) -> Locator:
    """The panel's row of training job ``name``."""
    return page.locator(f'{PANEL} li.sm-JobItem[data-name="{name}"]')


def endpoint_item(page: Page, name: str) -> Locator:
    """The panel's row of endpoint ``name``."""
    return page.locator(f'{PANEL} li.sm-EndpointItem[data-name="{name}"]')


def write_notebook(folder: Path, name: str, cells: list[str]) -> Path:
    """Write a notebook of code cells into the lab's root folder."""
    notebook = nbformat.v4.new_notebook()
    notebook.cells = [nbformat.v4.new_code_cell(source) for source in cells]
    notebook.metadata["kernelspec"] = {
        "name": "python3",
        "display_name": "Python 3 (ipykernel)",
        "language": "python",
    }
    path = folder / name
    nbformat.write(notebook, path)
    return path


def open_notebook(page: Page, lab: Any, name: str) -> Locator:
    """Open a notebook of the lab's root and wait until its kernel is idle (G10)."""
    page.goto(lab.lab_url(f"lab/tree/{name}"))
    notebook = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook")
    expect(notebook).to_be_visible()
    wait_kernel_idle(page)
    return notebook


def wait_kernel_idle(page: Page) -> None:
    """Wait for the status bar's "| Idle" (the execution indicator can say idle too early)."""
    expect(page.locator("#jp-main-statusbar")).to_contain_text(re.compile(r"\|\s*Idle"))


def run_cell(page: Page, notebook: Locator, index: int) -> None:
    """Run cell ``index`` (Shift+Enter in its editor) and wait until it has been run."""
    cell = notebook.locator(".jp-Cell").nth(index)
    cell.locator(".jp-InputArea-editor").click()
    page.keyboard.press("Shift+Enter")
    expect(cell.locator(".jp-InputArea-prompt")).to_have_text(re.compile(r"\[\d+\]"))


def seed_jobs(session: Any, lab: Any, count: int) -> list[str]:
    """Insert ``count`` finished jobs of three notebooks into the lab's ledger."""
    now = time.time()
    names = []
    for i in range(count):
        notebook = lab.root / f"team-{'abc'[i % 3]}.ipynb"
        name = f"sm-train-2026-12-01-08-{i // 60:02d}-{i % 60:02d}-{i:03d}"
        failed = i % 7 == 0
        session.ledger.insert_job(
            JobRecord(
                name=name,
                backend="local",
                kind="transform" if i % 10 == 5 else "training",
                status="Failed" if failed else "Completed",
                created_at=now - 20_000 + i,
                started_at=now - 20_000 + i,
                ended_at=now - 19_000 + i,
                instance_type="ml.m5.large",
                notebook=str(notebook),
                failure_reason=(
                    'AlgorithmError: ExecuteUserScriptError:\nExitCode 1\nErrorMessage "'
                    'ValueError: bad learning rate"\nCommand "python train.py", exit code: 1'
                )
                if failed
                else None,
            )
        )
        names.append(name)
    return names


def set_panel_width(page: Page, width: int) -> None:
    """Drag the handle between the left area and the main area until the panel is ``width``."""
    panel = page.locator(PANEL)
    for _ in range(3):
        box = panel.bounding_box()
        handle = page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first.bounding_box()
        assert box and handle
        if abs(box["width"] - width) <= 2:
            return
        x, y = handle["x"] + handle["width"] / 2, handle["y"] + handle["height"] / 2
        page.mouse.move(x, y)
        page.mouse.down()
        page.mouse.move(x + width - box["width"], y, steps=5)
        page.mouse.up()
    box = panel.bounding_box()
    assert box and abs(box["width"] - width) <= 2, box


def restart_kernel(page: Page) -> None:
    """Restart the notebook's kernel from the Kernel menu, confirming Lab's dialog."""
    page.locator(".lm-MenuBar-itemLabel", has_text=re.compile("^Kernel$")).click()
    page.locator(".lm-Menu-itemLabel", has_text=re.compile(r"^Restart Kernel…$")).click()
    page.locator(".jp-Dialog .jp-Dialog-button.jp-mod-accept").click()
