"""The README's screenshots, taken from a real JupyterLab (skipped unless asked for).

``SM_MAGICS_SCREENSHOTS=1 pytest tests/ui/test_screenshots.py`` (or ``make screenshots``)
writes docs/images/panel-light.png, panel-dark.png, panel-models.png and notebook-widget.png.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import expect

from ui.conftest import VIEWPORT
from ui.labpage import (
    PANEL,
    SERVABLE,
    endpoint_item,
    job_item,
    open_notebook,
    open_panel,
    run_cell,
    seed_jobs,
    set_panel_width,
    write_notebook,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        os.environ.get("SM_MAGICS_SCREENSHOTS") != "1",
        reason="screenshots are made on request: SM_MAGICS_SCREENSHOTS=1 (make screenshots)",
    ),
]

IMAGES = Path(__file__).resolve().parents[2] / "docs" / "images"

TRAIN_CELL = """\
%%sm_train churn-xgb-demo -i ml.m5.xlarge --metric loss=loss=([0-9.]+) --hp epochs=60
import math
import time

for epoch in range(60):
    loss = 0.08 + math.exp(-epoch / 9)
    print(f"epoch {epoch:2d} loss={loss:.4f}", flush=True)
    time.sleep(0.5)
"""

RUNNING = """\
import time

for step in range(100000):
    print(f"step {step}", flush=True)
    time.sleep(1)
"""

FAILING = """\
import pandas_that_is_not_installed
"""

#: Data preparation: the training job's input is this job's output (lineage shows it).
PREP = """\
import shutil
import sys

shutil.copytree(sys.argv[1], sys.argv[2], dirs_exist_ok=True)
"""

#: A servable model that reports its accuracy (the registry shows the metric).
SERVABLE_SCORED = SERVABLE.replace(
    'if __name__ == "__main__":\n',
    'if __name__ == "__main__":\n    print("accuracy=0.953", flush=True)\n',
)


def _use_theme(page: Any, lab: Any, theme: str | None) -> None:
    """Set the theme (None: the default) as a user setting, then reload the page.

    Through the settings API rather than the palette: the palette's closing overlay dims
    whatever is shot right after it.
    """
    raw = json.dumps({"theme": theme} if theme else {})
    lab.api(
        "lab/api/settings/@jupyterlab/apputils-extension:themes", method="PUT", body={"raw": raw}
    )
    page.reload()
    expect(page.locator("body")).to_have_attribute(
        "data-jp-theme-name", theme or "JupyterLab Light"
    )
    open_panel(page)
    expect(endpoint_item(page, "iris")).to_be_visible()


def _panel_shot(page: Any, path: Path) -> None:
    set_panel_width(page, 300)  # both themes at one width (Lab keeps a dragged width)
    page.mouse.move(700, 450)  # off the handle and the rows (no hover highlight)
    sidebar = page.locator(".jp-SideBar.jp-mod-left").bounding_box()
    panel = page.locator(PANEL).bounding_box()
    assert sidebar and panel
    # From below Lab's menu bar (cropped at the panel's edge it read "Se" for Settings),
    # down to the end of the last row that fits in 560 px (not through a failure's text).
    top = sidebar["y"]
    rows = page.locator(f"{PANEL} li").all()
    ends = [b["y"] + b["height"] for b in (r.bounding_box() for r in rows) if b]
    bottom = max((end for end in ends if end <= top + 560), default=top + 560)
    page.screenshot(
        path=str(path),
        clip={"x": 0, "y": top, "width": panel["x"] + panel["width"] + 1, "height": bottom - top},
    )


def _registry(session: Any, lab: Any) -> None:
    """Prepared data, a scored model registered twice (one approved), served from the registry."""
    raw = lab.root / "data" / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    (raw / "iris.csv").write_text("5.1,3.5,1.4,0.2,0\n6.2,2.9,4.3,1.3,1\n")
    prep = session.process(
        PREP,
        name="iris-prep",
        inputs={str(raw): "input/raw"},
        outputs={"train": "output/train"},
        arguments=["/opt/ml/processing/input/raw", "/opt/ml/processing/output/train"],
    )
    prep.wait(120)
    session.train(
        SERVABLE_SCORED,
        name="iris-logreg",
        instance_type="ml.m5.large",
        inputs={"train": prep.outputs.train},
        hyperparameters={"C": 1.0},
        metric_definitions={"accuracy": r"accuracy=([0-9.]+)"},
    ).wait(120)
    session.register(
        "iris-logreg", group="iris-classifier", approval="approve", description="C=1, 2 features"
    )
    session.register("iris-logreg", group="iris-classifier", description="candidate")
    session.register("iris-logreg", group="churn-classifier")
    session.deploy("iris-classifier", endpoint="iris", instance_type="ml.m5.large")


def _models_shot(page: Any, path: Path) -> None:
    """The registry opened and the endpoint's lineage, in a narrow panel."""
    panel = page.locator(PANEL)
    set_panel_width(page, 300)
    group = panel.locator('.sm-Panel-group[data-group="group:iris-classifier"]')
    group.locator(".sm-Panel-groupHeading").click()
    expect(group.locator("li.sm-ModelItem")).to_have_count(2)
    item = endpoint_item(page, "iris")
    item.locator(".sm-Lineage-toggle").click()
    expect(item.locator('.sm-Lineage-body [data-kind="processing job"]')).to_be_visible()
    page.mouse.move(700, 450)  # no hover highlight on a row
    box = panel.bounding_box()
    # Down to the end of a row (the pending version, its Approve and Reject), not mid-row.
    last = group.locator("li.sm-ModelItem").first.bounding_box()
    assert box and last
    page.screenshot(
        path=str(path),
        clip={
            "x": 0,
            "y": box["y"],  # below Lab's menu bar, as the panel's other images
            "width": box["x"] + box["width"] + 1,
            "height": min(last["y"] + last["height"] + 1, box["y"] + box["height"]) - box["y"],
        },
    )
    item.locator(".sm-Lineage-toggle").click()
    group.locator(".sm-Panel-groupHeading").click()


def test_screenshots(page: Any, browser: Any, lab: Any, session: Any) -> None:
    IMAGES.mkdir(parents=True, exist_ok=True)
    # Many finished jobs from three notebooks: the panel as it looks after weeks of work.
    seed_jobs(session, lab, 120)
    _registry(session, lab)
    failed = session.train(FAILING, name="bert-sentiment", instance_type="ml.g5.2xlarge")
    running = session.train(
        RUNNING, name="resnet50-finetune", instance_type="ml.g5.xlarge", instance_count=2
    )
    failed.wait(120)
    try:
        # A notebook with a job running in it, the panel beside it.
        write_notebook(lab.root, "train.ipynb", ["%load_ext sm_magics", TRAIN_CELL])
        notebook = open_notebook(page, lab, "train.ipynb")
        open_panel(page)
        run_cell(page, notebook, 0)
        run_cell(page, notebook, 1)
        # This notebook's job is listed first; the others sit in the collapsed group.
        expect(job_item(page, "churn-xgb-demo")).to_be_visible()
        expect(endpoint_item(page, "iris").locator(".sm-Item-status")).to_have_text("InService")
        widget = notebook.locator(".jp-Cell").nth(1).locator(".jp-OutputArea-output")
        expect(widget).to_contain_text(re.compile(r"epoch 1[4-9]"))
        page.locator(".jp-Cell").nth(1).locator(".jp-InputArea-editor").click()
        page.screenshot(path=str(IMAGES / "notebook-widget.png"))

        expect(job_item(page, "churn-xgb-demo").locator(".sm-Item-status")).to_have_text(
            "Completed", timeout=120_000
        )
        # The panel alone, at twice the pixels, in a page of its own (no toasts).
        context = browser.new_context(viewport=VIEWPORT, device_scale_factor=2)
        panel_page = context.new_page()
        try:
            panel_page.goto(lab.lab_url())
            _use_theme(panel_page, lab, "JupyterLab Light")
            _panel_shot(panel_page, IMAGES / "panel-light.png")
            _models_shot(panel_page, IMAGES / "panel-models.png")
            _use_theme(panel_page, lab, "JupyterLab Dark")
            _panel_shot(panel_page, IMAGES / "panel-dark.png")
        finally:
            # The theme is a user setting of the session's server: put it back.
            _use_theme(panel_page, lab, None)
            context.close()
    finally:
        running.stop()
