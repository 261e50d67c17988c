"""Benchmarks of the local training spine, each against a baseline measured in the same run.

1. Kernel weight: ``%load_ext sm_magics`` in a fresh interpreter vs ``import sagemaker``
   (the SageMaker Python SDK, in ``benchmarks/.venv-sagemaker``, created on first run) and
   vs ``import boto3``.
2. Back at the prompt: ``%%sm_train`` through a real ``InteractiveShell`` vs
   ``subprocess.Popen`` of the same script (the least a kernel does to run it elsewhere).
3. First user line: from ``%%sm_train`` to the follower delivering the script's first line,
   vs a bare ``python -c pass``.
4. Log latency: p50/p95 from a line's write to its delivery by the adaptive ``LogFollower``,
   vs a fixed 5 s poll (SDK v3's ``TrainingJob.wait(poll=5)``) on the same job.
5. Completeness: a job printing 100,000 lines; every line delivered once, in order.

Run: ``.venv/bin/python benchmarks/bench_spine.py`` (about 2 minutes; the first run also
installs ``sagemaker<3`` into its own venv); ``--first-line`` runs figures 2 and 3 only.
"""

from __future__ import annotations

import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPEATS = 7
HERE = Path(__file__).resolve().parent
SDK_VENV = HERE / ".venv-sagemaker"


def _median_seconds(
    command: list[str], env: dict[str, str] | None = None, repeats: int = REPEATS
) -> float:
    samples = []
    for _ in range(repeats):
        start = time.perf_counter()
        subprocess.run(command, check=True, capture_output=True, env=env)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def _sdk_python() -> str | None:
    python = SDK_VENV / "bin" / "python"
    if not python.exists():
        print("   installing sagemaker<3 into benchmarks/.venv-sagemaker (once) ...")
        subprocess.run([sys.executable, "-m", "venv", str(SDK_VENV)], check=True)
        done = subprocess.run(
            [str(python), "-m", "pip", "install", "-q", "sagemaker<3"], capture_output=True
        )
        if done.returncode != 0:
            print("   could not install sagemaker:", done.stderr.decode()[-300:])
            return None
    return str(python)


def bench_import() -> None:
    load_ext = (
        "from IPython.core.interactiveshell import InteractiveShell as S;"
        "S.instance().run_line_magic('load_ext', 'sm_magics')"
    )
    ipython_only = "from IPython.core.interactiveshell import InteractiveShell as S; S.instance()"
    bare = _median_seconds([sys.executable, "-c", "pass"])
    base = _median_seconds([sys.executable, "-c", ipython_only])
    ours = _median_seconds([sys.executable, "-c", load_ext]) - base
    boto = _median_seconds([sys.executable, "-c", "import boto3"]) - bare
    line = (
        f"1. %load_ext sm_magics adds {ours * 1000:.0f} ms (budget 150 ms); "
        f"import boto3 {boto * 1000:.0f} ms -> ratio {ours / boto:.2f}"
    )
    sdk = _sdk_python()
    if sdk is not None:
        env = {**os.environ, "SAGEMAKER_SUPPRESS_V2_WARNING": "1"}
        sdk_bare = _median_seconds([sdk, "-c", "pass"], env)
        sdk_import = _median_seconds([sdk, "-c", "import sagemaker"], env) - sdk_bare
        line += f"; import sagemaker {sdk_import * 1000:.0f} ms -> {sdk_import / ours:.0f}x faster"
    print(line)


class _FirstLine:
    """A stdout stand-in that notes when a line holding ``first line`` is printed."""

    def __init__(self) -> None:
        self.first = 0.0

    def write(self, text: str) -> int:
        if not self.first and "first line" in text:
            self.first = time.perf_counter()
        return len(text)

    def flush(self) -> None:
        """Nothing to flush."""


def bench_prompt_and_first_line() -> None:
    import contextlib

    from IPython.core.interactiveshell import InteractiveShell

    import sm_magics.magics
    from sm_magics.logs import LogFollower

    # As in a notebook: the widget follows the job, nothing streams into the terminal.
    sm_magics.magics.widgets_available = lambda: True  # type: ignore[attr-defined]
    shell = InteractiveShell.instance()
    shell.run_line_magic("load_ext", "sm_magics")
    script = "import time\nprint('first line', flush=True)\nfor _ in range(10): time.sleep(0.1)\n"
    shell.run_cell_magic("sm_train", "warm-up --wait", "pass")  # ledger and caches exist
    prompt, popen, widget, waited, bare = [], [], [], [], []
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "train.py"
        path.write_text(script)
        for attempt in range(5):
            bare.append(_median_seconds([sys.executable, "-c", "pass"], repeats=1))
            start = time.perf_counter()
            child = subprocess.Popen([sys.executable, str(path)], stdout=subprocess.DEVNULL)
            popen.append(time.perf_counter() - start)
            child.wait()
            start = time.perf_counter()
            job = shell.run_cell_magic("sm_train", f"prompt-{attempt}", script)
            prompt.append(time.perf_counter() - start)
            seen: list[float] = []

            def on_events(events: list[Any], seen: list[float] = seen) -> None:
                if not seen and any(e.message == "first line" for e in events):
                    seen.append(time.perf_counter())

            # The widget's own follower, with the widget's pacing (no faster interval).
            follower = LogFollower(job, on_events, lambda _d: None)
            follower.start()
            follower.join()
            widget.append(seen[0] - start)
            bare.append(_median_seconds([sys.executable, "-c", "pass"], repeats=1))
            out = _FirstLine()
            start = time.perf_counter()
            with contextlib.redirect_stdout(out):  # type: ignore[type-var]
                shell.run_cell_magic("sm_train", f"wait-{attempt} --wait", script)
            waited.append(out.first - start)
    p, o = statistics.median(prompt), statistics.median(popen)
    b, w, v = statistics.median(bare), statistics.median(widget), statistics.median(waited)
    print(
        f"2. %%sm_train back at the prompt in {p * 1000:.1f} ms vs subprocess.Popen of the same "
        f"script {o * 1000:.1f} ms -> {p / o:.1f}x"
    )
    print(
        f"3. first user line: widget follower {w * 1000:.0f} ms, --wait {v * 1000:.0f} ms vs a "
        f"bare Python start {b * 1000:.0f} ms (measured between attempts) -> {w / b:.2f}x / "
        f"{v / b:.2f}x (budget 3x)"
    )


SCRIPT = """
import time
for i in range(40):
    print(f"line {i} {time.time():.6f}", flush=True)
    time.sleep(0.25)
"""


def _latencies(job: Any, **intervals: float) -> list[float]:
    from sm_magics.logs import LogFollower

    latencies: list[float] = []

    def on_events(events: list[Any]) -> None:
        now = time.time()
        for event in events:
            parts = event.message.split()
            if len(parts) == 3 and parts[0] == "line":
                latencies.append(now - float(parts[2]))

    follower = LogFollower(job, on_events, lambda _d: None, **intervals)
    follower.start()
    follower.join()
    return latencies


def bench_log_latency() -> None:
    import threading

    from sm_magics.api import Session

    job = Session("local").train(SCRIPT)
    results: dict[str, list[float]] = {}
    threads = [
        threading.Thread(target=lambda: results.__setitem__("ours", _latencies(job))),
        threading.Thread(
            target=lambda: results.__setitem__(
                "fixed", _latencies(job, min_interval=5.0, max_interval=5.0, status_interval=5.0)
            )
        ),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ours, fixed = sorted(results["ours"]), sorted(results["fixed"])

    def pct(values: list[float], q: float) -> float:
        return values[min(len(values) - 1, int(q * len(values)))] * 1000

    print(
        f"4. log latency: adaptive follower p50 {pct(ours, 0.5):.0f} ms, p95 {pct(ours, 0.95):.0f}"
        f" ms (budget 500 ms); fixed 5 s poll p50 {pct(fixed, 0.5):.0f} ms, p95 "
        f"{pct(fixed, 0.95):.0f} ms -> p95 {pct(fixed, 0.95) / pct(ours, 0.95):.1f}x lower"
    )


def bench_completeness(lines: int = 100_000) -> None:
    from sm_magics.api import Session
    from sm_magics.logs import LogFollower

    job = Session("local").train(f"for i in range({lines}): print(f'n={{i}}')\n")
    received: list[int] = []

    def on_events(events: list[Any]) -> None:
        received.extend(int(e.message[2:]) for e in events if e.message.startswith("n="))

    start = time.perf_counter()
    follower = LogFollower(job, on_events, lambda _d: None)
    follower.start()
    follower.join()
    elapsed = time.perf_counter() - start
    lost = lines - len(set(received))
    print(
        f"5. {len(received)} of {lines} lines delivered, {lost} lost, "
        f"{len(received) - len(set(received))} duplicated, in order: "
        f"{received == sorted(received)} ({elapsed:.1f} s)"
    )


def main() -> None:
    os.environ.setdefault("SM_MAGICS_HOME", tempfile.mkdtemp(prefix="sm-bench-"))
    if "--first-line" in sys.argv:  # figures 2 and 3 only (no SDK virtualenv needed)
        bench_prompt_and_first_line()
        return
    bench_import()
    bench_prompt_and_first_line()
    bench_log_latency()
    bench_completeness()


if __name__ == "__main__":
    main()
