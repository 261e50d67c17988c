"""The README's widget screenshots, taken from a real JupyterLab (skipped unless asked for).

``SM_MAGICS_SCREENSHOTS=1 pytest tests/ui/test_widget_screenshots.py`` (or ``make
screenshots``) writes docs/images/job-widget.png (a completed job with its metric charts
and Deploy, a failed one with its exception), docs/images/endpoint-widget.png (an
endpoint of two instances after some traffic) and docs/images/tuning-widget.png (a tuning
job's trials, best-so-far curve and per-trial curves), each a notebook as a user sees it.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from ui.conftest import UI_TIMEOUT_MS
from ui.labpage import SERVABLE, open_notebook, run_cell, write_notebook

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("SM_MAGICS_SCREENSHOTS") != "1",
        reason="screenshots are made on request: SM_MAGICS_SCREENSHOTS=1 (make screenshots)",
    ),
]

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"
VIEWPORT = {"width": 1280, "height": 1300}

TRAIN = (
    (
        "%%sm_train look-demo --hp epochs=30 -i ml.g5.xlarge "
        "--metric loss=loss=([0-9.]+) --metric acc=acc=([0-9.]+)\n"
    )
    + """\
import argparse, math, os, random, time
from pathlib import Path

parser = argparse.ArgumentParser()
parser.add_argument("--epochs", type=int)
args = parser.parse_args()
for epoch in range(args.epochs):
    loss = math.exp(-epoch / 8) + random.random() * 0.05
    print(f"epoch {epoch} loss={loss:.4f} acc={1 - math.exp(-epoch / 6):.4f}", flush=True)
    time.sleep(0.2)
Path(os.environ["SM_MODEL_DIR"], "model.txt").write_text("trained")
"""
)

FAIL = """\
%%sm_train look-fail -i ml.m5.large
print("reading train.csv", flush=True)
raise ValueError("labels column missing in train.csv")
"""


TUNE = (
    (
        "%%sm_tune look-tune --objective score --maximize --metric score=score=([0-9.]+) "
        "--range lr=0.01:1.0 --range depth=1..6 --max-jobs 6 --max-parallel 2 --seed 3\n"
    )
    + """\
import argparse, time
parser = argparse.ArgumentParser()
parser.add_argument("--lr", type=float)
parser.add_argument("--depth", type=int)
args = parser.parse_args()
score = 0.0
for step in range(8):
    score += args.lr * (1 - score) * args.depth / 6
    print(f"step {step} score={score:.4f}", flush=True)
    time.sleep(0.1)
"""
)


def _open(page: Page, lab: Any, name: str) -> Locator:
    """Open a notebook with the left side bar collapsed (the outputs at full width)."""
    notebook = open_notebook(page, lab, name)
    page.keyboard.press("Control+b")
    expect(page.locator("#jp-left-stack")).to_be_hidden()
    return notebook


def _shoot(page: Page, name: str) -> None:
    """Save docs/images/NAME: the notebook down to its last output, no cursor in it."""
    page.keyboard.press("Escape")  # command mode: no blinking cursor in the picture
    page.keyboard.press("Control+s")
    panel = page.locator(".jp-NotebookPanel:not(.lm-mod-hidden)")
    # From the notebook's top: Shift+Enter on the last cell may have scrolled it down,
    # and the picture then began mid-chart.
    panel.locator(".jp-WindowedPanel-outer").evaluate("node => { node.scrollTop = 0; }")
    page.wait_for_timeout(300)
    box = panel.bounding_box()
    empty = panel.locator(".jp-Cell").last.bounding_box()  # the new cell Shift+Enter made
    assert box is not None and empty is not None
    clip = {"x": box["x"], "y": box["y"], "width": box["width"], "height": empty["y"] - box["y"]}
    page.screenshot(path=str(IMAGES / name), clip=clip)


def test_widget_screenshots(browser: Any, lab: Any, session: Any) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    context = browser.new_context(viewport=VIEWPORT)
    context.set_default_timeout(UI_TIMEOUT_MS)
    expect.set_options(timeout=UI_TIMEOUT_MS)
    page = context.new_page()
    try:
        page.goto(lab.lab_url())
        page.locator("#jp-main-dock-panel").wait_for()
        write_notebook(lab.root, "look.ipynb", ["%load_ext sm_magics", TRAIN, FAIL])
        notebook = _open(page, lab, "look.ipynb")
        for index in range(3):
            run_cell(page, notebook, index)
        outputs = notebook.locator(".jp-Cell .jp-OutputArea-output")
        expect(outputs.nth(0)).to_contain_text("Completed", timeout=120_000)
        expect(outputs.nth(0).get_by_role("button", name="Deploy")).to_be_visible()
        expect(outputs.nth(1)).to_contain_text("ValueError: labels column missing")
        expect(outputs.nth(1)).to_contain_text("Failed")
        _shoot(page, "job-widget.png")

        write_notebook(
            lab.root,
            "serve.ipynb",
            [
                "%load_ext sm_magics",
                "%%sm_train demo-model -i ml.c5.xlarge -o job\n" + SERVABLE,
                "%sm_deploy {job.name} -e demo-endpoint -n 2 -i ml.c5.large --ttl 2h",
                "for _ in range(40):\n"
                "    _ = %sm_invoke demo-endpoint [[1, 1], [0, 0]]\n"
                "%sm_invoke demo-endpoint [[1, 1], [0, 0]]",
            ],
        )
        notebook = _open(page, lab, "serve.ipynb")
        run_cell(page, notebook, 0)
        run_cell(page, notebook, 1)
        trained = notebook.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
        expect(trained).to_contain_text("Completed", timeout=120_000)
        run_cell(page, notebook, 2)
        endpoint = notebook.locator(".jp-Cell").nth(2).locator(".jp-OutputArea-output")
        expect(endpoint).to_contain_text("InService", timeout=120_000)
        run_cell(page, notebook, 3)
        expect(endpoint.locator("td", has_text=re.compile(r"^41$"))).to_be_visible()
        _shoot(page, "endpoint-widget.png")

        write_notebook(lab.root, "tune.ipynb", ["%load_ext sm_magics", TUNE])
        notebook = _open(page, lab, "tune.ipynb")
        run_cell(page, notebook, 0)
        run_cell(page, notebook, 1)
        tuned = notebook.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
        expect(tuned).to_contain_text("6/6 trials", timeout=240_000)
        expect(tuned.locator("svg")).to_have_count(2)  # best so far; per-trial curves
        notebook.locator(".jp-Cell").nth(1).locator(".jp-InputArea").evaluate(
            "node => { node.style.display = 'none'; }"  # the picture is the widget
        )
        _shoot(page, "tuning-widget.png")
    finally:
        context.close()
