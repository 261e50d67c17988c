"""Side panel: how soon a new training job shows on screen, against the REST API's own floor.

The claim: a user sees a job in the side panel within 2 seconds of ``%%sm_train``. This
starts a real JupyterLab with the UI tests' own ``lab`` fixture (``tests/ui/conftest.py``:
127.0.0.1, a token, temporary root, workspaces and settings folders, ``--allow-root``, and
an ``SM_MAGICS_HOME`` shared with this process), opens the panel in Debian's headless chromium
through Playwright, and lets it sit idle (18 s by default) so its refresh ``Poll`` has
backed off towards its idle minute; only the long poll on ``/changes`` can then make a new
job show quickly. Then, ``--runs`` times:

- start a short local job with ``Session().train("print('hi')")`` from this process (what
  ``%%sm_train`` calls in a kernel);
- panel: from the moment ``train()`` returns to the moment the job's row
  (``li.sm-JobItem[data-name=...]``) is visible in the panel's DOM;
- baseline, same job, measured at the same time from a thread: from the same moment to the
  first ``GET /sm-magics/api/v1/jobs?limit=50`` (the panel's own request), polled back to
  back with the token, that lists the job: the server-side floor;
- the browser's own timings of the panel's requests (``/changes``, then the refresh's
  ``/jobs``, ``/endpoints`` and ``/cost``) say where the panel's time went: the long poll
  waking, the refresh, rendering;
- wait for the job to end, then idle again (10 s by default) so the next run also starts
  from an idle panel.

Prints every run, then median and max of both, the ratio panel/REST, and "median < 2 s" as
a PASS/FAIL line (a benchmark: it never fails on a number). JupyterLab is shut down through
``POST /api/shutdown`` at the end.

Run: ``.venv/bin/python benchmarks/bench_panel.py`` (about 70 s with the defaults;
``--runs``, ``--idle``, ``--between``). Needs /usr/bin/chromium (``make chromium``).
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
import urllib.error
from collections.abc import Iterator
from pathlib import Path
from typing import Any

TESTS = Path(__file__).resolve().parent.parent / "tests"
sys.path.insert(0, str(TESTS))  # reuse the UI tests' server and page helpers

from ui import conftest  # noqa: E402
from ui.labpage import PANEL, job_item, open_panel  # noqa: E402

CLAIM_S = 2.0
SCRIPT = "print('hi')"
API = "sm-magics/api/v1"


class _TempFactory:
    """The one method of pytest's ``TempPathFactory`` the lab fixture uses."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def mktemp(self, name: str) -> Path:
        return Path(tempfile.mkdtemp(prefix=f"{name}-", dir=self.base))


def _start_lab(base: Path) -> Iterator[conftest.Lab]:
    """The UI tests' ``lab`` fixture body: start it, yield it, POST /api/shutdown after."""
    fixture = conftest.lab.__wrapped__  # type: ignore[attr-defined]
    return fixture(None, _TempFactory(base))  # type: ignore[no-any-return]


def _rest_floor(lab: conftest.Lab, name: str, start: float, out: dict[str, Any]) -> None:
    """Poll GET /jobs back to back until it lists ``name``; store the delay and the count."""
    requests = 0
    deadline = start + 60
    while time.perf_counter() < deadline:
        try:
            jobs = lab.api(f"{API}/jobs?limit=50")["jobs"]
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            continue
        finally:
            requests += 1
        if any(job["name"] == name for job in jobs):
            out["seconds"] = time.perf_counter() - start
            break
    out["requests"] = requests


def _browser_timeline(finished: list[Any], since_wall: float) -> str:
    """The panel's requests that ended after ``since_wall``: start..end, ms after it."""
    parts = []
    for request in finished:
        url = request.url
        if f"/{API}/" not in url:
            continue
        timing = request.timing
        start_ms = timing["startTime"] - since_wall * 1000
        end_ms = start_ms + max(timing["responseEnd"], 0)
        if end_ms < 0:
            continue
        route = url.split(f"/{API}/", 1)[1].split("?", 1)[0]
        parts.append(f"{route} {start_ms:.0f}..{end_ms:.0f}")
    return ", ".join(parts) or "no panel request ended"


def bench(runs: int, idle: float, between: float) -> None:
    from playwright.sync_api import sync_playwright

    from sm_magics.api import Session

    with tempfile.TemporaryDirectory(prefix="bench-panel-") as tmp:
        lab_steps = _start_lab(Path(tmp))
        lab = next(lab_steps)
        # This process starts the jobs: same home as the server, quick stops.
        os.environ["SM_MAGICS_HOME"] = str(lab.home)
        os.environ["SM_MAGICS_STOP_GRACE"] = "1"
        session = Session()
        panel_s: list[float] = []
        rest_s: list[float] = []
        try:
            with sync_playwright() as playwright:
                browser = playwright.chromium.launch(
                    executable_path=str(conftest.CHROMIUM),
                    headless=True,
                    args=conftest.CHROMIUM_ARGS,
                )
                context = browser.new_context(viewport=conftest.VIEWPORT)
                context.set_default_timeout(conftest.UI_TIMEOUT_MS)
                page = context.new_page()
                finished: list[Any] = []
                page.on("requestfinished", lambda request: finished.append(request))
                page.goto(lab.lab_url())
                page.locator("#jp-main-dock-panel").wait_for()
                open_panel(page)
                page.locator(f"{PANEL} .sm-Panel-billing").wait_for()
                print(f"panel open; idle {idle:.0f} s so its Poll backs off ...", flush=True)
                page.wait_for_timeout(idle * 1000)

                for run in range(1, runs + 1):
                    finished.clear()
                    name = f"bench-panel-{run}-{os.getpid()}"
                    job = session.train(SCRIPT, name=name)
                    start = time.perf_counter()
                    start_wall = time.time()
                    rest: dict[str, Any] = {}
                    poller = threading.Thread(
                        target=_rest_floor, args=(lab, name, start, rest), daemon=True
                    )
                    poller.start()
                    job_item(page, name).wait_for(state="visible")
                    panel = time.perf_counter() - start
                    poller.join(60)
                    panel_s.append(panel)
                    rest_s.append(rest.get("seconds", float("nan")))
                    page.wait_for_timeout(100)  # let the last requestfinished events arrive
                    print(
                        f"run {run}: panel {panel * 1000:6.0f} ms, REST "
                        f"{rest_s[-1] * 1000:5.0f} ms ({rest.get('requests', '?')} GETs); "
                        f"panel requests (ms): {_browser_timeline(finished, start_wall)}",
                        flush=True,
                    )
                    job.wait(60)
                    if run < runs:
                        page.wait_for_timeout(between * 1000)
                context.close()
                browser.close()
        finally:
            session.ledger.close()
            next(lab_steps, None)  # POST /api/shutdown, wait for the server to exit

    _report(panel_s, rest_s)


def _report(panel_s: list[float], rest_s: list[float]) -> None:
    def line(what: str, samples: list[float]) -> str:
        median, worst = statistics.median(samples), max(samples)
        return f"{what:<21} median {median * 1000:6.0f} ms, max {worst * 1000:6.0f} ms"

    panel_med, rest_med = statistics.median(panel_s), statistics.median(rest_s)
    print()
    print(f"runs: {len(panel_s)}  (Python {platform.python_version()}, {os.cpu_count()} CPUs)")
    print(line("panel shows the job:", panel_s))
    print(line("REST lists the job:", rest_s))
    print(
        f"ratio panel/REST:     median {panel_med / rest_med:.1f}x, "
        f"max {max(panel_s) / max(rest_s):.1f}x"
    )
    verdict = "PASS" if panel_med < CLAIM_S else "FAIL"
    print(f"{verdict}: panel median {panel_med:.2f} s < {CLAIM_S:.0f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=5, help="jobs to start (default 5)")
    parser.add_argument(
        "--idle", type=float, default=18, help="idle seconds before the first job (default 18)"
    )
    parser.add_argument(
        "--between", type=float, default=10, help="idle seconds between jobs (default 10)"
    )
    args = parser.parse_args()
    if not conftest.CHROMIUM.exists():
        sys.exit(f"needs Debian's chromium at {conftest.CHROMIUM} (`make chromium`)")
    bench(args.runs, args.idle, args.between)


if __name__ == "__main__":
    main()
